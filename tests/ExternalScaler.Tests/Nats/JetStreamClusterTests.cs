using System.Text.Json;
using Grpc.Core;
using NATS.Client.Core;
using NATS.Client.JetStream.Models;
using Updraft.ExternalScaler.Tests.Infrastructure;
using static Updraft.ExternalScaler.Tests.Nats.NatsTesting;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// <c>source: nats-jetstream</c> on a real 3-node JetStream cluster (R3 streams and consumers), where only the
/// consumer's leader reports current numbers: the monitoring mode must find and follow the leader, the API mode is
/// answered by it.
/// </summary>
public sealed class JetStreamClusterTests(NatsClusterFixture fixture) : IClassFixture<NatsClusterFixture>
{
    private NatsCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task GetMetrics_MonitoringEndpointIsAFollower_ReportsTheLeadersLag()
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Cluster.Nodes[0]);
        await admin.CreateStreamAsync(stream, replicas: 3);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, 12);
        await JetStreamAdmin.AckAsync(await admin.FetchAsync(stream, "worker", 4));
        var leader = await WaitForConsumerLeaderAsync(admin, stream, 8);
        var follower = Cluster.Nodes.First(n => n.Name != leader);
        await using var harness = await StartScalerAsync();
        var reference = JetStream(Monitoring, follower, stream, "worker");

        await WaitForMetricAsync(harness, reference, 8);

        // The follower the trigger names does not know the consumer's current numbers: its own /jsz still says 12.
        Assert.Equal(12, await JszPendingAsync(follower, stream));
        Assert.Equal(8, await JszPendingAsync(Cluster.Nodes.First(n => n.Name == leader), stream));
    }

    [Fact]
    public async Task GetMetrics_ConsumerLeaderMoves_MonitoringFollowsTheNewLeader()
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Cluster.Nodes[0]);
        await admin.CreateStreamAsync(stream, replicas: 3);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, 10);
        await JetStreamAdmin.AckAsync(await admin.FetchAsync(stream, "worker", 2));
        var first = await WaitForConsumerLeaderAsync(admin, stream, 8);
        await using var harness = await StartScalerAsync();
        var reference = JetStream(Monitoring, Cluster.Nodes.First(n => n.Name != first), stream, "worker");
        await WaitForMetricAsync(harness, reference, 8);

        await admin.StepDownConsumerLeaderAsync(stream, "worker");
        string? second = null;
        await ScalerHarness.WaitUntilAsync(async () =>
        {
            second = await LeaderAsync(admin, stream);
            return second is not null && second != first;
        }, "another node leads the consumer");
        await JetStreamAdmin.AckAsync(await admin.FetchAsync(stream, "worker", 3));

        // The old leader is a follower now and keeps its stale 8 (keda#6042 read it forever).
        await WaitForMetricAsync(harness, reference, 5);
        Assert.NotEqual(first, second);
    }

    [Fact]
    public async Task GetMetrics_SingleReplicaStreamOnAnotherNode_MonitoringFindsIt()
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Cluster.Nodes[0]);
        await admin.CreateStreamAsync(stream, replicas: 1, node: Cluster.Nodes[2].Name);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, 7);
        await JetStreamAdmin.AckAsync(await admin.FetchAsync(stream, "worker", 2));
        await WaitForConsumerLeaderAsync(admin, stream, 5);
        await using var harness = await StartScalerAsync();
        // The endpoint's node does not hold the stream at all.
        var reference = JetStream(Monitoring, Cluster.Nodes[0], stream, "worker");

        await WaitForMetricAsync(harness, reference, 5);

        await Assert.ThrowsAsync<InvalidOperationException>(() => JszPendingAsync(Cluster.Nodes[0], stream));
    }

    [Fact]
    public async Task GetMetrics_ApiOnACluster_ReportsTheLeadersLagThroughAnyNode()
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Cluster.Nodes[0]);
        await admin.CreateStreamAsync(stream, replicas: 3);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, 9);
        var fetched = await admin.FetchAsync(stream, "worker", 3);
        await JetStreamAdmin.AckAsync(fetched.Take(1));
        var leader = await WaitForConsumerLeaderAsync(admin, stream, 6);
        var follower = Cluster.Nodes.First(n => n.Name != leader);
        await using var harness = await StartScalerAsync();
        var reference = JetStream(Api, follower, stream, "worker");

        // 6 pending + 2 delivered and not acknowledged.
        await WaitForMetricAsync(harness, reference, 8);
    }

    [Fact]
    public async Task GetMetrics_ApiConnectedToTheConsumerLeaderWhichStops_NeverZeroThenTheNewLeadersLagThroughAnotherNode()
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(Cluster.Nodes[0]);
        await admin.CreateStreamAsync(stream, replicas: 3);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, 9);
        await JetStreamAdmin.AckAsync(await admin.FetchAsync(stream, "worker", 2));
        var leaderName = await WaitForConsumerLeaderAsync(admin, stream, 7);
        var leader = Cluster.Nodes.First(n => n.Name == leaderName);
        await using var survivor = await JetStreamAdmin.ConnectAsync(Cluster.Nodes.First(n => n != leader));
        await using var harness = await StartScalerAsync();
        // The scaler knows only the leader's address: the other nodes come from the cluster (INFO connect_urls).
        var reference = JetStream(Api, leader, stream, "worker");
        await WaitForMetricAsync(harness, reference, 7);

        await leader.StopAsync();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                await survivor.PublishOnceAsync(stream, $"{stream}-after-{i}");
            }

            // While the scaler reconnects and the replicas elect a new leader, every answer is an error or a real
            // backlog (7 to 10), never 0; then the new leader's 10 arrives through a node the scaler was never given.
            await ScalerHarness.WaitUntilAsync(async () =>
            {
                try
                {
                    var value = await MetricAsync(harness, reference);
                    Assert.InRange(value, 7, 10);
                    return value == 10;
                }
                catch (RpcException e)
                {
                    Assert.True(e.StatusCode == StatusCode.Unavailable, e.Status.Detail);
                    return false;
                }
            }, "the new leader's backlog of 10 is reported");
            Assert.False(leader.Running);
            Assert.NotEqual(leaderName, await LeaderAsync(survivor, stream));
        }
        finally
        {
            // The fixture's cluster serves the other tests.
            await leader.StartAgainAsync();
        }
    }

    /// <summary>Waits until the leader reports <paramref name="pending"/>; returns its name.</summary>
    private static async Task<string> WaitForConsumerLeaderAsync(JetStreamAdmin admin, string stream, long pending)
    {
        string? leader = null;
        await ScalerHarness.WaitUntilAsync(async () =>
        {
            ConsumerInfo info;
            try
            {
                info = await admin.ConsumerInfoAsync(stream, "worker");
            }
            catch (NatsException)
            {
                // No leader while one is being elected.
                return false;
            }

            leader = info.Cluster?.Leader;
            return leader is not null && info.NumPending == (ulong)pending;
        }, $"the consumer's leader reports {pending} pending");
        return leader!;
    }

    private static async Task<string?> LeaderAsync(JetStreamAdmin admin, string stream)
    {
        try
        {
            return (await admin.ConsumerInfoAsync(stream, "worker")).Cluster?.Leader;
        }
        catch (NatsException)
        {
            return null;
        }
    }

    /// <summary>What <paramref name="node"/>'s own <c>/jsz</c> says the consumer has pending.</summary>
    private static async Task<long> JszPendingAsync(NatsServer node, string stream)
    {
        using var http = new HttpClient();
        using var document = JsonDocument.Parse(await http.GetStringAsync(new Uri($"http://{node.MonitoringEndpoint}/jsz?acc=%24G&config=true&consumers=true")));
        var accounts = document.RootElement.TryGetProperty("account_details", out var details) ? details.EnumerateArray().ToList() : [];
        foreach (var account in accounts)
        {
            var streams = account.TryGetProperty("stream_detail", out var list) ? list.EnumerateArray().ToList() : [];
            foreach (var candidate in streams)
            {
                if (candidate.GetProperty("name").GetString() == stream)
                {
                    return candidate.GetProperty("consumer_detail")[0].GetProperty("num_pending").GetInt64();
                }
            }
        }

        throw new InvalidOperationException($"{node.Name} does not list stream {stream}");
    }
}
