namespace Updraft.ExternalScaler.Kafka;

/// <summary>One partition as the last poll saw it.</summary>
/// <param name="Partition">The partition id.</param>
/// <param name="Committed">The group's committed offset, or <see cref="KafkaLag.NoCommit"/>.</param>
/// <param name="LogStart">The first offset still in the log (retention moves it forward).</param>
/// <param name="Latest">The read-committed end of the log (the last stable offset).</param>
/// <param name="CommittedUnchangedFor">How long the committed offset has stayed at its value, as far as the poller saw.</param>
/// <param name="History">Recent polls of the partition, oldest first (null unless a trigger asked for rates).</param>
internal readonly record struct PartitionOffsets(int Partition, long Committed, long LogStart, long Latest, TimeSpan CommittedUnchangedFor, RateSample[]? History = null);

/// <summary>The lag of a trigger's partitions.</summary>
/// <param name="Lag">The scaling metric: summed lag without persistent lag, capped by the partition count.</param>
/// <param name="LagWithPersistent">Summed lag including persistent lag, never capped: what activity is judged on.</param>
/// <param name="HottestPartitionLag">The largest lag of a single partition (without persistent lag).</param>
/// <param name="Partitions">How many partitions were counted.</param>
/// <param name="PartitionsWithLag">How many of them have lag.</param>
internal readonly record struct LagResult(long Lag, long LagWithPersistent, long HottestPartitionLag, int Partitions, int PartitionsWithLag);

/// <summary>
/// KEDA's <c>kafka</c> lag algorithm (<c>getTotalLag</c>/<c>getLagForPartition</c>), with three of its defects fixed:
/// a committed offset behind the log start counts only retained messages, a partition without a commit under
/// <c>earliest</c> counts only retained messages too, and the partition cap rounds up (KEDA's integer division lets
/// up to <c>lagThreshold − 1</c> leak past it, one replica more than there are partitions).
/// </summary>
internal static class KafkaLag
{
    /// <summary>The committed offset of a partition the group never committed (Kafka's <c>-1</c>).</summary>
    public const long NoCommit = -1;

    /// <summary>The lag of one partition and whether it is persistent (excluded from the scaling metric).</summary>
    public static (long Lag, bool Persistent) ForPartition(KafkaTrigger trigger, PartitionOffsets offsets)
    {
        var retained = Math.Max(0, offsets.Latest - offsets.LogStart);
        if (offsets.Committed < 0)
        {
            // No commit yet: the consumer starts at the log's end (latest) or start (earliest). Under latest KEDA reports
            // 1, so the workload wakes and its consumer commits a position.
            if (trigger.ScaleToZeroOnInvalidOffset)
            {
                return (0, false);
            }

            return (trigger.OffsetResetPolicy == OffsetResetPolicy.Latest ? 1 : retained, false);
        }

        // A commit behind the log start (retention deleted the messages): the consumer resumes at the log start.
        var position = Math.Max(offsets.Committed, offsets.LogStart);
        var lag = Math.Max(0, offsets.Latest - position);
        var persistent = trigger.ExcludePersistentLag && lag > 0 && offsets.CommittedUnchangedFor >= trigger.PersistentLagWindow;
        return (lag, persistent);
    }

    public static LagResult Total(KafkaTrigger trigger, IReadOnlyList<PartitionOffsets> partitions)
    {
        long lag = 0, withPersistent = 0, hottest = 0;
        var withLag = 0;
        foreach (var offsets in partitions)
        {
            var (partitionLag, persistent) = ForPartition(trigger, offsets);
            withPersistent += partitionLag;
            if (!persistent)
            {
                lag += partitionLag;
                hottest = Math.Max(hottest, partitionLag);
                if (partitionLag > 0)
                {
                    withLag++;
                }
            }
        }

        return new LagResult(Capped(trigger, lag, partitions.Count, withLag), withPersistent, hottest, partitions.Count, withLag);
    }

    /// <summary>
    /// The partition cap: a partition has at most one consumer in a group, so (unless idle consumers are allowed) the
    /// metric never asks the HPA for more replicas than there are partitions (or lagging partitions).
    /// </summary>
    public static long Capped(KafkaTrigger trigger, long lag, int partitions, int partitionsWithLag)
    {
        if (trigger.AllowIdleConsumers && !trigger.LimitToPartitionsWithLag && !trigger.EnsureEvenDistributionOfPartitions)
        {
            return lag;
        }

        var threshold = trigger.LagThreshold;
        if (trigger.EnsureEvenDistributionOfPartitions && lag > 0)
        {
            lag = NextFactor(partitions, lag, threshold) * threshold;
        }

        long upperBound = trigger.LimitToPartitionsWithLag ? partitionsWithLag : partitions;

        // Replicas the HPA would ask for: ceil(lag / threshold). KEDA truncates here, which lets 39/10 through for 3
        // partitions and makes the HPA ask for 4.
        var replicas = lag / threshold + (lag % threshold == 0 ? 0 : 1);
        return replicas > upperBound ? upperBound * threshold : lag;
    }

    /// <summary>The smallest factor of <paramref name="partitions"/> whose consumers can take <paramref name="lag"/> at the threshold.</summary>
    public static long NextFactor(int partitions, long lag, long threshold)
    {
        for (var factor = 1; factor <= partitions; factor++)
        {
            if (partitions % factor == 0 && factor * threshold >= lag)
            {
                return factor;
            }
        }

        return partitions;
    }
}
