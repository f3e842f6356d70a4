using Updraft.ExternalScaler.Kafka;

namespace Updraft.ExternalScaler.Tests.Kafka;

/// <summary>KEDA's lag maths, partition by partition and in total, and the three defects fixed.</summary>
public sealed class KafkaLagTests
{
    private static KafkaTrigger Trigger(params (string Key, string Value)[] metadata)
    {
        var all = new Dictionary<string, string> { ["bootstrapServers"] = "b:9092", ["consumerGroup"] = "g", ["topic"] = "t" };
        foreach (var (key, value) in metadata)
        {
            all[key] = value;
        }

        var trigger = KafkaTrigger.Parse(all);
        Assert.Null(trigger.Problem);
        return trigger;
    }

    [Theory]
    // committed, logStart, latest, policy, scaleToZero, expected lag
    [InlineData(40, 0, 100, "latest", "false", 60)]
    [InlineData(100, 0, 100, "latest", "false", 0)]
    [InlineData(-1, 0, 100, "latest", "false", 1)]
    [InlineData(-1, 0, 100, "latest", "true", 0)]
    [InlineData(-1, 0, 100, "earliest", "true", 0)]
    [InlineData(-1, 0, 0, "latest", "false", 1)]
    // Fixed: without a commit, earliest counts the retained messages only (KEDA: the whole log end offset, 100).
    [InlineData(-1, 70, 100, "earliest", "false", 30)]
    // Fixed: a commit behind the log start counts from the log start (KEDA: 100 - 10 = 90).
    [InlineData(10, 70, 100, "latest", "false", 30)]
    [InlineData(10, 70, 100, "earliest", "false", 30)]
    // A commit past the read-committed end (an open transaction) is not negative lag.
    [InlineData(105, 0, 100, "latest", "false", 0)]
    // The log start past the latest offset (retention ran between the two ListOffsets answers, or the last stable
    // offset is held back by an open transaction): no retained messages, never a negative count.
    [InlineData(-1, 120, 100, "earliest", "false", 0)]
    [InlineData(10, 120, 100, "latest", "false", 0)]
    [InlineData(10, 120, 100, "earliest", "false", 0)]
    public void ForPartition_Offsets_KedaSemanticsWithLogStartClamp(long committed, long logStart, long latest, string policy, string scaleToZero, long expected)
    {
        var trigger = Trigger(("offsetResetPolicy", policy), ("scaleToZeroOnInvalidOffset", scaleToZero));

        var (lag, persistent) = KafkaLag.ForPartition(trigger, new PartitionOffsets(0, committed, logStart, latest, TimeSpan.Zero));

        Assert.Equal(expected, lag);
        Assert.False(persistent);
    }

    [Theory]
    [InlineData("false", 40, 0, false)]
    [InlineData("true", 40, 29, false)]
    [InlineData("true", 40, 30, true)]
    [InlineData("true", 100, 60, false)]
    [InlineData("true", -1, 60, false)]
    public void ForPartition_UnmovedCommit_PersistentOnlyWhenExcludedAndOlderThanTheWindow(string exclude, long committed, int unchangedSeconds, bool expected)
    {
        var trigger = Trigger(("excludePersistentLag", exclude));

        var (_, persistent) = KafkaLag.ForPartition(trigger, new PartitionOffsets(0, committed, 0, 100, TimeSpan.FromSeconds(unchangedSeconds)));

        Assert.Equal(expected, persistent);
    }

    [Theory]
    // lag, partitions, partitionsWithLag, extra key, expected metric
    [InlineData(100, 3, 3, "", 30)]
    [InlineData(30, 3, 3, "", 30)]
    [InlineData(29, 3, 3, "", 29)]
    // Fixed: KEDA's 39/10 = 3 is not above 3 partitions, so it reports 39 and the HPA asks for 4 replicas.
    [InlineData(39, 3, 3, "", 30)]
    [InlineData(31, 3, 3, "", 30)]
    [InlineData(39, 3, 3, "allowIdleConsumers", 39)]
    [InlineData(50, 3, 1, "limitToPartitionsWithLag", 10)]
    [InlineData(15, 3, 2, "limitToPartitionsWithLag", 15)]
    [InlineData(0, 3, 0, "limitToPartitionsWithLag", 0)]
    // ensureEvenDistributionOfPartitions: the next factor of the partition count (threshold 10).
    [InlineData(5, 10, 5, "ensureEvenDistributionOfPartitions", 10)]
    [InlineData(45, 10, 5, "ensureEvenDistributionOfPartitions", 50)]
    [InlineData(80, 10, 8, "ensureEvenDistributionOfPartitions", 100)]
    [InlineData(0, 10, 0, "ensureEvenDistributionOfPartitions", 0)]
    public void Capped_LagAndPartitions_NeverMoreReplicasThanPartitions(long lag, int partitions, int withLag, string flag, long expected)
    {
        var trigger = flag.Length > 0 ? Trigger((flag, "true")) : Trigger();

        Assert.Equal(expected, KafkaLag.Capped(trigger, lag, partitions, withLag));
    }

    [Theory]
    [InlineData(10, 100, 10, 1)]
    [InlineData(99, 100, 10, 10)]
    [InlineData(101, 100, 10, 20)]
    [InlineData(1000, 6, 10, 6)]
    public void NextFactor_KedaCases_SmallestFactorThatCoversTheLag(long lag, int partitions, long threshold, long expected)
    {
        Assert.Equal(expected, KafkaLag.NextFactor(partitions, lag, threshold));
    }

    /// <summary>
    /// The end of the log is the last stable offset. librdkafka's mock broker ignores the isolation level, so this
    /// checks the request the poller sends rather than a broker's answer.
    /// </summary>
    [Fact]
    public void OffsetsQuery_EndOfLog_ReadCommitted()
    {
        var query = GroupPoller.OffsetsQuery(TimeSpan.FromSeconds(3));

        Assert.Equal((Confluent.Kafka.IsolationLevel.ReadCommitted, TimeSpan.FromSeconds(3)), (query.IsolationLevel, query.RequestTimeout));
    }

    [Fact]
    public void Total_PersistentPartition_LeftOutOfMetricButCountedForActivity()
    {
        var trigger = Trigger(("excludePersistentLag", "true"), ("lagThreshold", "100"));
        var stuck = new PartitionOffsets(0, 10, 0, 50, TimeSpan.FromMinutes(5));
        var moving = new PartitionOffsets(1, 20, 0, 27, TimeSpan.Zero);
        var noCommit = new PartitionOffsets(2, KafkaLag.NoCommit, 0, 9, TimeSpan.FromMinutes(5));

        var total = KafkaLag.Total(trigger, [stuck, moving, noCommit]);

        Assert.Equal(new LagResult(Lag: 7 + 1, LagWithPersistent: 40 + 7 + 1, HottestPartitionLag: 7, Partitions: 3, PartitionsWithLag: 2), total);
    }
}
