using System.Threading.Channels;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Protos.V1;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>
/// A real <c>updraft.v1.LocalReplicas</c> feed on a loopback port (Kestrel, h2c), playing the local autoscaler: every
/// stream gets the current snapshot at once and each later one; acknowledgements are recorded as they arrive.
/// </summary>
internal sealed class TestReplicaFeed : IAsyncDisposable
{
    private readonly TestUpstream _server;
    private readonly FeedState _state;

    private TestReplicaFeed(TestUpstream server, FeedState state)
    {
        _server = server;
        _state = state;
    }

    public int Port => _server.Port;

    /// <summary><c>host:port</c>, as <c>UPDRAFT_LOCAL_REPLICAS</c> takes it.</summary>
    public string Address => "127.0.0.1:" + Port;

    /// <summary>Watch streams opened so far.</summary>
    public int Streams => Volatile.Read(ref _state.Streams);

    /// <summary>Watch streams open now.</summary>
    public int OpenStreams => Volatile.Read(ref _state.Open);

    /// <summary>Every acknowledged version, in order of arrival.</summary>
    public IReadOnlyList<ulong> Acks
    {
        get
        {
            lock (_state)
            {
                return [.. _state.Acks];
            }
        }
    }

    /// <summary>Called on the stream's thread for each acknowledgement, before it is recorded.</summary>
    public Action<ulong>? OnAck
    {
        get => _state.OnAck;
        set => _state.OnAck = value;
    }

    /// <param name="port">0 picks a free port; a port given again restarts a feed there.</param>
    /// <param name="firstVersion">The version of the first snapshot this feed sends.</param>
    public static async Task<TestReplicaFeed> StartAsync(int port = 0, ulong firstVersion = 1)
    {
        var state = new FeedState { NextVersion = firstVersion };
        var server = await TestUpstream.StartAppAsync(
            app => app.MapGrpcService<FeedService>(),
            listen => listen.Protocols = HttpProtocols.Http2,
            services =>
            {
                services.AddGrpc(grpc => grpc.MaxSendMessageSize = null);
                services.AddSingleton(state);
            },
            port);
        return new TestReplicaFeed(server, state);
    }

    /// <summary>Sends a snapshot of these workloads (namespace <c>default</c>) to every stream; returns its version.</summary>
    public ulong Publish(params (string Name, string[] Ready)[] workloads)
    {
        var snapshot = new ReplicaSnapshot();
        foreach (var (name, ready) in workloads)
        {
            snapshot.Workloads.Add(new WorkloadReplicas { Namespace = "default", Name = name, Ready = { ready } });
        }

        return Publish(snapshot);
    }

    /// <summary>Sends <paramref name="snapshot"/> as it is (its version is set here) to every stream; returns the version.</summary>
    public ulong Publish(ReplicaSnapshot snapshot)
    {
        lock (_state)
        {
            snapshot.Version = _state.NextVersion++;
            _state.Current = snapshot;
            foreach (var stream in _state.Subscribers)
            {
                stream.Writer.TryWrite(snapshot);
            }

            return snapshot.Version;
        }
    }

    public Task WaitForAckAsync(ulong version) =>
        TestInterceptor.WaitUntilAsync(() => Task.FromResult(Acks.Contains(version)), $"the feed got the acknowledgement of snapshot {version}");

    /// <summary>Ends every stream (as the autoscaler does when it stops), then stops the server.</summary>
    public async ValueTask DisposeAsync()
    {
        lock (_state)
        {
            _state.Stopped = true;
            foreach (var stream in _state.Subscribers)
            {
                stream.Writer.TryComplete();
            }
        }

        await _server.DisposeAsync();
    }

    internal sealed class FeedState
    {
        public readonly List<Channel<ReplicaSnapshot>> Subscribers = [];
        public readonly List<ulong> Acks = [];
        public ulong NextVersion;
        public ReplicaSnapshot? Current;
        public int Streams;
        public int Open;
        public bool Stopped;
        public volatile Action<ulong>? OnAck;
    }

    private sealed class FeedService(FeedState state) : LocalReplicas.LocalReplicasBase
    {
        public override async Task Watch(IAsyncStreamReader<ReplicasApplied> requestStream, IServerStreamWriter<ReplicaSnapshot> responseStream, ServerCallContext context)
        {
            var snapshots = Channel.CreateUnbounded<ReplicaSnapshot>();
            lock (state)
            {
                if (state.Stopped)
                {
                    return;
                }

                state.Subscribers.Add(snapshots);
                if (state.Current is { } current)
                {
                    snapshots.Writer.TryWrite(current);
                }
            }

            Interlocked.Increment(ref state.Streams);
            Interlocked.Increment(ref state.Open);
            using var done = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken);
            var acks = ReadAcksAsync(requestStream, done.Token);
            try
            {
                await foreach (var snapshot in snapshots.Reader.ReadAllAsync(context.CancellationToken))
                {
                    await responseStream.WriteAsync(snapshot, context.CancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                // The interceptor dropped the stream.
            }
            finally
            {
                lock (state)
                {
                    state.Subscribers.Remove(snapshots);
                }

                Interlocked.Decrement(ref state.Open);
                await done.CancelAsync();
                await acks.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }

        private async Task ReadAcksAsync(IAsyncStreamReader<ReplicasApplied> requestStream, CancellationToken cancellationToken)
        {
            while (await requestStream.MoveNext(cancellationToken))
            {
                var version = requestStream.Current.Version;
                state.OnAck?.Invoke(version);
                lock (state)
                {
                    state.Acks.Add(version);
                }
            }
        }
    }
}
