using Grpc.Core;
using Updraft.Protos.V1;

namespace Updraft.Local.Feed;

/// <summary><c>updraft.v1.LocalReplicas/Watch</c>: a full snapshot at once and on every change; the client confirms each.</summary>
internal sealed class LocalReplicasService(ReplicaFeed feed) : LocalReplicas.LocalReplicasBase
{
    public override async Task Watch(IAsyncStreamReader<ReplicasApplied> requestStream, IServerStreamWriter<ReplicaSnapshot> responseStream, ServerCallContext context)
    {
        var subscriber = feed.Subscribe(context.Peer);
        var confirmations = ReadConfirmationsAsync(requestStream, subscriber, context.CancellationToken);
        try
        {
            await foreach (var snapshot in subscriber.Outbox.Reader.ReadAllAsync(context.CancellationToken))
            {
                await responseStream.WriteAsync(snapshot, context.CancellationToken);
            }
        }
        catch (OperationCanceledException) when (context.CancellationToken.IsCancellationRequested)
        {
            // The interceptor went away, or this process is stopping.
        }
        finally
        {
            feed.Unsubscribe(subscriber);
            await confirmations;
        }
    }

    private static async Task ReadConfirmationsAsync(IAsyncStreamReader<ReplicasApplied> requests, ReplicaFeed.Subscriber subscriber, CancellationToken cancellationToken)
    {
        try
        {
            while (await requests.MoveNext(cancellationToken))
            {
                subscriber.Applied(requests.Current.Version);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or RpcException or InvalidOperationException)
        {
            // The stream ended; Unsubscribe releases whoever waits for this interceptor.
        }
        finally
        {
            // A client that closes its side is gone too: it can confirm nothing more.
            subscriber.Left();
        }
    }
}
