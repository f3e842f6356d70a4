namespace Updraft.Interceptor.Counting;

/// <summary>
/// A route's recent request rate, for the status page: the <see cref="RouteCounter.RequestCount"/> difference between
/// two looks at least <see cref="MinimumWindow"/> apart. Only a reader of the status touches it (never the request
/// path); one immutable sample is swapped per window, so concurrent readers need no lock.
/// </summary>
internal sealed class RequestRate
{
    public static readonly TimeSpan MinimumWindow = TimeSpan.FromSeconds(1);

    private Sample? _last;

    /// <summary>Requests per second over the last window, or null on the first look (nothing to compare yet).</summary>
    /// <param name="count">The route's request count now.</param>
    /// <param name="now">Now (<see cref="TimeProvider.GetTimestamp"/>).</param>
    /// <param name="time">The clock <paramref name="now"/> came from.</param>
    public double? Observe(long count, long now, TimeProvider time)
    {
        while (true)
        {
            var last = Volatile.Read(ref _last);
            if (last is not null && time.GetElapsedTime(last.At, now) < MinimumWindow)
            {
                return last.PerSecond;
            }

            double? perSecond = last is null ? null : Math.Max(0, count - last.Count) / time.GetElapsedTime(last.At, now).TotalSeconds;
            var next = new Sample(count, now, perSecond);
            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return perSecond;
            }
        }
    }

    private sealed record Sample(long Count, long At, double? PerSecond);
}
