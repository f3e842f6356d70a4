using System.Text.Json;
using Grpc.Core;
using NATS.Client.JetStream.Models;
using Updraft.ExternalScaler.Nats;
using Updraft.ExternalScaler.Nats.JetStream;
using Updraft.ExternalScaler.Nats.Stan;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>The lag maths of the NATS sources on the documents NATS returns, and how metadata is read.</summary>
public sealed class NatsLagTests
{
    /// <summary>KEDA's documented clustered <c>/jsz</c> sample, plus a second account and stream with the same consumer name.</summary>
    private const string Jsz = """
        { "server_id": "NB1", "now": "2026-11-26T00:00:00Z", "meta_cluster": {"name": "nats", "leader": "nats-0", "cluster_size": 3},
          "account_details": [
            { "name": "$G", "id": "$G",
              "stream_detail": [
                { "name": "mystream", "cluster": {"name": "nats", "leader": "nats-2"},
                  "config": {"name": "mystream", "subjects": ["orders.>"]},
                  "state": {"messages": 1200, "bytes": 90123, "first_seq": 1, "last_seq": 1200, "consumer_count": 2},
                  "consumer_detail": [
                    { "stream_name": "mystream", "name": "pull_consumer",
                      "config": {"durable_name": "pull_consumer", "ack_policy": "explicit"},
                      "delivered": {"consumer_seq": 1100, "stream_seq": 1100}, "ack_floor": {"consumer_seq": 1095, "stream_seq": 1095},
                      "num_ack_pending": 5, "num_redelivered": 0, "num_waiting": 1, "num_pending": 100,
                      "cluster": {"name": "nats", "leader": "nats-1"} },
                    { "stream_name": "mystream", "name": "idle", "num_ack_pending": 0, "num_pending": 0 } ] },
                { "name": "other", "consumer_detail": [ { "stream_name": "other", "name": "pull_consumer", "num_ack_pending": 1, "num_pending": 1 } ] } ] },
            { "name": "TEAM_A", "id": "ACCOUNTIDOFTEAMA",
              "stream_detail": [ { "name": "mystream", "consumer_detail": [ { "name": "pull_consumer", "num_ack_pending": 2, "num_pending": 40 } ] } ] } ] }
        """;

    [Theory]
    [InlineData("$G", null, "mystream", "pull_consumer", 105L, "nats-1")]
    [InlineData("$G", null, "mystream", "idle", 0L, null)]
    [InlineData("$G", null, "other", "pull_consumer", 2L, null)]
    [InlineData("TEAM_A", null, "mystream", "pull_consumer", 42L, null)]
    [InlineData("ACCOUNTIDOFTEAMA", null, "mystream", "pull_consumer", 42L, null)]
    [InlineData("ACCOUNTIDOFTEAMA", "TEAM_A", "mystream", "pull_consumer", 42L, null)]
    public void Locate_ConsumerInJsz_LagIsPendingPlusAckPending(string accountMatch, string? accountName, string stream, string consumer, long lag, string? leader)
    {
        var document = JsonSerializer.Deserialize(Jsz, NatsJsonContext.Default.JszDocument)!;

        var location = JetStreamLag.Locate(document, accountMatch, accountName, stream, consumer);

        Assert.NotNull(location.Consumer);
        Assert.Equal(lag, new ConsumerLag(location.Consumer.NumPending, location.Consumer.NumAckPending).Lag);
        Assert.Equal(leader, location.Leader);
        Assert.Equal(3, document.MetaCluster!.ClusterSize);
    }

    [Theory]
    [InlineData("TEAM_B", "mystream", "pull_consumer", false, false, "account \"TEAM_B\"")]
    [InlineData("$G", "nostream", "pull_consumer", true, false, "stream \"nostream\"")]
    [InlineData("$G", "mystream", "gone", true, true, "consumer \"gone\"")]
    public void Locate_SomethingMissing_NotFoundNamingTheFurthestMiss(string account, string stream, string consumer, bool accountFound, bool streamFound, string named)
    {
        var document = JsonSerializer.Deserialize(Jsz, NatsJsonContext.Default.JszDocument)!;

        var location = JetStreamLag.Locate(document, account, account, stream, consumer);
        var (code, message) = JetStreamLag.Missing(location.AccountFound, location.StreamFound, account, stream, consumer, "nats:8222");

        Assert.Null(location.Consumer);
        Assert.Equal(accountFound, location.AccountFound);
        Assert.Equal(streamFound, location.StreamFound);
        Assert.Equal(StatusCode.NotFound, code);
        Assert.Contains(named, message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("c", 27UL, 3, StatusCode.OK, 30L)]
    [InlineData("c", 0UL, 0, StatusCode.OK, 0L)]
    [InlineData("other", 1UL, 1, StatusCode.Unavailable, -1L)]
    public void FromConsumerInfo_ConsumerInfo_LagOrError(string name, ulong pending, int ackPending, StatusCode code, long lag)
    {
        var info = new ConsumerInfo { StreamName = "S", Name = name, NumPending = pending, NumAckPending = ackPending };

        var result = JetStreamLag.FromConsumerInfo(info, "S", "c");

        Assert.Equal(code, result.Error);
        Assert.Equal(lag, result.Value?.Lag ?? -1);
        Assert.Equal(code == StatusCode.OK, result.Succeeded);
    }

    [Theory]
    [InlineData(404, 10014, "consumer not found", StatusCode.NotFound, "consumer \"c\" not found in stream \"S\"")]
    [InlineData(404, 10059, "stream not found", StatusCode.NotFound, "stream \"S\" not found")]
    [InlineData(404, 10999, "something else missing", StatusCode.NotFound, "something else missing (err_code 10999)")]
    [InlineData(503, 10008, "JetStream system temporarily unavailable", StatusCode.Unavailable, "JetStream answered 503 JetStream system temporarily unavailable")]
    public void FromApiError_JetStreamError_CodeAndMessageNamingIt(int code, int errorCode, string description, StatusCode status, string says)
    {
        var (actual, message) = JetStreamLag.FromApiError(code, errorCode, description, "S", "c");

        Assert.Equal(status, actual);
        Assert.Contains(says, message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, 40, new long[] { 25, 31 }, new long[] { 0, 2 }, 9, false, true)]
    [InlineData(1, 40, new long[] { 31, 25 }, new long[] { 2, 0 }, 9, true, true)]
    [InlineData(1, 40, new long[0], new long[0], 40, false, false)]
    [InlineData(0, 0, new long[0], new long[0], 0, false, false)]
    [InlineData(46210185, 46887570, new long[] { 46887207 }, new long[] { 1 }, 363, true, true)] // KEDA's documented sample
    [InlineData(46210185, 46887570, new long[0], new long[0], 677386, false, false)] // no member: the messages held, not last_seq (KEDA: 46887570)
    [InlineData(100, 120, new long[] { 50 }, new long[] { 0 }, 21, false, true)] // last_sent before first_seq: expired messages are not lag
    [InlineData(1, 10, new long[] { 12 }, new long[] { 0 }, 0, false, true)] // never negative
    public void StanCompute_Subscriptions_LagAndFirstMembersPending(long firstSeq, long lastSeq, long[] lastSent, long[] pending, long lag, bool hasPending, bool found)
    {
        var channel = new StanChannel
        {
            FirstSequence = firstSeq,
            LastSequence = lastSeq,
            Subscriptions =
            [
                new StanSubscription { QueueName = "other:workers", LastSent = 0, PendingCount = 9 },
                .. lastSent.Select((sent, i) => new StanSubscription { QueueName = "billing:workers", LastSent = sent, PendingCount = pending[i] }),
            ],
        };

        var backlog = StanLag.Compute(channel, "billing", "workers");

        Assert.Equal(new StanBacklog(lag, hasPending, found), backlog);
    }

    [Theory]
    [InlineData("nats-jetstream-ORDERS", "nats-jetstream-orders")]
    [InlineData("stan-orders.new", "stan-orders-new")]
    [InlineData("stan-a/b:c%d(e)f", "stan-a-b-c-d-e-f")]
    [InlineData("nats-jetstream-under_score", "nats-jetstream-under_score")]
    public void NormalizeMetricName_Name_KedasNormalisedForm(string name, string normalised) =>
        Assert.Equal(normalised, NatsMetadata.NormalizeMetricName(name));

    [Theory]
    [InlineData("nats://127.0.0.1:4222", null, "Api")]
    [InlineData("nats://127.0.0.1:4222", "monitoring", "Monitoring")]
    [InlineData(null, null, "Monitoring")]
    [InlineData(null, "API", "Api")]
    public void JetStreamTriggerParse_ServerUrlAndReadMode_PicksTheMode(string? serverUrl, string? readMode, string expected)
    {
        var mode = Enum.Parse<JetStreamReadMode>(expected);
        var metadata = new Dictionary<string, string>
        {
            ["natsServerMonitoringEndpoint"] = "nats.default:8222",
            ["account"] = "$G",
            ["stream"] = "ORDERS",
            ["consumer"] = "worker",
        };
        if (serverUrl is not null)
        {
            metadata["natsServerUrl"] = serverUrl;
        }

        if (readMode is not null)
        {
            metadata["readMode"] = readMode;
        }

        var trigger = JetStreamTrigger.Parse(metadata);

        Assert.Equal(mode, trigger.Mode);
        if (serverUrl is null && mode == JetStreamReadMode.Api)
        {
            Assert.Contains("metadata natsServerUrl is required", trigger.Problem, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(trigger.Problem);
        }
    }

    [Theory]
    [InlineData("nats://a:4222,nats://b:4223", "nats://a:4222,nats://b:4223")]
    [InlineData("a,b:5000", "nats://a:4222,nats://b:5000")]
    [InlineData("tls://a,nats://b:4223", "tls://a:4222,nats://b:4223")]
    public void JetStreamTriggerParse_ServerList_EveryServer(string text, string servers)
    {
        var trigger = JetStreamTrigger.Parse(new Dictionary<string, string> { ["natsServerUrl"] = text, ["stream"] = "S", ["consumer"] = "c" });

        Assert.Null(trigger.Problem);
        Assert.Equal(servers, string.Join(",", trigger.Servers!));
    }

    [Theory]
    [InlineData(null, false, "http://nats.default:8222/")]
    [InlineData("true", false, "https://nats.default:8222/")]
    [InlineData("false", false, "http://nats.default:8222/")]
    [InlineData("maybe", true, "http://nats.default:8222/")]
    public void StanTriggerParse_UseHttps_SchemeOfTheEndpoint(string? useHttps, bool problem, string url)
    {
        var metadata = new Dictionary<string, string>
        {
            ["natsServerMonitoringEndpoint"] = "nats.default:8222",
            ["subject"] = "orders",
            ["durableName"] = "d",
            ["queueGroup"] = "g",
        };
        if (useHttps is not null)
        {
            metadata["useHttps"] = useHttps;
        }

        var trigger = StanTrigger.Parse(metadata);

        Assert.Equal(problem, trigger.Problem is not null);
        Assert.Equal(url, trigger.MonitoringEndpoint!.ToString());
        Assert.Equal(url + "streaming/channelsz?channel=orders&subs=1", trigger.ChannelUrl.ToString());
    }
}
