using Grpc.Core;
using NATS.Client.Core;
using NATS.Client.JetStream;
using Updraft.ExternalScaler.Nats.Client;
using Updraft.ExternalScaler.Nats.Polling;

namespace Updraft.ExternalScaler.Nats.JetStream;

/// <summary>
/// Reads a consumer's lag from the JetStream context's consumer info (<c>$JS.API.CONSUMER.INFO.&lt;stream&gt;.&lt;consumer&gt;</c>,
/// one request per poll) over the shared connection of (servers, credentials profile). In a cluster the consumer's
/// leader answers, so no node walk is needed. The account is the one the credentials log in to.
/// </summary>
internal sealed class ApiLagProbe(NatsConnections connections, NatsOptions options, JetStreamTrigger trigger)
{
    private readonly string _subject = $"$JS.API.CONSUMER.INFO.{trigger.Stream}.{trigger.Consumer}";

    public async Task<PollResult<ConsumerLag>> PollAsync(CancellationToken cancellationToken)
    {
        SharedNatsConnection? connection = null;
        try
        {
            connection = connections.Get(trigger.Servers!, trigger.CredentialsProfile);
            var jetStream = await connection.JetStreamAsync(cancellationToken);
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            deadline.CancelAfter(options.Timeout);
            var consumer = await jetStream.GetConsumerAsync(trigger.Stream, trigger.Consumer, deadline.Token);
            return JetStreamLag.FromConsumerInfo(consumer.Info, trigger.Stream, trigger.Consumer);
        }
        catch (NatsProfileException e)
        {
            return PollResult<ConsumerLag>.Fail(StatusCode.FailedPrecondition, e.Message);
        }
        catch (NatsConnectionException e)
        {
            return Fail(e.Code, e.Message);
        }
        catch (NatsJSApiException e)
        {
            var (code, message) = JetStreamLag.FromApiError(e.Error.Code, e.Error.ErrCode, e.Error.Description, trigger.Stream, trigger.Consumer);
            return PollResult<ConsumerLag>.Fail(code, message);
        }
        catch (NatsNoRespondersException)
        {
            return Fail(StatusCode.Unavailable, $"nothing at {connection!.Servers} answers {_subject} (is JetStream enabled for this account?)");
        }
        catch (Exception e) when (e is OperationCanceledException or NatsNoReplyException or NatsJSApiNoResponseException or NatsTimeoutException && !cancellationToken.IsCancellationRequested)
        {
            return Fail(StatusCode.Unavailable, $"no reply to {_subject} from {connection!.Servers} within {options.Timeout.TotalSeconds:0.###} s");
        }
        catch (NatsException e)
        {
            return Fail(StatusCode.Unavailable, $"{_subject} at {connection?.Servers}: {e.Message}");
        }
    }

    private PollResult<ConsumerLag> Fail(StatusCode code, string message) => PollResult<ConsumerLag>.Fail(code, $"{trigger.Describe()}: {message}");
}
