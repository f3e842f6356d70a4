using System.Text;
using System.Text.Json;
using Updraft.ExternalScaler.Nats.Client;
using Updraft.ExternalScaler.Tests.Infrastructure;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// What a test does to a real JetStream: create streams and durable pull consumers, publish (with the stream's
/// acknowledgement), fetch and acknowledge, delete, move a consumer's leader; over the JetStream JSON API.
/// </summary>
internal sealed class JetStreamAdmin : IAsyncDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly NatsConnection _connection;

    private JetStreamAdmin(NatsConnection connection)
    {
        _connection = connection;
    }

    /// <param name="tls">TLS settings for a server that requires TLS (the caller disposes them after the admin).</param>
    public static async Task<JetStreamAdmin> ConnectAsync(NatsServer server, NatsCredentials? credentials = null, NatsTls? tls = null) =>
        new(await NatsConnection.ConnectAsync(new NatsServerAddress(server.Host, server.ClientPort), credentials, tls, RequestTimeout, CancellationToken.None));

    /// <summary>A stream on <c>&lt;name&gt;.&gt;</c>, file storage; retried while a cluster is still electing its leaders.</summary>
    /// <param name="node">Places the stream on the cluster node with this name (its tag <c>node:&lt;name&gt;</c>).</param>
    public async Task CreateStreamAsync(string name, int replicas = 1, string? node = null)
    {
        var settings = new Dictionary<string, object>
        {
            ["name"] = name,
            ["subjects"] = new[] { name + ".>" },
            ["storage"] = "file",
            ["num_replicas"] = replicas,
        };
        if (node is not null)
        {
            settings["placement"] = new Dictionary<string, object> { ["tags"] = new[] { "node:" + node } };
        }

        var config = JsonSerializer.Serialize(settings);
        await RetryAsync($"$JS.API.STREAM.CREATE.{name}", config, $"stream {name} created");
    }

    /// <summary>A durable pull consumer with explicit acknowledgement.</summary>
    public async Task CreateConsumerAsync(string stream, string durable)
    {
        var config = $$$"""{"stream_name":"{{{stream}}}","config":{"durable_name":"{{{durable}}}","ack_policy":"explicit","ack_wait":600000000000,"max_ack_pending":10000}}""";
        await RetryAsync($"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{durable}", config, $"consumer {durable} created");
    }

    /// <summary>Publishes <paramref name="count"/> messages to <c>&lt;stream&gt;.work</c>, each acknowledged by the stream.</summary>
    public async Task PublishAsync(string stream, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var reply = await _connection.RequestAsync(stream + ".work", Encoding.UTF8.GetBytes($"message {i}"), RequestTimeout, CancellationToken.None);
            using var ack = JsonDocument.Parse(reply.Payload);
            Assert.True(ack.RootElement.TryGetProperty("seq", out _), $"publish to {stream}: {reply.Text}");
        }
    }

    /// <summary>Fetches up to <paramref name="count"/> messages, one pull request each; returns their ack subjects.</summary>
    public async Task<List<string>> FetchAsync(string stream, string consumer, int count)
    {
        var acks = new List<string>();
        for (var i = 0; i < count; i++)
        {
            var reply = await _connection.RequestAsync($"$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}", """{"batch":1,"expires":2000000000}"""u8.ToArray(), RequestTimeout, CancellationToken.None);
            Assert.True(reply.Status is null, $"fetch from {consumer}: status {reply.Status} {reply.StatusDescription}");
            acks.Add(reply.ReplyTo ?? throw new InvalidOperationException("a fetched message has no ack subject"));
        }

        return acks;
    }

    public async Task AckAsync(IEnumerable<string> ackSubjects)
    {
        foreach (var subject in ackSubjects)
        {
            await _connection.PublishAsync(subject, null, "+ACK"u8.ToArray(), CancellationToken.None);
        }
    }

    /// <summary>The server's own view of the consumer (<c>num_pending</c>, <c>num_ack_pending</c>, <c>cluster.leader</c>).</summary>
    public async Task<JsonElement> ConsumerInfoAsync(string stream, string consumer)
    {
        using var info = await _connection.RequestJsonAsync($"$JS.API.CONSUMER.INFO.{stream}.{consumer}", "", RequestTimeout, CancellationToken.None);
        return info.RootElement.Clone();
    }

    public async Task DeleteConsumerAsync(string stream, string consumer)
    {
        using var reply = await _connection.RequestJsonAsync($"$JS.API.CONSUMER.DELETE.{stream}.{consumer}", "", RequestTimeout, CancellationToken.None);
        Assert.True(reply.RootElement.TryGetProperty("success", out var success) && success.GetBoolean(), reply.RootElement.ToString());
    }

    /// <summary>Asks the consumer's leader to step down; another replica takes over.</summary>
    public async Task StepDownConsumerLeaderAsync(string stream, string consumer)
    {
        using var reply = await _connection.RequestJsonAsync($"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.{consumer}", "", RequestTimeout, CancellationToken.None);
        Assert.True(reply.RootElement.TryGetProperty("success", out var success) && success.GetBoolean(), reply.RootElement.ToString());
    }

    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private async Task RetryAsync(string subject, string json, string what)
    {
        string? last = null;
        await ScalerHarness.WaitUntilAsync(async () =>
        {
            try
            {
                using var reply = await _connection.RequestJsonAsync(subject, json, RequestTimeout, CancellationToken.None);
                last = reply.RootElement.ToString();
                return !reply.RootElement.TryGetProperty("error", out _);
            }
            catch (Exception e) when (e is TimeoutException or NatsConnectionException)
            {
                last = e.Message;
                return false;
            }
        }, $"{what} (last answer: {last})");
    }
}
