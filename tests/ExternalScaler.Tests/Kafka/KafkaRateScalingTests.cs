using System.Diagnostics;
using System.Globalization;
using Grpc.Core;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using static Updraft.ExternalScaler.Tests.Kafka.KafkaScaler;

namespace Updraft.ExternalScaler.Tests.Kafka;

/// <summary>
/// The rate-aware metric (<c>consumerRate</c>) as KEDA sees it, against librdkafka's mock cluster with real produced
/// messages and commits. The scaler polls every 100 ms (see <see cref="KafkaScaler"/>).
/// </summary>
public sealed class KafkaRateScalingTests
{
    private const string Topic = "orders";
    private const string Group = "workers";
    private const string RateMetric = "kafka-orders-rate";

    [Fact]
    public async Task GetMetricSpec_ConsumerRate_SecondMetricWithConsumerRateTarget()
    {
        await using var harness = await StartAsync();

        var spec = await harness.Client.GetMetricSpecAsync(Trigger("so", "127.0.0.1:1", Group, Topic, ("consumerRate", "12.5"), ("lagThreshold", "40")));
        var without = await harness.Client.GetMetricSpecAsync(Trigger("so", "127.0.0.1:1", Group, Topic, ("drainWithin", "5m")));

        Assert.Equal([("kafka-orders", 40.0), (RateMetric, 12.5)], spec.MetricSpecs.Select(s => (s.MetricName, s.TargetSizeFloat)));
        Assert.Equal(["kafka-orders"], without.MetricSpecs.Select(s => s.MetricName));
    }

    /// <summary>
    /// No messages arrive while the scaler polls, so the metric is exactly the backlog over <c>drainWithin</c>:
    /// 120 messages within 2 s need 60 per second. Commits lower it; a small <c>consumerRate</c> meets the partition cap.
    /// </summary>
    [Fact]
    public async Task GetMetrics_BacklogAndNoArrivals_LagOverDrainWithinFallingAsCommitsCatchUp()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 2);
        await kafka.ProduceAsync(Topic, 0, 60);
        await kafka.ProduceAsync(Topic, 1, 60);
        kafka.Commit(Group, Topic, (0, 0), (1, 0));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, Topic, ("consumerRate", "50"), ("drainWithin", "2s"), ("rateWindow", "1s"));
        var capped = Trigger(kafka, Group, Topic, ("consumerRate", "10"), ("drainWithin", "2s"), ("rateWindow", "1s"));

        await WaitForMetricAsync(harness, trigger, 60, RateMetric);
        // 60/s at 10 per replica would be 6 replicas for 2 partitions: capped at 2 × 10.
        await WaitForMetricAsync(harness, capped, 20, RateMetric);
        var all = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = trigger });
        Assert.Equal([("kafka-orders", 20.0), (RateMetric, 60.0)], all.MetricValues.Select(v => (v.MetricName, v.MetricValueFloat)));

        kafka.Commit(Group, Topic, (0, 30), (1, 30));
        await WaitForMetricAsync(harness, trigger, 30, RateMetric);

        kafka.Commit(Group, Topic, (0, 60), (1, 60));
        await WaitForMetricAsync(harness, trigger, 0, RateMetric);
        await WaitForMetricAsync(harness, capped, 0, RateMetric);
    }

    /// <summary>
    /// Messages produced at 40 per second (20 per partition) read as about 40 per second once the 2 s window holds only
    /// production. The producer keeps to a schedule (a late message is sent at once), so a 2 s window holds 80 messages
    /// give or take those delayed across its edges: the ±25 % band tolerates a 0.5 s stall there, and a value in it has
    /// to be seen only once in up to 20 s of producing (an unloaded run reads 38 to 41 throughout). The backlog term is
    /// at most 800 / 3600 s, which rounding up makes 1 more. After the producer stops, the arrivals leave the window and
    /// only the backlog term is left (1); committing everything makes it 0.
    /// </summary>
    [Fact]
    public async Task GetMetrics_MessagesArriveAtAKnownPace_RateMetricFollowsArrivalThenBacklogThenZero()
    {
        const double pace = 40;
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic(Topic, 2);
        kafka.Commit(Group, Topic, (0, 0), (1, 0));
        await using var harness = await StartAsync();
        var trigger = Trigger(kafka, Group, Topic, ("consumerRate", "100"), ("drainWithin", "1h"), ("rateWindow", "2s"), ("allowIdleConsumers", "true"));
        await WaitForMetricAsync(harness, trigger, 0, RateMetric);

        using var stop = new CancellationTokenSource();
        var produced = new long[2];
        var clock = Stopwatch.StartNew();
        var producer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var due = TimeSpan.FromSeconds(i / pace) - clock.Elapsed;
                if (due > TimeSpan.Zero)
                {
                    await Task.Delay(due, CancellationToken.None);
                }

                await kafka.ProduceAsync(Topic, i % 2, 1);
                Interlocked.Increment(ref produced[i % 2]);
            }
        });

        var seen = new List<double>();
        try
        {
            await ScalerHarness.WaitUntilAsync(async () =>
            {
                var windowFilled = clock.Elapsed > TimeSpan.FromSeconds(2.5);
                var (value, _, _) = await TryMetricAsync(harness, trigger, RateMetric);
                if (value is { } v && windowFilled)
                {
                    seen.Add(v);
                }

                return windowFilled && value is >= pace * 0.75 and <= (pace * 1.25) + 1;
            }, "the rate metric reads the arrival rate");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Values seen: {string.Join(' ', seen.Distinct().Select(v => v.ToString(CultureInfo.InvariantCulture)))}", e);
        }
        finally
        {
            await stop.CancelAsync();
            await producer;
        }

        await WaitForMetricAsync(harness, trigger, 1, RateMetric);
        kafka.Commit(Group, Topic, (0, Interlocked.Read(ref produced[0])), (1, Interlocked.Read(ref produced[1])));
        await WaitForMetricAsync(harness, trigger, 0, RateMetric);
    }

    [Theory]
    [InlineData("consumerRate", "0")]
    [InlineData("consumerRate", "abc")]
    [InlineData("drainWithin", "-1s")]
    [InlineData("rateWindow", "150ms")]
    public async Task BadRateMetadata_SpecStillAnswersAndMetricsFailNamingTheKey(string key, string value)
    {
        await using var harness = await StartAsync();
        var trigger = Trigger("so", "127.0.0.1:1", Group, Topic, ("consumerRate", "10"));
        trigger.ScalerMetadata[key] = value;

        var spec = await harness.Client.GetMetricSpecAsync(trigger);
        var metrics = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = trigger, MetricName = RateMetric }));
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(trigger));

        Assert.Equal(["kafka-orders", RateMetric], spec.MetricSpecs.Select(s => s.MetricName));
        Assert.All(spec.MetricSpecs, s => Assert.True(s.TargetSizeFloat > 0));
        Assert.Equal(StatusCode.InvalidArgument, metrics.StatusCode);
        Assert.Contains(key, metrics.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, active.StatusCode);
        Assert.Contains(key, active.Status.Detail, StringComparison.Ordinal);
    }
}
