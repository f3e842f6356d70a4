namespace Updraft.ExternalScaler.Kafka;

/// <summary>One poll's offsets of a partition, for rates.</summary>
/// <param name="At">When it was polled (time since the poller started).</param>
/// <param name="LogEnd">The read-committed end of the log.</param>
/// <param name="Committed">The group's committed offset, or <see cref="KafkaLag.NoCommit"/>.</param>
internal readonly record struct RateSample(TimeSpan At, long LogEnd, long Committed);

/// <summary>The rates of a trigger's partitions and the rate-aware metric.</summary>
/// <param name="Arrival">Messages per second appended to the partitions.</param>
/// <param name="Consume">Messages per second the group's commits moved over.</param>
/// <param name="Lag">The summed lag the metric drains (persistent lag excluded, never capped).</param>
/// <param name="Needed">Messages per second the consumers need: arrival plus the backlog over <c>drainWithin</c>, rounded up.</param>
/// <param name="Value">The metric: <paramref name="Needed"/>, capped like the lag metric so the HPA never asks for more replicas than partitions.</param>
internal readonly record struct RateResult(double Arrival, double Consume, long Lag, double Needed, double Value);

/// <summary>
/// Rate-aware scaling (<c>consumerRate</c>): from time-stamped samples of each partition's end of log and committed
/// offset, the arrival and consume rates over <c>rateWindow</c>, and the rate a trigger's consumers need,
/// <c>arrival + lag / drainWithin</c>. The HPA divides it by the target, <c>consumerRate</c>, to get replicas.
/// </summary>
internal static class KafkaRates
{
    /// <summary>A partition's history holds about this many samples at most; polls closer together are thinned out.</summary>
    public const int MaxSamples = 256;

    // Floating-point noise (7 messages over 0.7 s) must not round up to one more message per second.
    private const double RoundingSlack = 1e-9;

    /// <summary>
    /// The arrival and consume rates of one partition over the <paramref name="window"/> that ends at its last sample.
    /// Each rate is measured from the oldest sample in the window after which its offset never went backwards (a reset
    /// commit or a recreated topic restarts the series), and a series that starts without a commit begins at the first
    /// commit. Fewer than two samples: 0.
    /// </summary>
    public static (double Arrival, double Consume) ForPartition(ReadOnlySpan<RateSample> samples, TimeSpan window)
    {
        if (samples.Length < 2)
        {
            return (0, 0);
        }

        var last = samples[^1];
        var from = last.At - window;

        var a = samples.Length - 1;
        while (a > 0 && samples[a - 1].At >= from && samples[a - 1].LogEnd <= samples[a].LogEnd)
        {
            a--;
        }

        var c = samples.Length - 1;
        while (c > 0 && samples[c - 1].At >= from && samples[c].Committed >= 0 && samples[c - 1].Committed >= 0 && samples[c - 1].Committed <= samples[c].Committed)
        {
            c--;
        }

        return (Rate(samples[a].LogEnd, last.LogEnd, samples[a].At, last.At), Rate(samples[c].Committed, last.Committed, samples[c].At, last.At));

        static double Rate(long from, long to, TimeSpan start, TimeSpan end) =>
            end > start ? Math.Max(0, to - from) / (end - start).TotalSeconds : 0;
    }

    /// <summary>
    /// The trigger's rates and metric over its partitions. A partition whose lag is persistent (excluded by
    /// <c>excludePersistentLag</c>) counts neither its lag nor its arrivals: more replicas would not move its consumer.
    /// </summary>
    public static RateResult Total(KafkaTrigger trigger, IReadOnlyList<PartitionOffsets> partitions)
    {
        double arrival = 0, consume = 0;
        long lag = 0;
        var busy = 0;
        foreach (var offsets in partitions)
        {
            var (partitionLag, persistent) = KafkaLag.ForPartition(trigger, offsets);
            if (persistent)
            {
                continue;
            }

            var (partitionArrival, partitionConsume) = ForPartition(offsets.History, trigger.RateWindow);
            arrival += partitionArrival;
            consume += partitionConsume;
            lag += partitionLag;
            if (partitionLag > 0 || partitionArrival > 0)
            {
                busy++;
            }
        }

        var needed = Needed(arrival, lag, trigger.DrainWithin);
        return new RateResult(arrival, consume, lag, needed, Capped(trigger, needed, partitions.Count, busy));
    }

    /// <summary>Messages per second that take the arrivals and drain <paramref name="lag"/> within <paramref name="drainWithin"/>, rounded up.</summary>
    public static double Needed(double arrival, long lag, TimeSpan drainWithin) =>
        Math.Max(0, Math.Ceiling(arrival + (lag / drainWithin.TotalSeconds) - RoundingSlack));

    /// <summary>
    /// The lag metric's partition cap in replicas of <c>consumerRate</c>: at most one replica per partition (per busy
    /// partition, with lag or arrivals, under <c>limitToPartitionsWithLag</c>), rounded up to a factor of the partition
    /// count under <c>ensureEvenDistributionOfPartitions</c>, unbounded with <c>allowIdleConsumers</c> alone.
    /// </summary>
    public static double Capped(KafkaTrigger trigger, double needed, int partitions, int busyPartitions)
    {
        if (trigger.AllowIdleConsumers && !trigger.LimitToPartitionsWithLag && !trigger.EnsureEvenDistributionOfPartitions)
        {
            return needed;
        }

        var perReplica = trigger.ConsumerRate ?? KafkaTrigger.FallbackConsumerRate;

        // What the HPA computes: ceil(value / target).
        var replicas = (long)Math.Ceiling(needed / perReplica);
        if (trigger.EnsureEvenDistributionOfPartitions && replicas > 0)
        {
            var factor = KafkaLag.NextFactor(partitions, replicas, 1);
            needed = factor * perReplica;
            replicas = factor;
        }

        long upperBound = trigger.LimitToPartitionsWithLag ? busyPartitions : partitions;
        return replicas > upperBound ? upperBound * perReplica : needed;
    }

    /// <summary>
    /// A partition's history with <paramref name="sample"/> appended and samples older than <paramref name="keep"/>
    /// dropped. When polls come closer together than <c>keep / MaxSamples</c>, the newest sample replaces the previous
    /// one, unless an offset went backwards around it (the restart of a series is never thinned away).
    /// </summary>
    public static RateSample[] Append(RateSample[]? history, RateSample sample, TimeSpan keep)
    {
        history ??= [];
        var from = sample.At - keep;
        var first = 0;
        while (first < history.Length && history[first].At < from)
        {
            first++;
        }

        var count = history.Length - first;
        var replace = count >= 2
            && sample.At - history[^2].At < keep / MaxSamples
            && !WentBack(history[^2], history[^1])
            && !WentBack(history[^1], sample);
        var kept = replace ? count - 1 : count;
        var result = new RateSample[kept + 1];
        Array.Copy(history, first, result, 0, kept);
        result[kept] = sample;
        return result;

        static bool WentBack(RateSample before, RateSample after) =>
            after.LogEnd < before.LogEnd || after.Committed < before.Committed || (before.Committed < 0 && after.Committed >= 0);
    }
}
