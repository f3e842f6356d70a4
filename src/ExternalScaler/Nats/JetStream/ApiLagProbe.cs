using System.Text.Json;
using Grpc.Core;
using Updraft.ExternalScaler.Nats.Client;
using Updraft.ExternalScaler.Nats.Polling;

namespace Updraft.ExternalScaler.Nats.JetStream;

/// <summary>
/// Reads a consumer's lag with <c>$JS.API.CONSUMER.INFO.&lt;stream&gt;.&lt;consumer&gt;</c> over the shared NATS connection
/// of (servers, credentials profile). In a cluster the consumer's leader answers, so no node walk is needed. The
/// account is the one the credentials log in to.
/// </summary>
internal sealed class ApiLagProbe(NatsConnections connections, NatsOptions options, JetStreamTrigger trigger)
{
    private readonly string _subject = $"$JS.API.CONSUMER.INFO.{trigger.Stream}.{trigger.Consumer}";

    public async Task<PollResult<ConsumerLag>> PollAsync(CancellationToken cancellationToken)
    {
        NatsMessage reply;
        NatsConnection? connection = null;
        try
        {
            connection = await connections.GetAsync(trigger.Servers!, trigger.CredentialsProfile, cancellationToken);
            reply = await connection.RequestAsync(_subject, ReadOnlyMemory<byte>.Empty, options.Timeout, cancellationToken);
        }
        catch (NatsProfileException e)
        {
            return PollResult<ConsumerLag>.Fail(StatusCode.FailedPrecondition, e.Message);
        }
        catch (NatsConnectionException e)
        {
            return PollResult<ConsumerLag>.Fail(e.Authorization ? StatusCode.Unauthenticated : StatusCode.Unavailable, $"{trigger.Describe()}: {e.Message}");
        }
        catch (TimeoutException e)
        {
            return PollResult<ConsumerLag>.Fail(StatusCode.Unavailable, $"{trigger.Describe()}: {e.Message}");
        }

        if (reply.Status is 503)
        {
            return PollResult<ConsumerLag>.Fail(StatusCode.Unavailable, $"{trigger.Describe()}: nothing at {connection.Address} answers {_subject} (is JetStream enabled for this account?)");
        }

        try
        {
            var info = JsonSerializer.Deserialize(reply.Payload, NatsJsonContext.Default.JetStreamConsumerInfo);
            if (info is null)
            {
                return PollResult<ConsumerLag>.Fail(StatusCode.Unavailable, $"{trigger.Describe()}: {_subject} answered null");
            }

            var (lag, code, message) = JetStreamLag.FromConsumerInfo(info, trigger.Stream, trigger.Consumer);
            return lag is { } value ? PollResult<ConsumerLag>.Ok(value) : PollResult<ConsumerLag>.Fail(code, message!);
        }
        catch (JsonException e)
        {
            return PollResult<ConsumerLag>.Fail(StatusCode.Unavailable, $"{trigger.Describe()}: {_subject} answered something that is not JSON: {e.Message}");
        }
    }
}
