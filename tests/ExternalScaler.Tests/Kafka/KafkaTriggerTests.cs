using Updraft.ExternalScaler.Kafka;

namespace Updraft.ExternalScaler.Tests.Kafka;

/// <summary>Parsing KEDA's <c>kafka</c> trigger metadata: defaults, partition lists, names.</summary>
public sealed class KafkaTriggerTests
{
    [Fact]
    public void Parse_MinimalMetadata_KedaDefaults()
    {
        var trigger = KafkaTrigger.Parse(new Dictionary<string, string> { ["bootstrapServers"] = " b2:9092, b1:9092 ", ["consumerGroup"] = "g" });

        Assert.Null(trigger.Problem);
        Assert.Equal("b1:9092,b2:9092", trigger.Cluster);
        Assert.Equal(
            (10L, 0L, OffsetResetPolicy.Latest, false, false, false, false, false, ""),
            (trigger.LagThreshold, trigger.ActivationLagThreshold, trigger.OffsetResetPolicy, trigger.AllowIdleConsumers, trigger.ExcludePersistentLag,
                trigger.ScaleToZeroOnInvalidOffset, trigger.LimitToPartitionsWithLag, trigger.EnsureEvenDistributionOfPartitions, trigger.Topic));
        Assert.Equal("kafka-g-topics", trigger.MetricName);
    }

    [Theory]
    [InlineData("1,2,10-12,31", new[] { 1, 2, 10, 11, 12, 31 })]
    [InlineData("0", new[] { 0 })]
    [InlineData(" 3 , 1-2 ", new[] { 1, 2, 3 })]
    public void ParsePartitions_ListsAndRanges_EveryPartition(string text, int[] expected)
    {
        var partitions = KafkaTrigger.ParsePartitions(text, out var problem);

        Assert.Null(problem);
        Assert.Equal(expected, partitions.Order());
    }

    [Theory]
    [InlineData("1,a")]
    [InlineData("5-2")]
    [InlineData("-1")]
    [InlineData("1,,2")]
    [InlineData("0-1000000")]
    public void ParsePartitions_Invalid_Problem(string text)
    {
        KafkaTrigger.ParsePartitions(text, out var problem);

        Assert.NotNull(problem);
    }

    [Fact]
    public void Parse_PartitionLimitationWithoutTopic_IgnoredAsInKeda()
    {
        var trigger = KafkaTrigger.Parse(new Dictionary<string, string> { ["bootstrapServers"] = "b:1", ["consumerGroup"] = "g", ["partitionLimitation"] = "x" });

        Assert.Null(trigger.Problem);
        Assert.Null(trigger.PartitionLimitation);
    }

    [Theory]
    [InlineData("orders", "kafka-orders")]
    [InlineData("Team/Orders.v1:(eu)%", "kafka-team-orders-v1--eu--")]
    public void MetricName_Topic_KedaNormalisedName(string topic, string expected)
    {
        var trigger = KafkaTrigger.Parse(new Dictionary<string, string> { ["bootstrapServers"] = "b:1", ["consumerGroup"] = "g", ["topic"] = topic });

        Assert.Equal(expected, trigger.MetricName);
    }

    private static KafkaTrigger ParseWith(TimeSpan pollInterval, params (string Key, string Value)[] metadata)
    {
        var all = new Dictionary<string, string> { ["bootstrapServers"] = "b:1", ["consumerGroup"] = "g", ["topic"] = "orders" };
        foreach (var (key, value) in metadata)
        {
            all[key] = value;
        }

        return KafkaTrigger.Parse(all, pollInterval);
    }

    [Fact]
    public void Parse_NoConsumerRate_NoRateMetricAndDefaultWindows()
    {
        var trigger = ParseWith(TimeSpan.FromSeconds(1));

        Assert.Null(trigger.Problem);
        Assert.Equal(((double?)null, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30)), (trigger.ConsumerRate, trigger.DrainWithin, trigger.RateWindow));
    }

    [Fact]
    public void Parse_RateKeys_ParsedAndRateMetricNamed()
    {
        var trigger = ParseWith(TimeSpan.FromSeconds(1), ("consumerRate", "12.5"), ("drainWithin", "2m"), ("rateWindow", "1m30s"));

        Assert.Null(trigger.Problem);
        Assert.Equal((12.5, TimeSpan.FromMinutes(2), TimeSpan.FromSeconds(90)), (trigger.ConsumerRate, trigger.DrainWithin, trigger.RateWindow));
        Assert.Equal("kafka-orders-rate", trigger.RateMetricName);
    }

    [Fact]
    public void Parse_PollIntervalLongerThanHalfTheDefaultWindow_DefaultWindowIsTwoPolls()
    {
        var trigger = ParseWith(TimeSpan.FromSeconds(20), ("consumerRate", "5"));

        Assert.Null(trigger.Problem);
        Assert.Equal(TimeSpan.FromSeconds(40), trigger.RateWindow);
    }

    [Theory]
    [InlineData("consumerRate", "0")]
    [InlineData("consumerRate", "-2")]
    [InlineData("consumerRate", "abc")]
    [InlineData("consumerRate", "NaN")]
    [InlineData("consumerRate", "Infinity")]
    [InlineData("drainWithin", "-1s")]
    [InlineData("drainWithin", "0s")]
    [InlineData("drainWithin", "10")]
    [InlineData("rateWindow", "1s")]
    [InlineData("rateWindow", "1999ms")]
    [InlineData("rateWindow", "-30s")]
    [InlineData("rateWindow", "soon")]
    public void Parse_BadRateKey_ProblemNamesTheKeyAndDefaultsStand(string key, string value)
    {
        var trigger = ParseWith(TimeSpan.FromSeconds(1), ("consumerRate", "10"), (key, value));

        Assert.NotNull(trigger.Problem);
        Assert.Contains($"{key}=\"{value}\"", trigger.Problem, StringComparison.Ordinal);
        Assert.Equal(key == "consumerRate" ? KafkaTrigger.FallbackConsumerRate : 10, trigger.ConsumerRate);
        Assert.Equal((TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(30)), (trigger.DrainWithin, trigger.RateWindow));
    }

    [Fact]
    public void Parse_RateWindowOfExactlyTwoPolls_Accepted()
    {
        var trigger = ParseWith(TimeSpan.FromSeconds(1), ("consumerRate", "10"), ("rateWindow", "2s"));

        Assert.Null(trigger.Problem);
        Assert.Equal(TimeSpan.FromSeconds(2), trigger.RateWindow);
    }
}
