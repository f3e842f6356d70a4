namespace Updraft.Interceptor.ColdStart;

/// <summary>
/// How many requests of one route are held waiting for readiness. Carried over when the routing table is rebuilt,
/// like the route's counter, so a reload never lets more than the limit in. The bound is exact under concurrency:
/// a slot is taken with a compare-and-swap that never lets the count pass the limit.
/// </summary>
internal sealed class HoldQueue
{
    private int _pending;

    public int Pending => Volatile.Read(ref _pending);

    /// <summary>The route's last cold start (carried over with the queue).</summary>
    public ColdStartHistory ColdStarts { get; } = new();

    /// <summary>Takes a slot unless <paramref name="limit"/> are already taken (0: unlimited). Pair with <see cref="Exit"/>.</summary>
    public bool TryEnter(int limit)
    {
        if (limit <= 0)
        {
            Interlocked.Increment(ref _pending);
            return true;
        }

        var current = Volatile.Read(ref _pending);
        while (current < limit)
        {
            var seen = Interlocked.CompareExchange(ref _pending, current + 1, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }

        return false;
    }

    public void Exit() => Interlocked.Decrement(ref _pending);
}
