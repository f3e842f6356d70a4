using System.Diagnostics;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Telemetry;
using Updraft.Shared.Hosting;

namespace Updraft.Interceptor.Hosting;

/// <summary>
/// Hands the memory the GC holds unused back to the OS once the interceptor has gone quiet. The GC collects its first
/// generation only when that generation's budget is spent (64 MiB with the chart's <c>DOTNET_GCgen0size</c>), and even
/// then keeps the budget committed; a busy proxy wants exactly that, but an idle one would slowly write its way through
/// the whole budget with timers, probes and scrapes and keep it resident for good. So every interval this looks at how
/// much was allocated: a quiet interval with enough to give back ends in <see cref="UnusedMemory.Release"/>.
/// </summary>
internal sealed class IdleMemoryRelease : BackgroundService
{
    public static readonly TimeSpan ShortestInterval = TimeSpan.FromSeconds(1);

    /// <summary>Far below what a timer can wait (about 49 days).</summary>
    public static readonly TimeSpan LongestInterval = TimeSpan.FromHours(24);

    /// <summary>An interval that allocated less than this per second is quiet: roughly 80 proxied requests a second (about
    /// 800 bytes each, process-wide), and far above what probes, scrapes and timers allocate.</summary>
    internal const long QuietBytesPerSecond = 64 * 1024;

    /// <summary>
    /// Less than this is not worth a full collection; nor is less than half the heap, since the collection's pause grows
    /// with the heap (tens of milliseconds with 10,000 routes), and a quiet interceptor may still be serving.
    /// </summary>
    internal const long WorthReleasingBytes = 4 * 1024 * 1024;

    private readonly TimeSpan _interval;
    private readonly TimeProvider _time;
    private readonly ILogger<IdleMemoryRelease> _logger;
    private readonly Func<GcReading> _read;
    private readonly Action _release;
    private PeriodicTimer? _timer;
    private GcReading _startReading;
    private int _ticks;
    private int _releases;

    public IdleMemoryRelease(IOptions<InterceptorOptions> options, TimeProvider time, ILogger<IdleMemoryRelease> logger)
        : this(options.Value.IdleMemoryReleaseInterval, time, logger, GcReading.Now, UnusedMemory.Release)
    {
    }

    /// <param name="read">The GC's state now (tests give their own).</param>
    /// <param name="release">Hands unused memory back (tests count the calls).</param>
    internal IdleMemoryRelease(TimeSpan interval, TimeProvider time, ILogger<IdleMemoryRelease> logger, Func<GcReading> read, Action release)
    {
        _interval = interval;
        _time = time;
        _logger = logger;
        _read = read;
        _release = release;
    }

    /// <summary>How many intervals have been looked at.</summary>
    internal int Ticks => Volatile.Read(ref _ticks);

    /// <summary>How many times memory was handed back.</summary>
    internal int Releases => Volatile.Read(ref _releases);

    /// <summary>
    /// Whether to release now: the interval just ended was quiet, and the GC holds enough unused, either committed at its
    /// last collection or written since the last release.
    /// </summary>
    internal static bool ShouldRelease(GcReading previousTick, GcReading lastRelease, GcReading now, TimeSpan interval)
    {
        var quiet = now.AllocatedBytes - previousTick.AllocatedBytes <= QuietBytesPerSecond * interval.TotalSeconds;
        var unused = Math.Max(now.UnusedBytes, now.AllocatedBytes - lastRelease.AllocatedBytes);
        return quiet && unused >= Math.Max(WorthReleasingBytes, now.HeapBytes / 2);
    }

    /// <summary>Takes the first reading and starts the clock before the loop runs (which is on a thread of its own).</summary>
    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (_interval > TimeSpan.Zero)
        {
            _timer = new PeriodicTimer(_interval, _time);
            _startReading = _read();
        }

        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_timer is null)
        {
            return;
        }

        var previousTick = _startReading;
        var lastRelease = previousTick;
        try
        {
            while (await _timer.WaitForNextTickAsync(stoppingToken))
            {
                var now = _read();
                Log.IdleMemoryLooked(_logger, _interval, now.AllocatedBytes - previousTick.AllocatedBytes, now.AllocatedBytes - lastRelease.AllocatedBytes, now.UnusedBytes);
                if (ShouldRelease(previousTick, lastRelease, now, _interval))
                {
                    var before = Environment.WorkingSet;
                    var started = Stopwatch.GetTimestamp();
                    _release();
                    var took = Stopwatch.GetElapsedTime(started);
                    Interlocked.Increment(ref _releases);
                    now = _read();
                    lastRelease = now;
                    Log.IdleMemoryReleased(_logger, _interval, before, Environment.WorkingSet, took.TotalMilliseconds);
                }

                previousTick = now;
                Interlocked.Increment(ref _ticks);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    public override void Dispose()
    {
        _timer?.Dispose();
        base.Dispose();
    }
}

/// <summary>
/// What the GC has allocated in all; and at its last collection, the heap's size and what it held committed beyond it.
/// </summary>
internal readonly record struct GcReading(long AllocatedBytes, long UnusedBytes, long HeapBytes = 0)
{
    public static GcReading Now()
    {
        var last = GC.GetGCMemoryInfo();
        return new GcReading(GC.GetTotalAllocatedBytes(precise: false), Math.Max(0, last.TotalCommittedBytes - last.HeapSizeBytes), last.HeapSizeBytes);
    }
}
