using Updraft.ExternalScaler.Kafka;

namespace Updraft.ExternalScaler.Tests.Kafka;

/// <summary>The rate-aware metric's maths over explicit, time-stamped samples (no clock, no broker).</summary>
public sealed class KafkaRatesTests
{
    private static readonly TimeSpan Window = TimeSpan.FromSeconds(30);

    private static KafkaTrigger Trigger(params (string Key, string Value)[] metadata)
    {
        var all = new Dictionary<string, string>
        {
            ["bootstrapServers"] = "b:9092",
            ["consumerGroup"] = "g",
            ["topic"] = "t",
            ["consumerRate"] = "10",
        };
        foreach (var (key, value) in metadata)
        {
            all[key] = value;
        }

        var trigger = KafkaTrigger.Parse(all);
        Assert.Null(trigger.Problem);
        return trigger;
    }

    /// <summary>One sample per second from <paramref name="fromSecond"/> to <paramref name="toSecond"/> (inclusive).</summary>
    private static RateSample[] Series(int fromSecond, int toSecond, Func<int, long> logEnd, Func<int, long> committed) =>
        [.. Enumerable.Range(fromSecond, toSecond - fromSecond + 1).Select(s => new RateSample(TimeSpan.FromSeconds(s), logEnd(s), committed(s)))];

    private static RateSample At(double second, long logEnd, long committed) => new(TimeSpan.FromSeconds(second), logEnd, committed);

    [Fact]
    public void ForPartition_SteadyArrivalAndConsumption_MessagesPerSecond()
    {
        var samples = Series(0, 60, s => 1000 + (10 * s), s => 995 + (10 * s));

        var (arrival, consume) = KafkaRates.ForPartition(samples, Window);

        Assert.Equal((10.0, 10.0), (arrival, consume));
    }

    [Fact]
    public void ForPartition_BurstOlderThanTheWindow_OnlyTheWindowCounts()
    {
        // 100/s for the first minute, then 4/s: the 30 s window ending at the last sample sees only the slow part.
        var samples = Series(0, 90, s => s <= 60 ? 100L * s : 6000 + (4L * (s - 60)), s => 0);

        var (arrival, consume) = KafkaRates.ForPartition(samples, Window);

        Assert.Equal((4.0, 0.0), (arrival, consume));
    }

    [Fact]
    public void ForPartition_CatchingUp_ConsumeAboveArrival()
    {
        var samples = Series(0, 30, s => 500 + (10 * s), s => 30L * s);

        var (arrival, consume) = KafkaRates.ForPartition(samples, Window);

        Assert.Equal((10.0, 30.0), (arrival, consume));
    }

    [Fact]
    public void ForPartition_CommittedOffsetResetBackwards_SeriesRestartsNeverNegative()
    {
        // The group's offsets were reset from 120 to 5 between seconds 2 and 3.
        RateSample[] samples = [At(0, 200, 100), At(1, 200, 110), At(2, 200, 120), At(3, 200, 5), At(4, 200, 15), At(5, 200, 25)];

        var (arrival, consume) = KafkaRates.ForPartition(samples, Window);

        Assert.Equal((0.0, 10.0), (arrival, consume));
    }

    [Fact]
    public void ForPartition_ResetAtTheLastSample_ZeroUntilTheNextPoll()
    {
        RateSample[] samples = [At(0, 200, 100), At(1, 200, 150), At(2, 200, 3)];

        Assert.Equal((0.0, 0.0), KafkaRates.ForPartition(samples, Window));
    }

    [Fact]
    public void ForPartition_TopicRecreatedLogEndBackwards_ArrivalRestarts()
    {
        RateSample[] samples = [At(0, 5000, 5000), At(1, 5100, 5100), At(2, 0, KafkaLag.NoCommit), At(3, 8, KafkaLag.NoCommit), At(5, 20, KafkaLag.NoCommit)];

        var (arrival, consume) = KafkaRates.ForPartition(samples, Window);

        Assert.Equal((20.0 / 3, 0.0), (arrival, consume));
    }

    [Fact]
    public void ForPartition_FirstCommit_ConsumeCountsFromTheFirstCommitNotFromNothing()
    {
        RateSample[] samples = [At(0, 900, KafkaLag.NoCommit), At(1, 900, KafkaLag.NoCommit), At(2, 900, 850), At(4, 900, 870)];

        var (_, consume) = KafkaRates.ForPartition(samples, Window);

        Assert.Equal(10.0, consume);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void ForPartition_FewerThanTwoSamples_Zero(int count)
    {
        var samples = Series(0, count - 1, s => 100 * s, s => 50 * s);

        Assert.Equal((0.0, 0.0), KafkaRates.ForPartition(samples, Window));
    }

    [Fact]
    public void ForPartition_OnlyTheLastSampleInTheWindow_Zero()
    {
        // Polls failed for two minutes: the sample before the gap is outside the window.
        RateSample[] samples = [At(0, 0, 0), At(120, 6000, 3000)];

        Assert.Equal((0.0, 0.0), KafkaRates.ForPartition(samples, Window));
    }

    [Fact]
    public void Total_SteadyArrivalAndBacklog_ArrivalPlusLagOverDrainWithin()
    {
        var trigger = Trigger(("drainWithin", "60s"), ("allowIdleConsumers", "true"));
        var samples = Series(0, 30, s => 10 * s, s => 10 * s);

        // 10/s arriving, 120 behind on the second partition (which receives nothing): 10 + 120 / 60 = 12.
        var rates = KafkaRates.Total(trigger,
        [
            new PartitionOffsets(0, 300, 0, 300, TimeSpan.Zero, samples),
            new PartitionOffsets(1, 80, 0, 200, TimeSpan.Zero, Series(0, 30, s => 200, s => 80)),
        ]);

        Assert.Equal(new RateResult(Arrival: 10, Consume: 10, Lag: 120, Needed: 12, Value: 12), rates);
    }

    [Fact]
    public void Total_OneSampleSoFar_LagOverDrainWithinOnly()
    {
        var trigger = Trigger(("drainWithin", "2s"), ("allowIdleConsumers", "true"));

        var rates = KafkaRates.Total(trigger, [new PartitionOffsets(0, 0, 0, 121, TimeSpan.Zero, [At(7, 121, 0)]), new PartitionOffsets(1, 0, 0, 0, TimeSpan.Zero)]);

        Assert.Equal(new RateResult(0, 0, 121, Needed: 61, Value: 61), rates);
    }

    [Fact]
    public void Total_CatchingUp_FallsWithTheLag()
    {
        var trigger = Trigger(("drainWithin", "10s"), ("allowIdleConsumers", "true"));
        var before = Series(0, 30, s => 10 * s, s => 0);
        var after = Series(0, 30, s => 1000 + (10 * s), s => 400 + (30 * s));

        var behind = KafkaRates.Total(trigger, [new PartitionOffsets(0, 0, 0, 300, TimeSpan.Zero, before)]);
        var caughtUp = KafkaRates.Total(trigger, [new PartitionOffsets(0, 1300, 0, 1300, TimeSpan.Zero, after)]);

        // 10 + 300 / 10 while nothing is consumed; once the commits reach the end of the log, only the arrivals remain.
        Assert.Equal((40.0, 10.0), (behind.Value, caughtUp.Value));
        Assert.Equal(30.0, caughtUp.Consume);
    }

    [Fact]
    public void Total_PartitionAdded_CountsFromItsSecondSample()
    {
        var trigger = Trigger(("drainWithin", "60s"), ("allowIdleConsumers", "true"));
        var old = new PartitionOffsets(0, 300, 0, 300, TimeSpan.Zero, Series(0, 30, s => 10 * s, s => 10 * s));
        var added = new PartitionOffsets(1, KafkaLag.NoCommit, 0, 40, TimeSpan.Zero, [At(30, 40, KafkaLag.NoCommit)]);
        var addedLater = added with { Latest = 60, History = [At(30, 40, KafkaLag.NoCommit), At(31, 60, KafkaLag.NoCommit)] };

        var first = KafkaRates.Total(trigger, [old, added]);
        var second = KafkaRates.Total(trigger, [old, addedLater]);

        // A new partition's log end is not a burst of arrivals; a partition without a commit lags 1 under latest.
        Assert.Equal((10.0, 11.0), (first.Arrival, first.Value));
        Assert.Equal((30.0, 31.0), (second.Arrival, second.Value));
    }

    [Fact]
    public void Total_NoPartitions_Zero()
    {
        Assert.Equal(default, KafkaRates.Total(Trigger(), []));
    }

    [Fact]
    public void Total_PersistentPartition_NeitherItsLagNorItsArrivalsCount()
    {
        var trigger = Trigger(("excludePersistentLag", "true"), ("drainWithin", "10s"), ("allowIdleConsumers", "true"));
        var stuck = new PartitionOffsets(0, 10, 0, 400, TimeSpan.FromMinutes(5), Series(0, 30, s => 100 + (10 * s), s => 10));
        var moving = new PartitionOffsets(1, 50, 0, 100, TimeSpan.Zero, Series(0, 30, s => 40 + (2 * s), s => 50));

        var rates = KafkaRates.Total(trigger, [stuck, moving]);

        Assert.Equal((2.0, 50L, 7.0), (rates.Arrival, rates.Lag, rates.Value));
    }

    [Theory]
    [InlineData(10.0, 120, 60, 12)]
    [InlineData(10.2, 120, 60, 13)]
    [InlineData(0.0, 0, 60, 0)]
    [InlineData(0.0, 1, 60, 1)]
    // Floating-point noise: 7 / 0.7 s is 10.000000000000002, which must not become 11.
    [InlineData(0.0, 7, 0.7, 10)]
    public void Needed_ArrivalAndLag_RoundedUp(double arrival, long lag, double drainSeconds, double expected)
    {
        Assert.Equal(expected, KafkaRates.Needed(arrival, lag, TimeSpan.FromSeconds(drainSeconds)));
    }

    [Theory]
    // needed, partitions, busy partitions, consumerRate, extra key, expected
    [InlineData(100, 3, 3, "10", "", 30)]
    [InlineData(30, 3, 3, "10", "", 30)]
    [InlineData(21, 3, 3, "10", "", 21)]
    [InlineData(100, 3, 3, "10", "allowIdleConsumers", 100)]
    // ceil(8 / 2.5) = 4 replicas for 3 partitions: capped at exactly 3 × 2.5.
    [InlineData(8, 3, 3, "2.5", "", 7.5)]
    // Busy partitions (lag or arrivals) bound the replicas under limitToPartitionsWithLag.
    [InlineData(50, 3, 1, "10", "limitToPartitionsWithLag", 10)]
    [InlineData(15, 3, 2, "10", "limitToPartitionsWithLag", 15)]
    // Rounded up to a factor of 10 partitions: 5 replicas stay 5, 7 become 10.
    [InlineData(45, 10, 10, "10", "ensureEvenDistributionOfPartitions", 50)]
    [InlineData(61, 10, 10, "10", "ensureEvenDistributionOfPartitions", 100)]
    [InlineData(0, 10, 0, "10", "ensureEvenDistributionOfPartitions", 0)]
    public void Capped_NeededRate_NeverMoreReplicasThanPartitions(double needed, int partitions, int busy, string consumerRate, string flag, double expected)
    {
        var trigger = flag.Length > 0 ? Trigger(("consumerRate", consumerRate), (flag, "true")) : Trigger(("consumerRate", consumerRate));

        Assert.Equal(expected, KafkaRates.Capped(trigger, needed, partitions, busy));
    }

    [Fact]
    public void Append_SamplesOlderThanTheWindow_Dropped()
    {
        RateSample[]? history = null;
        for (var s = 0; s <= 100; s++)
        {
            history = KafkaRates.Append(history, At(s, 10 * s, 0), TimeSpan.FromSeconds(30));
        }

        Assert.Equal(31, history!.Length);
        Assert.Equal((TimeSpan.FromSeconds(70), TimeSpan.FromSeconds(100)), (history[0].At, history[^1].At));
    }

    [Fact]
    public void Append_PollsMuchFasterThanTheWindow_MemoryBoundedAndRateUnchanged()
    {
        var keep = TimeSpan.FromSeconds(10);
        RateSample[]? history = null;
        var longest = 0;
        for (var ms = 0; ms <= 30_000; ms++)
        {
            history = KafkaRates.Append(history, new RateSample(TimeSpan.FromMilliseconds(ms), 3L * ms, ms), keep);
            longest = Math.Max(longest, history.Length);
        }

        // One poll per millisecond over a 10 s window would be 10,001 samples.
        Assert.InRange(longest, 2, (2 * KafkaRates.MaxSamples) + 2);
        var (arrival, consume) = KafkaRates.ForPartition(history, keep);
        Assert.Equal(3000.0, arrival, 6);
        Assert.Equal(1000.0, consume, 6);
    }

    [Fact]
    public void Append_ThinnedPolls_KeepAResetSample()
    {
        var keep = TimeSpan.FromSeconds(256); // thinning below 1 s
        RateSample[]? history = null;
        foreach (var sample in new[] { At(0, 100, 100), At(0.1, 100, 120), At(0.2, 100, 2), At(0.3, 100, 90), At(0.4, 100, 98) })
        {
            history = KafkaRates.Append(history, sample, keep);
        }

        // Thinning replaced 90 by 98, but kept 2: without it, 120 → 98 would read as a reset and nothing consumed.
        Assert.Contains(history!, s => s.Committed == 2);
        Assert.Equal(96 / 0.2, KafkaRates.ForPartition(history, keep).Consume, 6);
    }
}
