using Grpc.Core;
using Updraft.ExternalScaler.Telemetry;

namespace Updraft.ExternalScaler.Nats.Polling;

/// <summary>The outcome of one poll: a value, or why there is none (never a made-up 0).</summary>
internal sealed record PollResult<T>(T? Value, StatusCode Error, string? Problem)
    where T : class
{
    public bool Succeeded => Problem is null;

    public static PollResult<T> Ok(T value) => new(value, StatusCode.OK, null);

    public static PollResult<T> Fail(StatusCode code, string problem) => new(null, code, problem);
}

/// <summary>A poller's life, independent of what it reads: last use and stopping.</summary>
internal abstract class Poller : IAsyncDisposable
{
    private long _lastUsed = Environment.TickCount64;

    /// <summary>When an RPC last asked for this poller (<see cref="Environment.TickCount64"/>).</summary>
    public long LastUsed => Volatile.Read(ref _lastUsed);

    public abstract ValueTask DisposeAsync();

    protected void Touch() => Volatile.Write(ref _lastUsed, Environment.TickCount64);
}

/// <summary>
/// Reads one thing (a consumer, a channel) every poll interval in the background and keeps the latest outcome in
/// memory, for RPCs to read without waiting. <see cref="Changed"/> completes after every poll.
/// </summary>
internal sealed class Poller<T> : Poller
    where T : class
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private PollResult<T> _current;
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <param name="description">What is polled, for the message shown before the first poll ends.</param>
    /// <param name="poll">One poll; exceptions are caught and reported as <c>Unavailable</c>.</param>
    /// <param name="interval">Time between the end of one poll and the start of the next.</param>
    public Poller(string description, Func<CancellationToken, Task<PollResult<T>>> poll, TimeSpan interval, TimeProvider time)
    {
        _current = PollResult<T>.Fail(StatusCode.Unavailable, $"{description}: the first poll has not finished yet");
        _loop = Task.Run(() => RunAsync(description, poll, interval, time, _stop.Token));
    }

    /// <summary>The outcome of the latest poll.</summary>
    public PollResult<T> Current
    {
        get
        {
            Touch();
            return Volatile.Read(ref _current);
        }
    }

    /// <summary>Completes when the next poll ends.</summary>
    public Task Changed
    {
        get
        {
            Touch();
            return Volatile.Read(ref _changed).Task;
        }
    }

    public override async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
    }

    private async Task RunAsync(string description, Func<CancellationToken, Task<PollResult<T>>> poll, TimeSpan interval, TimeProvider time, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            PollResult<T> result;
            using (var span = ScalerTracing.StartPoll("nats poll", "nats", description))
            {
                try
                {
                    result = await poll(cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
#pragma warning disable CA1031 // A poll's failure of any kind is an outcome to report, not a reason to stop polling.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    result = PollResult<T>.Fail(StatusCode.Unavailable, e.Message);
                }

                if (!result.Succeeded)
                {
                    ScalerTracing.FailPoll(span, result.Problem);
                }
            }

            Volatile.Write(ref _current, result);
            var changed = Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            changed.TrySetResult();
            await Task.Delay(interval, time, cancellationToken);
        }
    }
}
