using System.Globalization;
using Updraft.Shared.Routes;

namespace Updraft.ExternalScaler.Http;

/// <summary>
/// The request-count deltas of one route over a sliding <see cref="Window"/>, kept in a ring of buckets that are
/// <see cref="Granularity"/> wide (a route's <c>scalingMetric.requestRate.window</c>/<c>granularity</c>; the add-on
/// defaults are 1m/1s). <see cref="Average"/> is the route's <c>http_&lt;route&gt;_rate</c> metric value.
/// </summary>
/// <remarks>
/// <para>
/// Same maths as the add-on's bucketing, with its defects fixed: a bucket is the timestamp in ticks divided by the
/// granularity in ticks, so sub-second and fractional granularities (<c>500ms</c>, <c>1500ms</c>) work (the add-on
/// divides whole seconds, which panics below 1s and misaligns on 1.5s); the average is not rounded (the add-on's
/// 3 decimals turn a lone request in a 1h/1s window into 0, so the route never wakes up); and
/// <see cref="Resize"/> keeps history when a route's settings change (the add-on starts over).
/// </para>
/// <para>
/// Allocation-free after construction except <see cref="Resize"/>. Not thread-safe: the caller serialises every
/// call (one aggregator loop owns each instance and publishes the averages it reads).
/// </para>
/// </remarks>
internal sealed class RequestRateWindow
{
    /// <summary>The largest number of buckets a window may have (a day of 1s buckets, about 675 KB).</summary>
    public const int MaxBuckets = RequestRateRules.MaxBuckets;

    private long[] _buckets;
    private long _granularityTicks;

    /// <summary>Sum of every bucket in the ring, including buckets that aged out since the last write.</summary>
    private long _total;

    /// <summary>Bucket number (timestamp ticks / granularity ticks) of the first write since the last reset.</summary>
    private long _firstBucket;

    /// <summary>Bucket number of the newest write; every bucket after it is stale (zeroed on the next write).</summary>
    private long _lastBucket;

    private bool _hasData;

    /// <exception cref="ArgumentException">See <see cref="Validate"/>; names the offending parameter.</exception>
    public RequestRateWindow(TimeSpan window, TimeSpan granularity)
    {
        var count = CheckedBucketCount(window, granularity);
        _buckets = new long[count];
        _granularityTicks = granularity.Ticks;
        Window = window;
        Granularity = granularity;
    }

    public TimeSpan Window { get; private set; }

    public TimeSpan Granularity { get; private set; }

    /// <summary><c>ceil(window / granularity)</c>, as in the add-on (a 10s window of 3s buckets has 4).</summary>
    public int BucketCount => _buckets.Length;

    /// <summary>
    /// Why <paramref name="window"/> and <paramref name="granularity"/> cannot make a window, in words a user can act
    /// on, or <see langword="null"/> when they can.
    /// </summary>
    public static string? Validate(TimeSpan window, TimeSpan granularity) => Problem(window, granularity).Message;

    /// <summary>
    /// Adds <paramref name="delta"/> requests to the bucket of <paramref name="now"/>. Buckets skipped since the last
    /// write are zeroed; if a whole window passed since then, the window starts over (partial again). A write older
    /// than a window before the newest write is ignored; an older write within the window lands in its own bucket.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="delta"/> is negative.</exception>
    public void Record(DateTimeOffset now, long delta)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(delta);
        var bucket = BucketOf(now);
        var count = _buckets.Length;
        if (!_hasData || bucket - _lastBucket >= count)
        {
            // First write, or nothing for a whole window: every bucket is stale.
            Array.Clear(_buckets);
            _total = 0;
            _firstBucket = bucket;
            _lastBucket = bucket;
            _hasData = true;
        }
        else if (bucket > _lastBucket)
        {
            // Fewer than `count` buckets skipped: their slots still hold data from a window ago.
            for (var skipped = _lastBucket + 1; skipped <= bucket; skipped++)
            {
                ref var slot = ref _buckets[skipped % count];
                _total -= slot;
                slot = 0;
            }

            _lastBucket = bucket;
        }
        else if (bucket <= _lastBucket - count)
        {
            return;
        }
        else if (bucket < _firstBucket)
        {
            // A late write from before the first one (its slot is clean: it maps to a bucket after the newest).
            _firstBucket = bucket;
        }

        _buckets[bucket % count] += delta;
        _total += delta;
    }

    /// <summary>
    /// Requests per <see cref="Granularity"/> (not per second: with a 2s granularity a steady 10 requests/s reads 20,
    /// exactly like the add-on) over the window ending at <paramref name="now"/>: the requests of the buckets still
    /// in the window divided by the number of buckets observed, i.e. from the first write to <paramref name="now"/>,
    /// at most <see cref="BucketCount"/> (so right after the first write the average is over a partial window).
    /// Zero when nothing was written in the last window. Full precision: a lone request in a 1h/1s window reads
    /// 1/3600, not 0. A <paramref name="now"/> before the newest write reads as the newest write's bucket.
    /// </summary>
    public double Average(DateTimeOffset now)
    {
        if (!_hasData)
        {
            return 0;
        }

        var count = _buckets.Length;
        var bucket = Math.Max(BucketOf(now), _lastBucket);
        if (bucket - _lastBucket >= count)
        {
            return 0;
        }

        // Slots after the newest write hold buckets from a window ago, which aged out by now.
        var sum = _total;
        for (var aged = _lastBucket + 1; aged <= bucket; aged++)
        {
            sum -= _buckets[aged % count];
        }

        var observed = Math.Min(bucket - _firstBucket + 1, count);
        return (double)sum / observed;
    }

    /// <summary>
    /// Changes the window and granularity, keeping the history that still fits. Each old bucket's requests move to
    /// the new bucket holding the old bucket's start, so totals are kept exactly, and their spread is only as fine as
    /// the coarser of the two granularities. Allocates the new ring; a no-op when nothing changes.
    /// </summary>
    /// <exception cref="ArgumentException">See <see cref="Validate"/>; names the offending parameter.</exception>
    public void Resize(TimeSpan window, TimeSpan granularity)
    {
        var newCount = CheckedBucketCount(window, granularity);
        if (window == Window && granularity == Granularity)
        {
            return;
        }

        var oldBuckets = _buckets;
        var oldCount = oldBuckets.Length;
        var oldTicks = _granularityTicks;
        var newTicks = granularity.Ticks;
        var buckets = new long[newCount];
        long total = 0;
        if (_hasData)
        {
            // Bucket numbers times their granularity are timestamps in ticks, far from overflowing a long. The newest
            // bucket becomes the new bucket holding the end of the old one, so a finer granularity still counts the
            // whole old bucket as observed; the first becomes the oldest old bucket still in the window, so a longer
            // window averages over the history it really has (a partial window) instead of diluting it.
            var newLast = (((_lastBucket + 1) * oldTicks) - 1) / newTicks;
            var oldest = Math.Max(_firstBucket, _lastBucket - oldCount + 1);
            for (var old = oldest; old <= _lastBucket; old++)
            {
                var value = oldBuckets[old % oldCount];
                var moved = old * oldTicks / newTicks;
                if (value != 0 && moved > newLast - newCount)
                {
                    buckets[moved % newCount] += value;
                    total += value;
                }
            }

            _firstBucket = oldest * oldTicks / newTicks;
            _lastBucket = newLast;
        }

        _buckets = buckets;
        _total = total;
        _granularityTicks = newTicks;
        Window = window;
        Granularity = granularity;
    }

    private long BucketOf(DateTimeOffset time) => time.UtcTicks / _granularityTicks;

    private static int CheckedBucketCount(TimeSpan window, TimeSpan granularity)
    {
        var (message, parameter, count) = Problem(window, granularity);
        return message is null ? count : throw new ArgumentException(message, parameter);
    }

    private static (string? Message, string? Parameter, int Count) Problem(TimeSpan window, TimeSpan granularity) =>
        RequestRateRules.Check(window, granularity);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
