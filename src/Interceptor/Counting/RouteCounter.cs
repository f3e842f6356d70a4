namespace Updraft.Interceptor.Counting;

/// <summary>
/// In-flight and total requests of one route. One instance per route key lives as long as the route exists
/// (it is carried over when the routing table is rebuilt), so <see cref="RequestCount"/> is monotonic per process.
/// Lock-free and allocation-free: two <see cref="Interlocked"/> operations per request.
/// </summary>
/// <param name="activity">Raised when the route goes from idle to busy (its first in-flight request).</param>
internal sealed class RouteCounter(ActivitySignal? activity = null)
{
    private int _concurrency;
    private long _requestCount;

    public int Concurrency => Volatile.Read(ref _concurrency);

    public long RequestCount => Interlocked.Read(ref _requestCount);

    /// <summary>The recent rate, sampled by the status page only (the request path never touches it).</summary>
    public RequestRate Rate { get; } = new();

    /// <summary>Counts a request that entered the route. Every call must be paired with one <see cref="End"/>.</summary>
    public void Begin()
    {
        Interlocked.Increment(ref _requestCount);
        if (Interlocked.Increment(ref _concurrency) == 1)
        {
            activity?.Raise();
        }
    }

    public void End() => Interlocked.Decrement(ref _concurrency);
}
