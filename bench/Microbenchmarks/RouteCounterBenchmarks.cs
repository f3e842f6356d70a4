using BenchmarkDotNet.Attributes;
using Updraft.Interceptor.Counting;

namespace Updraft.Microbenchmarks;

/// <summary>
/// One request's counting: <see cref="RouteCounter.Begin"/> then <see cref="RouteCounter.End"/>, with a count stream
/// subscribed to the activity signal as when a scaler is connected.
/// </summary>
[MemoryDiagnoser]
public class RouteCounterBenchmarks : IDisposable
{
    private readonly ActivitySignal _activity = new();
    private readonly RouteCounter _idle;
    private readonly RouteCounter _busy;
    private readonly ActivitySignal.Subscription _subscription;

    public RouteCounterBenchmarks()
    {
        _idle = new RouteCounter(_activity);
        _busy = new RouteCounter(_activity);
        _subscription = _activity.Subscribe();

        // One request stays in flight, so Begin never sees the idle-to-busy edge.
        _busy.Begin();
    }

    /// <summary>Every request finds the route idle: Begin raises the activity signal (a dropped channel write).</summary>
    [Benchmark(Baseline = true)]
    public void BeginEnd_FromIdle()
    {
        _idle.Begin();
        _idle.End();
    }

    /// <summary>Other requests are in flight: two interlocked increments and a decrement.</summary>
    [Benchmark]
    public void BeginEnd_AlreadyBusy()
    {
        _busy.Begin();
        _busy.End();
    }

    public void Dispose()
    {
        _subscription.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>
/// <see cref="Threads"/> threads share one hot route's counter and together make a fixed number of Begin/End
/// pairs; the time is per pair. With more threads than cores (2 on the reference machine) they also time-slice.
/// </summary>
[MemoryDiagnoser]
public class RouteCounterContentionBenchmarks : IDisposable
{
    private const int Pairs = 1 << 20;

    private readonly ActivitySignal _activity = new();
    private readonly RouteCounter _counter;
    private readonly ActivitySignal.Subscription _subscription;

    public RouteCounterContentionBenchmarks()
    {
        _counter = new RouteCounter(_activity);
        _subscription = _activity.Subscribe();
    }

    [Params(1, 2, 4)]
    public int Threads { get; set; }

    [Benchmark(OperationsPerInvoke = Pairs)]
    public long BeginEnd()
    {
        using var start = new ManualResetEventSlim();
        var counter = _counter;
        var perThread = Pairs / Threads;
        var threads = new Thread[Threads];
        for (var t = 0; t < threads.Length; t++)
        {
            threads[t] = new Thread(() =>
            {
                start.Wait();
                for (var i = 0; i < perThread; i++)
                {
                    counter.Begin();
                    counter.End();
                }
            });
            threads[t].Start();
        }

        start.Set();
        foreach (var thread in threads)
        {
            thread.Join();
        }

        return counter.RequestCount;
    }

    public void Dispose()
    {
        _subscription.Dispose();
        GC.SuppressFinalize(this);
    }
}
