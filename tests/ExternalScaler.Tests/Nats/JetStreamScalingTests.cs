using Grpc.Core;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using static Updraft.ExternalScaler.Tests.Nats.NatsTesting;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// <c>source: nats-jetstream</c> through KEDA's gRPC contract against a real nats-server: real streams, consumers,
/// published, fetched and acknowledged messages, read through the JetStream API and through <c>/jsz</c>.
/// </summary>
public sealed class JetStreamScalingTests(NatsServerFixture fixture) : IClassFixture<NatsServerFixture>
{
    private NatsServer Server => fixture.Server;

    [Theory]
    [InlineData(Api)]
    [InlineData(Monitoring)]
    public async Task GetMetrics_PublishedFetchedAndPartlyAcked_IsPendingPlusAckPending(string mode)
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Server);
        await admin.CreateStreamAsync(stream);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, 10);
        var fetched = await admin.FetchAsync(stream, "worker", 4);
        await JetStreamAdmin.AckAsync(fetched.Take(3));
        await using var harness = await StartScalerAsync();
        var reference = JetStream(mode, Server, stream, "worker");

        // 6 never delivered + 1 delivered and not acknowledged.
        await WaitForMetricAsync(harness, reference, 7);

        var info = await admin.ConsumerInfoAsync(stream, "worker");
        Assert.Equal(6UL, info.NumPending);
        Assert.Equal(1, info.NumAckPending);
        var response = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = "nats-jetstream-" + stream.ToLowerInvariant() });
        var value = Assert.Single(response.MetricValues);
        Assert.Equal("nats-jetstream-" + stream.ToLowerInvariant(), value.MetricName);
        Assert.Equal(7, value.MetricValue_);
    }

    [Theory]
    [InlineData(Api)]
    [InlineData(Monitoring)]
    public async Task GetMetrics_MessagesArriveAndAreConsumed_FollowsTheBacklog(string mode)
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Server);
        await admin.CreateStreamAsync(stream);
        await admin.CreateConsumerAsync(stream, "worker");
        await using var harness = await StartScalerAsync();
        var reference = JetStream(mode, Server, stream, "worker");
        await WaitForMetricAsync(harness, reference, 0);

        await admin.PublishAsync(stream, 5);
        await WaitForMetricAsync(harness, reference, 5);
        await JetStreamAdmin.AckAsync(await admin.FetchAsync(stream, "worker", 5));

        await WaitForMetricAsync(harness, reference, 0);
    }

    [Fact]
    public async Task GetMetricSpec_LagThreshold_IsTheTargetUnderKedasNormalisedName()
    {
        await using var harness = await StartScalerAsync();

        var spec = await harness.Client.GetMetricSpecAsync(JetStream(Api, Server, "Orders_EU", "worker", ("lagThreshold", "25")));
        var defaults = await harness.Client.GetMetricSpecAsync(JetStream(Monitoring, Server, "orders", "worker"));

        var single = Assert.Single(spec.MetricSpecs);
        Assert.Equal("nats-jetstream-orders_eu", single.MetricName);
        Assert.Equal(25, single.TargetSizeFloat);
        Assert.Equal(25, single.TargetSize);
        Assert.Equal(10, Assert.Single(defaults.MetricSpecs).TargetSizeFloat);
    }

    [Theory]
    [InlineData(Api)]
    [InlineData(Monitoring)]
    public async Task IsActive_LagAtThenAboveActivationLagThreshold_FalseThenTrue(string mode)
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Server);
        await admin.CreateStreamAsync(stream);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, 5);
        await using var harness = await StartScalerAsync();
        var reference = JetStream(mode, Server, stream, "worker", ("activationLagThreshold", "5"));
        await WaitForMetricAsync(harness, reference, 5);

        var atThreshold = await harness.Client.IsActiveAsync(reference);
        await admin.PublishAsync(stream, 1);
        await WaitForMetricAsync(harness, reference, 6);
        var above = await harness.Client.IsActiveAsync(reference);

        Assert.False(atThreshold.Result);
        Assert.True(above.Result);
    }

    [Theory]
    [InlineData(Api)]
    [InlineData(Monitoring)]
    public async Task StreamIsActive_FirstMessagePublished_PushesTrue(string mode)
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Server);
        await admin.CreateStreamAsync(stream);
        await admin.CreateConsumerAsync(stream, "worker");
        await using var harness = await StartScalerAsync();
        var reference = JetStream(mode, Server, stream, "worker");
        await WaitForMetricAsync(harness, reference, 0);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = harness.Client.StreamIsActive(reference, cancellationToken: cancel.Token);
        Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
        Assert.False(call.ResponseStream.Current.Result);

        await admin.PublishAsync(stream, 1);

        Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
        Assert.True(call.ResponseStream.Current.Result);
    }

    [Theory]
    [InlineData(Api)]
    [InlineData(Monitoring)]
    public async Task GetMetrics_ConsumerDeletedWhileWatched_NotFoundNeverZero(string mode)
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Server);
        await admin.CreateStreamAsync(stream);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, 3);
        await using var harness = await StartScalerAsync();
        var reference = JetStream(mode, Server, stream, "worker");
        await WaitForMetricAsync(harness, reference, 3);

        await admin.DeleteConsumerAsync(stream, "worker");

        var error = await WaitForErrorAsync(harness, reference, StatusCode.NotFound);
        Assert.Contains("\"worker\"", error.Status.Detail, StringComparison.Ordinal);
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(reference));
        Assert.Equal(StatusCode.NotFound, active.StatusCode);
    }

    [Theory]
    [InlineData(Api, "stream")]
    [InlineData(Monitoring, "stream")]
    [InlineData(Api, "consumer")]
    [InlineData(Monitoring, "consumer")]
    public async Task GetMetrics_UnknownStreamOrConsumer_NotFoundNamingIt(string mode, string missing)
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Server);
        await admin.CreateStreamAsync(stream);
        await admin.CreateConsumerAsync(stream, "worker");
        await using var harness = await StartScalerAsync();
        var reference = missing == "stream" ? JetStream(mode, Server, "NOSUCH" + stream, "worker") : JetStream(mode, Server, stream, "nosuch");

        var error = await WaitForErrorAsync(harness, reference, StatusCode.NotFound);

        Assert.Contains(missing == "stream" ? $"stream \"NOSUCH{stream}\"" : "consumer \"nosuch\"", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetMetrics_MonitoringWithWrongAccount_NotFoundNamingTheAccount()
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Server);
        await admin.CreateStreamAsync(stream);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, 2);
        await using var harness = await StartScalerAsync();
        var reference = ScalerHarness.Ref("so", ("source", "nats-jetstream"), ("natsServerMonitoringEndpoint", Server.MonitoringEndpoint),
            ("account", "TEAM_A"), ("stream", stream), ("consumer", "worker"));

        var error = await WaitForErrorAsync(harness, reference, StatusCode.NotFound);

        Assert.Contains("account \"TEAM_A\"", error.Status.Detail, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(Api)]
    [InlineData(Monitoring)]
    public async Task GetMetrics_ServerStoppedThenStartedAgain_UnavailableThenRecovers(string mode)
    {
        await using var server = await NatsServer.StartAsync();
        var stream = StreamName();
        await using (var admin = await JetStreamAdmin.ConnectAsync(server))
        {
            await admin.CreateStreamAsync(stream);
            await admin.CreateConsumerAsync(stream, "worker");
            await admin.PublishAsync(stream, 4);
        }

        await using var harness = await StartScalerAsync();
        var reference = JetStream(mode, server, stream, "worker");
        await WaitForMetricAsync(harness, reference, 4);

        await server.StopAsync();
        var down = await WaitForErrorAsync(harness, reference, StatusCode.Unavailable);
        var inactive = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(reference));
        await server.StartAgainAsync();

        Assert.Contains(mode == Api ? server.Url[7..] : server.MonitoringEndpoint, down.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.Unavailable, inactive.StatusCode);
        await WaitForMetricAsync(harness, reference, 4);
    }

    [Theory]
    [InlineData(Api, StatusCode.Unavailable, "is JetStream enabled")]
    [InlineData(Monitoring, StatusCode.FailedPrecondition, "JetStream is not enabled")]
    public async Task GetMetrics_ServerWithoutJetStream_ErrorSaysSo(string mode, StatusCode code, string says)
    {
        await using var server = await NatsServer.StartAsync(jetStream: false);
        await using var harness = await StartScalerAsync();
        var reference = JetStream(mode, server, "ORDERS", "worker");

        var error = await WaitForErrorAsync(harness, reference, code);

        Assert.True(error.Status.Detail.Contains(says, StringComparison.Ordinal), error.Status.Detail);
    }

    [Theory]
    [InlineData("stream", null, "stream")]
    [InlineData("consumer", null, "consumer")]
    [InlineData("natsServerUrl", null, "natsServerMonitoringEndpoint")]
    [InlineData("account", null, "account")]
    [InlineData("lagThreshold", "0", "lagThreshold")]
    [InlineData("lagThreshold", "abc", "lagThreshold")]
    [InlineData("lagThreshold", "-5", "lagThreshold")]
    [InlineData("activationLagThreshold", "many", "activationLagThreshold")]
    [InlineData("useHttps", "perhaps", "useHttps")]
    [InlineData("natsServerUrl", "http://127.0.0.1:4222", "natsServerUrl")]
    [InlineData("readMode", "magic", "readMode")]
    [InlineData("stream", "orders.eu", "stream")]
    [InlineData("credentialsProfile", "../etc", "credentialsProfile")]
    public async Task BadMetadata_SpecStillAnswersAndMetricsFailNamingTheKey(string key, string? value, string named)
    {
        await using var harness = await StartScalerAsync();
        var metadata = new Dictionary<string, string>
        {
            ["source"] = "nats-jetstream",
            ["natsServerUrl"] = Server.Url,
            ["stream"] = "ORDERS",
            ["consumer"] = "worker",
        };
        if (key == "account" || key == "useHttps")
        {
            // Monitoring-mode keys: read /jsz instead of the API.
            metadata.Remove("natsServerUrl");
            metadata["natsServerMonitoringEndpoint"] = Server.MonitoringEndpoint;
            metadata["account"] = "$G";
        }

        if (value is null)
        {
            metadata.Remove(key);
        }
        else
        {
            metadata[key] = value;
        }

        var reference = ScalerHarness.Ref("so", [.. metadata.Select(pair => (pair.Key, pair.Value))]);

        var spec = await harness.Client.GetMetricSpecAsync(reference);
        var metrics = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference }));
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(reference));

        var single = Assert.Single(spec.MetricSpecs);
        Assert.StartsWith("nats-jetstream", single.MetricName, StringComparison.Ordinal);
        Assert.True(single.TargetSizeFloat > 0);
        Assert.Equal(StatusCode.InvalidArgument, metrics.StatusCode);
        Assert.Contains(named, metrics.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.InvalidArgument, active.StatusCode);
    }

    [Fact]
    public async Task GetMetrics_OtherMetricName_NotFound()
    {
        await using var harness = await StartScalerAsync();
        var reference = JetStream(Api, Server, "ORDERS", "worker");

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
            await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = "nats-jetstream-payments" }));

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Contains("nats-jetstream-orders", error.Status.Detail, StringComparison.Ordinal);
    }
}
