using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Updraft.ExternalScaler.Nats;
using Updraft.ExternalScaler.Nats.Client;
using Updraft.ExternalScaler.Tests.Infrastructure;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// What a test does to a real JetStream: create streams and durable pull consumers, publish (with the stream's
/// acknowledgement), fetch and acknowledge, delete, move a consumer's leader; with NATS.Client over a connection made
/// the way the scaler makes its own (<see cref="NatsConnections"/>, credentials profiles included).
/// </summary>
internal sealed class JetStreamAdmin : IAsyncDisposable
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(5);

    private readonly NatsConnections _connections;
    private readonly INatsJSContext _jetStream;

    private JetStreamAdmin(NatsConnections connections, INatsJSContext jetStream)
    {
        _connections = connections;
        _jetStream = jetStream;
    }

    /// <summary>Connects to <paramref name="server"/>, logging in with <paramref name="profile"/> of the <paramref name="profiles"/> directory when given.</summary>
    public static async Task<JetStreamAdmin> ConnectAsync(NatsServer server, string? profiles = null, string? profile = null)
    {
        var options = new NatsOptions { Timeout = RequestTimeout, CredentialsDirectory = profiles ?? new NatsOptions().CredentialsDirectory };
        var connections = new NatsConnections(options, new NatsCredentialProfiles(options), NullLoggerFactory.Instance);
        try
        {
            var jetStream = await connections.Get([new NatsServerAddress(server.Host, server.ClientPort)], profile).JetStreamAsync(CancellationToken.None);
            return new JetStreamAdmin(connections, jetStream);
        }
        catch
        {
            await connections.DisposeAsync();
            throw;
        }
    }

    /// <summary>A stream on <c>&lt;name&gt;.&gt;</c>, file storage; retried while a cluster is still electing its leaders.</summary>
    /// <param name="node">Places the stream on the cluster node with this name (its tag <c>node:&lt;name&gt;</c>).</param>
    public Task CreateStreamAsync(string name, int replicas = 1, string? node = null) =>
        RetryAsync(async () => await _jetStream.CreateStreamAsync(new StreamConfig(name, [name + ".>"])
        {
            Storage = StreamConfigStorage.File,
            NumReplicas = replicas,
            Placement = node is null ? null : new Placement { Tags = ["node:" + node] },
        }), $"stream {name} created");

    /// <summary>A durable pull consumer with explicit acknowledgement.</summary>
    public Task CreateConsumerAsync(string stream, string durable) =>
        RetryAsync(async () => await _jetStream.CreateOrUpdateConsumerAsync(stream, new ConsumerConfig(durable)
        {
            DurableName = durable,
            AckPolicy = ConsumerConfigAckPolicy.Explicit,
            AckWait = TimeSpan.FromMinutes(10),
            MaxAckPending = 10_000,
        }), $"consumer {durable} created");

    /// <summary>Publishes <paramref name="count"/> messages to <c>&lt;stream&gt;.work</c>, each acknowledged by the stream.</summary>
    public async Task PublishAsync(string stream, int count)
    {
        for (var i = 0; i < count; i++)
        {
            var ack = await _jetStream.PublishAsync(stream + ".work", System.Text.Encoding.UTF8.GetBytes($"message {i}"));
            ack.EnsureSuccess();
            Assert.Equal(stream, ack.Stream);
        }
    }

    /// <summary>
    /// Publishes one message with id <paramref name="id"/>, retried until the stream acknowledges it (while a cluster
    /// elects a new stream leader); the stream drops the duplicates of a retry.
    /// </summary>
    public Task PublishOnceAsync(string stream, string id) =>
        RetryAsync(async () => (await _jetStream.PublishAsync(stream + ".work", System.Text.Encoding.UTF8.GetBytes(id), opts: new NatsJSPubOpts { MsgId = id })).EnsureSuccess(), $"message {id} stored");

    /// <summary>Fetches <paramref name="count"/> messages, without acknowledging them.</summary>
    public async Task<List<INatsJSMsg<byte[]>>> FetchAsync(string stream, string consumer, int count)
    {
        var messages = new List<INatsJSMsg<byte[]>>();
        var pull = await _jetStream.GetConsumerAsync(stream, consumer);
        for (var round = 0; round < 10 && messages.Count < count; round++)
        {
            await foreach (var message in pull.FetchAsync<byte[]>(new NatsJSFetchOpts { MaxMsgs = count - messages.Count, Expires = TimeSpan.FromSeconds(2) }))
            {
                messages.Add(message);
            }
        }

        Assert.Equal(count, messages.Count);
        return messages;
    }

    /// <summary>Acknowledges <paramref name="messages"/>, each confirmed by the server (so that the consumer info counts it).</summary>
    public static async Task AckAsync(IEnumerable<INatsJSMsg<byte[]>> messages)
    {
        foreach (var message in messages)
        {
            await message.AckAsync(new AckOpts { DoubleAck = true });
        }
    }

    /// <summary>The server's own view of the consumer (pending, ack pending, cluster leader).</summary>
    public async Task<ConsumerInfo> ConsumerInfoAsync(string stream, string consumer) => (await _jetStream.GetConsumerAsync(stream, consumer)).Info;

    public async Task DeleteConsumerAsync(string stream, string consumer) => Assert.True(await _jetStream.DeleteConsumerAsync(stream, consumer));

    /// <summary>Asks the consumer's leader to step down; another replica takes over.</summary>
    public async Task StepDownConsumerLeaderAsync(string stream, string consumer)
    {
        var reply = await _jetStream.Connection.RequestAsync<byte[]>($"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.{consumer}");
        using var answer = JsonDocument.Parse(reply.Data);
        Assert.True(answer.RootElement.TryGetProperty("success", out var success) && success.GetBoolean(), answer.RootElement.ToString());
    }

    public ValueTask DisposeAsync() => _connections.DisposeAsync();

    private static async Task RetryAsync(Func<Task> request, string what)
    {
        string? last = null;
        try
        {
            await ScalerHarness.WaitUntilAsync(async () =>
            {
                try
                {
                    await request();
                    return true;
                }
                catch (NatsException e)
                {
                    last = e.Message;
                    return false;
                }
            }, what);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Last answer: {last}", e);
        }
    }
}
