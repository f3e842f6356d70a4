using System.Collections.Concurrent;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using static Updraft.ExternalScaler.Tests.Nats.NatsTesting;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// <c>source: stan</c> through KEDA's gRPC contract. No NATS Streaming server can be had, so a real Kestrel server on
/// loopback serves recorded <c>/streaming/channelsz</c> answers of nats-streaming-server (its JSON, and its plain-text
/// 404 for an unknown channel).
/// </summary>
public sealed class StanScalingTests
{
    /// <summary>nats-streaming-server's answer to <c>/streaming/channelsz?channel=orders.new&amp;subs=1</c>: a durable
    /// queue group <c>billing:workers</c> with two members, a plain subscriber, and another group.</summary>
    private const string RecordedChannel = """
        {
          "name": "orders.new",
          "msgs": 40,
          "bytes": 2440,
          "first_seq": 1,
          "last_seq": 40,
          "subscriptions": [
            {"client_id": "billing-1", "inbox": "_INBOX.hZ4r1q7G2Sa6xV2Xr0Jc1m", "ack_inbox": "_STAN.subacks.JVH2.orders.new.hZ4r1q7G2Sa6xV2Xr0JcA3",
             "queue_name": "billing:workers", "is_durable": true, "is_offline": false, "max_inflight": 1024, "ack_wait": 30,
             "last_sent": 25, "pending_count": 0, "is_stalled": false},
            {"client_id": "billing-2", "inbox": "_INBOX.hZ4r1q7G2Sa6xV2Xr0Jc6n", "ack_inbox": "_STAN.subacks.JVH2.orders.new.hZ4r1q7G2Sa6xV2Xr0JcB7",
             "queue_name": "billing:workers", "is_durable": true, "is_offline": false, "max_inflight": 1024, "ack_wait": 30,
             "last_sent": 31, "pending_count": 2, "is_stalled": false},
            {"client_id": "audit", "inbox": "_INBOX.hZ4r1q7G2Sa6xV2Xr0JcQ2", "ack_inbox": "_STAN.subacks.JVH2.orders.new.hZ4r1q7G2Sa6xV2Xr0JcC1",
             "is_durable": false, "is_offline": false, "max_inflight": 1024, "ack_wait": 30, "last_sent": 40, "pending_count": 0, "is_stalled": false},
            {"client_id": "stats-1", "inbox": "_INBOX.hZ4r1q7G2Sa6xV2Xr0JcZ9", "ack_inbox": "_STAN.subacks.JVH2.orders.new.hZ4r1q7G2Sa6xV2Xr0JcD4",
             "queue_name": "stats:workers", "is_durable": true, "is_offline": false, "max_inflight": 1024, "ack_wait": 30,
             "last_sent": 38, "pending_count": 1, "is_stalled": false}
          ]
        }
        """;

    [Theory]
    [InlineData("billing", "workers", 9)] // 40 - max(25, 31)
    [InlineData("stats", "workers", 2)] // 40 - 38
    [InlineData("reports", "workers", 40)] // no member yet: the whole channel
    public async Task GetMetrics_RecordedChannel_IsLastSeqMinusTheGroupsLastSent(string durable, string group, double lag)
    {
        await using var monitor = await StanMonitor.StartAsync();
        monitor.Answer("orders.new", StatusCodes.Status200OK, RecordedChannel);
        await using var harness = await StartScalerAsync();
        var reference = Stan(monitor, ("durableName", durable), ("queueGroup", group));

        await WaitForMetricAsync(harness, reference, lag);

        var response = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = "stan-orders-new" });
        Assert.Equal("stan-orders-new", Assert.Single(response.MetricValues).MetricName);
        Assert.Contains("/streaming/channelsz?channel=orders.new&subs=1", monitor.Requests);
    }

    [Theory]
    [InlineData("billing", "0", true)] // lag 9 > 0
    [InlineData("billing", "20", false)] // lag 9; the group's FIRST member has nothing pending (the second has 2): KEDA's rule
    [InlineData("stats", "20", true)] // lag 2, but its first member has 1 pending
    [InlineData("reports", "39", true)] // lag 40 > 39
    [InlineData("reports", "40", false)]
    public async Task IsActive_LagAndPendingAgainstActivation_KedasRule(string durable, string activation, bool active)
    {
        await using var monitor = await StanMonitor.StartAsync();
        monitor.Answer("orders.new", StatusCodes.Status200OK, RecordedChannel);
        await using var harness = await StartScalerAsync();
        var reference = Stan(monitor, ("durableName", durable), ("queueGroup", "workers"), ("activationLagThreshold", activation));
        await ScalerHarness.WaitUntilAsync(async () =>
        {
            try
            {
                await MetricAsync(harness, reference);
                return true;
            }
            catch (RpcException)
            {
                return false;
            }
        }, "the channel was read");

        var response = await harness.Client.IsActiveAsync(reference);

        Assert.Equal(active, response.Result);
    }

    [Fact]
    public async Task GetMetrics_UnknownChannel404_NotFoundInsteadOfKedasEmptyAnswer()
    {
        await using var monitor = await StanMonitor.StartAsync();
        await using var harness = await StartScalerAsync();
        var reference = Stan(monitor, ("durableName", "billing"), ("queueGroup", "workers"));

        var error = await WaitForErrorAsync(harness, reference, StatusCode.NotFound);
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(reference));

        Assert.Contains("channel \"orders.new\"", error.Status.Detail, StringComparison.Ordinal);
        Assert.Contains("404", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(StatusCode.NotFound, active.StatusCode);
    }

    [Theory]
    [InlineData(StatusCodes.Status500InternalServerError, "internal error", "500")]
    [InlineData(StatusCodes.Status503ServiceUnavailable, "", "503")]
    [InlineData(StatusCodes.Status200OK, "<html>not the monitoring port</html>", "JSON")]
    public async Task GetMetrics_ServerAnswersBadly_UnavailableThenRecovers(int status, string body, string said)
    {
        await using var monitor = await StanMonitor.StartAsync();
        monitor.Answer("orders.new", status, body);
        await using var harness = await StartScalerAsync();
        var reference = Stan(monitor, ("durableName", "billing"), ("queueGroup", "workers"));

        var error = await WaitForErrorAsync(harness, reference, StatusCode.Unavailable);
        monitor.Answer("orders.new", StatusCodes.Status200OK, RecordedChannel);

        Assert.Contains(said, error.Status.Detail, StringComparison.Ordinal);
        await WaitForMetricAsync(harness, reference, 9);
    }

    [Fact]
    public async Task GetMetrics_MonitoringEndpointDown_Unavailable()
    {
        var port = ScalerHarness.FreePort();
        await using var harness = await StartScalerAsync();
        var reference = ScalerHarness.Ref("so", ("source", "stan"), ("natsServerMonitoringEndpoint", $"127.0.0.1:{port}"),
            ("subject", "orders.new"), ("durableName", "billing"), ("queueGroup", "workers"));

        var error = await WaitForErrorAsync(harness, reference, StatusCode.Unavailable);

        Assert.Contains($"127.0.0.1:{port}", error.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetMetricSpec_SubjectAndLagThreshold_KedasNormalisedNameAndTarget()
    {
        await using var harness = await StartScalerAsync();

        var spec = await harness.Client.GetMetricSpecAsync(ScalerHarness.Ref("so", ("source", "stan"), ("natsServerMonitoringEndpoint", "stan:8222"),
            ("subject", "Orders.New"), ("durableName", "billing"), ("queueGroup", "workers"), ("lagThreshold", "50")));

        var single = Assert.Single(spec.MetricSpecs);
        Assert.Equal("stan-orders-new", single.MetricName);
        Assert.Equal(50, single.TargetSizeFloat);
    }

    [Theory]
    [InlineData("natsServerMonitoringEndpoint", null, "natsServerMonitoringEndpoint")]
    [InlineData("subject", null, "subject")]
    [InlineData("durableName", null, "durableName")]
    [InlineData("queueGroup", "", "queueGroup")]
    [InlineData("lagThreshold", "0", "lagThreshold")]
    [InlineData("lagThreshold", "abc", "lagThreshold")]
    [InlineData("useHttps", "yes", "useHttps")]
    public async Task BadMetadata_SpecStillAnswersAndMetricsFailNamingTheKey(string key, string? value, string named)
    {
        await using var harness = await StartScalerAsync();
        var metadata = new Dictionary<string, string>
        {
            ["source"] = "stan",
            ["natsServerMonitoringEndpoint"] = "127.0.0.1:8222",
            ["subject"] = "orders.new",
            ["durableName"] = "billing",
            ["queueGroup"] = "workers",
        };
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

        var single = Assert.Single(spec.MetricSpecs);
        Assert.StartsWith("stan", single.MetricName, StringComparison.Ordinal);
        Assert.Equal(10, single.TargetSizeFloat);
        Assert.Equal(StatusCode.InvalidArgument, metrics.StatusCode);
        Assert.Contains(named, metrics.Status.Detail, StringComparison.Ordinal);
    }

    private static ScaledObjectRef Stan(StanMonitor monitor, params (string Key, string Value)[] extra) =>
        ScalerHarness.Ref("so", [("source", "stan"), ("natsServerMonitoringEndpoint", $"127.0.0.1:{monitor.Port}"), ("subject", "orders.new"), .. extra]);

    /// <summary>A NATS Streaming monitoring port replaying recorded answers per channel (404 as the server words it otherwise).</summary>
    private sealed class StanMonitor : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, (int Status, string Body)> _answers = new();
        private TestUpstream _server = null!;

        public ConcurrentBag<string> Requests { get; } = [];

        public int Port => _server.Port;

        public static async Task<StanMonitor> StartAsync()
        {
            var monitor = new StanMonitor();
            monitor._server = await TestUpstream.StartAsync(monitor.HandleAsync);
            return monitor;
        }

        public void Answer(string channel, int status, string body) => _answers[channel] = (status, body);

        public ValueTask DisposeAsync() => _server.DisposeAsync();

        private async Task HandleAsync(HttpContext context)
        {
            Requests.Add(context.Request.Path + context.Request.QueryString);
            var channel = context.Request.Query["channel"].ToString();
            if (context.Request.Path != "/streaming/channelsz" || !_answers.TryGetValue(channel, out var answer))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                context.Response.ContentType = "text/plain; charset=utf-8";
                await context.Response.WriteAsync($"Channel {channel} not found\n");
                return;
            }

            context.Response.StatusCode = answer.Status;
            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(answer.Body);
        }
    }
}
