using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Updraft.ExternalScaler.Kafka;
using Updraft.Protos.ExternalScaler;
using static Updraft.ExternalScaler.Tests.Kafka.KafkaScaler;

namespace Updraft.ExternalScaler.Tests.Kafka;

/// <summary>KEDA's view of <c>source: kafka</c> triggers, against librdkafka's mock cluster with real produced messages and commits.</summary>
public sealed class KafkaScalingTests
{
    private const string Topic = "orders";
    private const string Group = "workers";

    [Fact]
    public async Task GetMetricSpec_TopicAndGroupTriggers_ReturnKedaNamesAndLagThreshold()
    {
        await using var harness = await StartAsync();

        var topic = await harness.Client.GetMetricSpecAsync(Trigger("so", "127.0.0.1:1", Group, "My.Topic", ("lagThreshold", "25")));
        var group = await harness.Client.GetMetricSpecAsync(Trigger("so", "127.0.0.1:1", "Team:Group", ""));

        Assert.Equal([("kafka-my-topic", 25.0)], topic.MetricSpecs.Select(s => (s.MetricName, s.TargetSizeFloat)));
        Assert.Equal([("kafka-team-group-topics", 10.0)], group.MetricSpecs.Select(s => (s.MetricName, s.TargetSizeFloat)));
    }

    [Fact]
    public async Task GetMetrics_CommittedBehindProduced_ReturnsLatestMinusCommittedSummed()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 3);
        await kafka.ProduceAsync(Topic, 0, 10);
        await kafka.ProduceAsync(Topic, 1, 20);
        await kafka.ProduceAsync(Topic, 2, 30);
        kafka.Commit(Group, Topic, (0, 4), (1, 5), (2, 30));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, Topic, ("lagThreshold", "100"));

        await WaitForMetricAsync(harness, trigger, 6 + 15 + 0);

        var metrics = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = trigger, MetricName = "kafka-orders" });
        Assert.Equal([("kafka-orders", 21.0, 21L)], metrics.MetricValues.Select(v => (v.MetricName, v.MetricValueFloat, v.MetricValue_)));
        Assert.True((await harness.Client.IsActiveAsync(trigger)).Result);
    }

    [Fact]
    public async Task GetMetrics_ConsumerCommitsMore_LagFollows()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 1);
        await kafka.ProduceAsync(Topic, 0, 8);
        kafka.Commit(Group, Topic, (0, 2));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, Topic);
        await WaitForMetricAsync(harness, trigger, 6);

        kafka.Commit(Group, Topic, (0, 8));

        await WaitForMetricAsync(harness, trigger, 0);
        Assert.False((await harness.Client.IsActiveAsync(trigger)).Result);
    }

    [Theory]
    [InlineData("5", 5, false)]
    [InlineData("5", 6, true)]
    [InlineData("0", 1, true)]
    public async Task IsActive_LagAgainstActivationLagThreshold_StrictlyAbove(string activation, int lag, bool expected)
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 1);
        await kafka.ProduceAsync(Topic, 0, 10);
        kafka.Commit(Group, Topic, (0, 10 - lag));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, Topic, ("activationLagThreshold", activation));
        await WaitForMetricAsync(harness, trigger, lag);

        var active = await harness.Client.IsActiveAsync(trigger);

        Assert.Equal(expected, active.Result);
    }

    /// <summary>3 partitions at threshold 10: lag 39 must read 30 (KEDA's truncating division lets 39 through: 4 replicas).</summary>
    [Theory]
    [InlineData("false", 30)]
    [InlineData("true", 39)]
    public async Task GetMetrics_LagAbovePartitionCap_CappedUnlessIdleConsumersAllowed(string allowIdle, double expected)
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 3);
        await kafka.ProduceAsync(Topic, 0, 13);
        await kafka.ProduceAsync(Topic, 1, 13);
        await kafka.ProduceAsync(Topic, 2, 13);
        kafka.Commit(Group, Topic, (0, 0), (1, 0), (2, 0));
        await using var harness = await StartAsync();

        await WaitForMetricAsync(harness, Trigger(kafka, Group, Topic, ("allowIdleConsumers", allowIdle)), expected);
    }

    [Fact]
    public async Task GetMetrics_LimitToPartitionsWithLag_CapsAtLaggingPartitions()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 3);
        await kafka.ProduceAsync(Topic, 1, 50);
        kafka.Commit(Group, Topic, (0, 0), (1, 0), (2, 0));
        await using var harness = await StartAsync();

        await WaitForMetricAsync(harness, Trigger(kafka, Group, Topic, ("limitToPartitionsWithLag", "true")), 10);
        await WaitForMetricAsync(harness, Trigger(kafka, "other", Topic, ("lagThreshold", "5"), ("limitToPartitionsWithLag", "false"), ("offsetResetPolicy", "earliest")), 15);
    }

    [Fact]
    public async Task GetMetrics_PartitionLimitation_CountsOnlyListedPartitions()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 4);
        for (var p = 0; p < 4; p++)
        {
            await kafka.ProduceAsync(Topic, p, 1 + p);
        }

        kafka.Commit(Group, Topic, (0, 0), (1, 0), (2, 0), (3, 0));
        await using var harness = await StartAsync();

        await WaitForMetricAsync(harness, Trigger(kafka, Group, Topic, ("partitionLimitation", "0,2-3"), ("lagThreshold", "100")), 1 + 3 + 4);
        var none = Trigger(kafka, Group, Topic, ("partitionLimitation", "7-9"));
        Assert.Contains("partitionLimitation", await WaitForErrorAsync(harness, none, StatusCode.FailedPrecondition), StringComparison.Ordinal);
    }

    /// <summary>No commit yet: latest reads 1 per partition (wake a consumer), earliest the retained log, or 0 on request.</summary>
    [Theory]
    [InlineData("latest", "false", 3, true)]
    [InlineData("earliest", "false", 2 + 4 + 6, true)]
    [InlineData("latest", "true", 0, false)]
    [InlineData("earliest", "true", 0, false)]
    public async Task GetMetrics_GroupWithoutCommits_FollowsOffsetResetPolicy(string policy, string scaleToZero, double expected, bool active)
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 3);
        for (var p = 0; p < 3; p++)
        {
            await kafka.ProduceAsync(Topic, p, 2 * (p + 1));
        }

        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, "new-group", Topic, ("offsetResetPolicy", policy), ("scaleToZeroOnInvalidOffset", scaleToZero), ("lagThreshold", "100"));

        await WaitForMetricAsync(harness, trigger, expected);

        Assert.Equal(active, (await harness.Client.IsActiveAsync(trigger)).Result);
    }

    /// <summary>
    /// Retention moved the log start past the commit (the mock keeps 5 MB per partition): only retained messages are
    /// lag, for a stale commit and for earliest without a commit (KEDA counts the deleted ones too, #7936).
    /// </summary>
    [Fact]
    public async Task GetMetrics_CommitBehindLogStart_CountsOnlyRetainedMessages()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 1);
        await kafka.ProduceAsync(Topic, 0, 12, size: 600_000);
        var logStart = await kafka.LogStartAsync(Topic, 0);
        Assert.InRange(logStart, 2, 11);
        kafka.Commit(Group, Topic, (0, 1));
        await using var harness = await StartAsync();

        await WaitForMetricAsync(harness, Trigger(kafka, Group, Topic, ("allowIdleConsumers", "true")), 12 - logStart);
        await WaitForMetricAsync(harness, Trigger(kafka, "new-group", Topic, ("allowIdleConsumers", "true"), ("offsetResetPolicy", "earliest")), 12 - logStart);
    }

    [Fact]
    public async Task GetMetrics_NoTopic_SumsEveryTopicTheGroupCommittedTo()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic("a", 1);
        kafka.CreateTopic("b", 2);
        kafka.CreateTopic("untouched", 1);
        await kafka.ProduceAsync("a", 0, 5);
        await kafka.ProduceAsync("b", 0, 7);
        await kafka.ProduceAsync("b", 1, 3);
        await kafka.ProduceAsync("untouched", 0, 50);
        kafka.Commit(Group, "a", (0, 1));
        kafka.Commit(Group, "b", (0, 2));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, "", ("lagThreshold", "100"));

        // a: 5-1; b[0]: 7-2; b[1] has no commit: 1 under latest. "untouched" is not the group's.
        await WaitForMetricAsync(harness, trigger, 4 + 5 + 1);

        var spec = await harness.Client.GetMetricSpecAsync(trigger);
        Assert.Equal("kafka-workers-topics", Assert.Single(spec.MetricSpecs).MetricName);
    }

    [Fact]
    public async Task GetMetrics_NoTopicAndGroupWithoutCommits_NotFoundRatherThanZero()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 1);
        await kafka.ProduceAsync(Topic, 0, 5);
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, "nobody", "");

        var detail = await WaitForErrorAsync(harness, trigger, StatusCode.NotFound);

        Assert.Contains("no committed offsets", detail, StringComparison.Ordinal);
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(trigger));
        Assert.Equal(StatusCode.NotFound, active.StatusCode);
    }

    [Fact]
    public async Task GetMetrics_TopicDoesNotExist_NotFoundNamingTheTopic()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 1);
        await using var harness = await StartAsync();

        var detail = await WaitForErrorAsync(harness, Trigger(kafka, Group, "missing"), StatusCode.NotFound);

        Assert.Contains("\"missing\"", detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetMetrics_ExcludePersistentLag_StuckPartitionLeavesMetricButStaysActive()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 2);
        await kafka.ProduceAsync(Topic, 0, 20);
        await kafka.ProduceAsync(Topic, 1, 20);
        kafka.Commit(Group, Topic, (0, 10), (1, 10));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, Topic, ("excludePersistentLag", "true"), ("persistentLagWindow", "3s"), ("lagThreshold", "100"));
        await WaitForMetricAsync(harness, trigger, 20);

        await WaitForMetricAsync(harness, trigger, 0);
        Assert.True((await harness.Client.IsActiveAsync(trigger)).Result);

        kafka.Commit(Group, Topic, (0, 15));
        await WaitForMetricAsync(harness, trigger, 5);
    }

    [Fact]
    public async Task GetMetrics_HottestPartitionLag_SecondMetricIsTheLargestPartitionLag()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 3);
        await kafka.ProduceAsync(Topic, 0, 2);
        await kafka.ProduceAsync(Topic, 1, 9);
        kafka.Commit(Group, Topic, (0, 0), (1, 0), (2, 0));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, Topic, ("hottestPartitionLag", "true"), ("lagThreshold", "100"));
        await WaitForMetricAsync(harness, trigger, 11, "kafka-orders");

        var all = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = trigger });
        var spec = await harness.Client.GetMetricSpecAsync(trigger);

        Assert.Equal([("kafka-orders", 11.0), ("kafka-orders-hottest-partition", 9.0)], all.MetricValues.Select(v => (v.MetricName, v.MetricValueFloat)));
        Assert.Equal(["kafka-orders", "kafka-orders-hottest-partition"], spec.MetricSpecs.Select(s => s.MetricName));
    }

    [Theory]
    [InlineData("bootstrapServers", "", "bootstrapServers")]
    [InlineData("consumerGroup", "", "consumerGroup")]
    [InlineData("lagThreshold", "0", "lagThreshold")]
    [InlineData("lagThreshold", "abc", "lagThreshold")]
    [InlineData("activationLagThreshold", "-1", "activationLagThreshold")]
    [InlineData("offsetResetPolicy", "newest", "offsetResetPolicy")]
    [InlineData("allowIdleConsumers", "yes", "allowIdleConsumers")]
    [InlineData("partitionLimitation", "1,x", "partitionLimitation")]
    [InlineData("sasl", "plaintext", "credentialsProfile")]
    public async Task BadMetadata_SpecStillAnswersAndMetricsFailNamingTheKey(string key, string value, string named)
    {
        await using var harness = await StartAsync();
        var trigger = Trigger("so", "127.0.0.1:1", Group, Topic);
        trigger.ScalerMetadata[key] = value;

        var spec = await harness.Client.GetMetricSpecAsync(trigger);
        var metrics = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = trigger }));
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(trigger));

        Assert.Equal("kafka-orders", Assert.Single(spec.MetricSpecs).MetricName);
        Assert.Equal(StatusCode.InvalidArgument, metrics.StatusCode);
        Assert.Contains(named, metrics.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, active.StatusCode);
    }

    [Theory]
    [InlineData("allowIdleConsumers", "limitToPartitionsWithLag", "Orders")]
    [InlineData("limitToPartitionsWithLag", "ensureEvenDistributionOfPartitions", "Orders")]
    [InlineData("limitToPartitionsWithLag", "limitToPartitionsWithLag", "")]
    [InlineData("ensureEvenDistributionOfPartitions", "ensureEvenDistributionOfPartitions", "")]
    public async Task BadMetadata_IncompatibleFlags_InvalidArgumentNamingBoth(string first, string second, string topic)
    {
        await using var harness = await StartAsync();
        var trigger = Trigger("so", "127.0.0.1:1", Group, topic, (first, "true"), (second, "true"));

        var metrics = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = trigger }));

        Assert.Equal(StatusCode.InvalidArgument, metrics.StatusCode);
        Assert.Contains(first, metrics.Status.Detail, StringComparison.Ordinal);
        Assert.Contains(topic.Length == 0 ? "topic" : second, metrics.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetMetrics_BrokersDown_UnavailableThenValuesAgainWhenBack()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 2);
        await kafka.ProduceAsync(Topic, 0, 4);
        kafka.Commit(Group, Topic, (0, 1));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, Topic);
        await WaitForMetricAsync(harness, trigger, 3 + 1);

        kafka.SetBrokersDown();
        var detail = await WaitForErrorAsync(harness, trigger, StatusCode.Unavailable, "failed");
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(trigger));
        kafka.SetBrokersUp();

        Assert.Contains(Group, detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.Unavailable, active.StatusCode);
        await WaitForMetricAsync(harness, trigger, 4);
    }

    [Fact]
    public async Task StreamIsActive_MessagesArrive_PushesTrueAfterAPoll()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 1);
        kafka.Commit(Group, Topic, (0, 0));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, Topic);
        await WaitForMetricAsync(harness, trigger, 0);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var stream = harness.Client.StreamIsActive(trigger, cancellationToken: cancel.Token);
        Assert.True(await stream.ResponseStream.MoveNext(cancel.Token));
        Assert.False(stream.ResponseStream.Current.Result);

        await kafka.ProduceAsync(Topic, 0, 1);

        Assert.True(await stream.ResponseStream.MoveNext(cancel.Token));
        Assert.True(stream.ResponseStream.Current.Result);
    }

    [Fact]
    public async Task GetMetrics_500ScaledObjectsOnOneCluster_ShareOneAdminClient()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 2);
        await kafka.ProduceAsync(Topic, 0, 7);
        const int groups = 10;
        for (var g = 0; g < groups; g++)
        {
            kafka.Commit($"group-{g}", Topic, (0, g % 7));
        }

        await using var harness = await StartAsync();
        var triggers = Enumerable.Range(0, 500)
            .Select(i => Trigger($"so-{i}", kafka.BootstrapServers, $"group-{i % groups}", Topic, ("allowIdleConsumers", "true")))
            .ToList();

        foreach (var batch in triggers.Chunk(50))
        {
            await Task.WhenAll(batch.Select(async (t, i) => await TryMetricAsync(harness, t)));
        }

        foreach (var (trigger, i) in triggers.Select((t, i) => (t, i)))
        {
            // 7 - committed on partition 0, plus 1 for partition 1, which has no commit (latest).
            await WaitForMetricAsync(harness, trigger, 7 - (i % groups % 7) + 1);
        }

        var clusters = harness.Services.GetRequiredService<KafkaClusters>();
        Assert.Equal(1, clusters.ClientsCreated);
        Assert.Equal(1, clusters.OpenClients);
        Assert.Equal(groups, clusters.Pollers);
    }

    [Fact]
    public async Task GetMetrics_CredentialsProfiles_MissingFailsAndPlaintextProfileConnects()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 1);
        await kafka.ProduceAsync(Topic, 0, 3);
        kafka.Commit(Group, Topic, (0, 1));
        var profiles = Directory.CreateTempSubdirectory("updraft-kafka-profiles-");
        try
        {
            Directory.CreateDirectory(Path.Combine(profiles.FullName, "plain"));
            await File.WriteAllTextAsync(Path.Combine(profiles.FullName, "plain", "security.protocol"), "plaintext\n");
            Directory.CreateDirectory(Path.Combine(profiles.FullName, "sasl"));
            await File.WriteAllTextAsync(Path.Combine(profiles.FullName, "sasl", "security.protocol"), "sasl_plaintext");
            await File.WriteAllTextAsync(Path.Combine(profiles.FullName, "sasl", "sasl.mechanism"), "PLAIN");
            await File.WriteAllTextAsync(Path.Combine(profiles.FullName, "sasl", "sasl.username"), "user");
            await File.WriteAllTextAsync(Path.Combine(profiles.FullName, "sasl", "sasl.password"), "secret-password");
            await using var harness = await StartAsync(new Dictionary<string, string?> { ["UPDRAFT_KAFKA_PROFILES_DIR"] = profiles.FullName });

            var missing = await WaitForErrorAsync(harness, Trigger(kafka, Group, Topic, ("credentialsProfile", "absent")), StatusCode.FailedPrecondition);
            await WaitForMetricAsync(harness, Trigger(kafka, Group, Topic, ("credentialsProfile", "plain")), 2);
            // The mock speaks no SASL: a profile that asks for it must fail, never read 0.
            var sasl = await WaitForErrorAsync(harness, Trigger(kafka, Group, Topic, ("credentialsProfile", "sasl")), StatusCode.Unavailable, "failed");

            Assert.Contains("credentialsProfile", missing, StringComparison.Ordinal);
            Assert.DoesNotContain("secret-password", sasl, StringComparison.Ordinal);
            // One client per (cluster, profile) that exists: "plain" and "sasl"; the missing profile opens none.
            Assert.Equal(2, harness.Services.GetRequiredService<KafkaClusters>().ClientsCreated);
        }
        finally
        {
            profiles.Delete(recursive: true);
        }
    }
}
