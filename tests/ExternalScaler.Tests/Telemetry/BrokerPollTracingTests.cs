using Updraft.ExternalScaler.Tests.Kafka;
using Updraft.ExternalScaler.Tests.Nats;
using Updraft.Protos.ExternalScaler;
using Updraft.Tests.Common.Otlp;
using static Updraft.ExternalScaler.Tests.Nats.NatsTesting;
using SpanStatus = Updraft.Tests.Common.Otlp.Status;

namespace Updraft.ExternalScaler.Tests.Telemetry;

/// <summary>
/// Poll spans of the broker sources against a real nats-server and librdkafka's mock cluster, exported to a receiver in
/// this process.
/// </summary>
public sealed class BrokerPollTracingTests(NatsServerFixture fixture) : IClassFixture<NatsServerFixture>
{
    [Fact]
    public async Task JetStreamPoll_TracingOn_OneRootSpanPerPollNamingWhatIsPolled()
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(fixture.Server);
        await admin.CreateStreamAsync(stream);
        await admin.CreateConsumerAsync(stream, "worker");
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var harness = await StartScalerAsync(Settings(receiver));

        await WaitForMetricAsync(harness, JetStream(Api, fixture.Server, stream, "worker"), 0);

        var poll = await receiver.WaitForSpanAsync(span => span.Name == "nats poll" && ((string?)span.Attributes.GetValueOrDefault("updraft.polled"))?.Contains(stream, StringComparison.Ordinal) == true, "for a poll of the stream");
        Assert.Equal("nats", poll.Attributes["messaging.system"]);
        Assert.Equal("", poll.ParentSpanId);
        Assert.Equal("updraft-external-scaler", poll.ServiceName);
        Assert.NotEqual(SpanStatus.Types.StatusCode.Error, poll.Status);
    }

    [Fact]
    public async Task JetStreamPoll_ConsumerMissing_PollSpanIsAnError()
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(fixture.Server);
        await admin.CreateStreamAsync(stream);
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var harness = await StartScalerAsync(Settings(receiver));

        // GetMetrics fails while the consumer does not exist; it starts the poller.
        await Assert.ThrowsAnyAsync<Exception>(async () => await harness.Client.GetMetricsAsync(new GetMetricsRequest
        {
            ScaledObjectRef = JetStream(Api, fixture.Server, stream, "missing"),
            MetricName = "nats-jetstream-" + stream.ToLowerInvariant(),
        }));

        var poll = await receiver.WaitForSpanAsync(
            span => span.Name == "nats poll" && span.Status == SpanStatus.Types.StatusCode.Error && ((string?)span.Attributes.GetValueOrDefault("updraft.polled"))?.Contains(stream, StringComparison.Ordinal) == true,
            "for a failed poll of the stream");
        Assert.Equal("nats", poll.Attributes["messaging.system"]);
    }

    [Fact]
    public async Task KafkaPoll_TracingOn_RootSpanNamingGroupAndCluster()
    {
        using var kafka = MockKafkaCluster.Start();
        kafka.CreateTopic("orders", 1);
        await kafka.ProduceAsync("orders", 0, 5);
        kafka.Commit("traced-workers", "orders", (0, 2));
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var harness = await KafkaScaler.StartAsync(Settings(receiver));

        await KafkaScaler.WaitForMetricAsync(harness, KafkaScaler.Trigger(kafka, "traced-workers", "orders"), 3);

        var poll = await receiver.WaitForSpanAsync(span => span.Name == "kafka poll" && ((string?)span.Attributes.GetValueOrDefault("updraft.polled"))?.Contains("traced-workers", StringComparison.Ordinal) == true, "for a poll of the group");
        Assert.Equal("kafka", poll.Attributes["messaging.system"]);
        Assert.Equal("", poll.ParentSpanId);
        Assert.NotEqual(SpanStatus.Types.StatusCode.Error, poll.Status);
    }

    private static Dictionary<string, string?> Settings(OtlpReceiver receiver) => new()
    {
        ["OTEL_EXPORTER_OTLP_TRACES_ENABLED"] = "true",
        ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "grpc",
        ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = receiver.GrpcEndpoint,
        ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
    };
}
