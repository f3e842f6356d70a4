using Grpc.Core;
using NATS.Client.JetStream.Models;
using Updraft.ExternalScaler.Nats.Polling;

namespace Updraft.ExternalScaler.Nats.JetStream;

/// <summary>A consumer's backlog: messages not yet delivered, and delivered but not acknowledged.</summary>
internal sealed record ConsumerLag(long NumPending, long NumAckPending)
{
    /// <summary>KEDA's lag: <c>num_pending + num_ack_pending</c>.</summary>
    public long Lag => NumPending + NumAckPending;
}

/// <summary>Where a consumer was found in one node's <c>/jsz</c>, and who leads it.</summary>
internal readonly record struct JszLocation(bool AccountFound, bool StreamFound, JetStreamConsumerInfo? Consumer)
{
    public string? Leader => Consumer?.Cluster?.Leader;
}

/// <summary>The lag maths of the <c>nats-jetstream</c> source, on the documents NATS returns.</summary>
internal static class JetStreamLag
{
    public const int ConsumerNotFound = 10014;
    public const int StreamNotFound = 10059;

    /// <summary>
    /// Finds the account (<c>id == accountID || name == account</c>, as KEDA matches it), the stream and the consumer
    /// (by name) in a <c>/jsz</c> document.
    /// </summary>
    public static JszLocation Locate(JszDocument document, string accountMatch, string? accountName, string stream, string consumer)
    {
        var accountFound = false;
        var streamFound = false;
        foreach (var account in document.Accounts ?? [])
        {
            if (account.Id != accountMatch && account.Name != (accountName ?? accountMatch))
            {
                continue;
            }

            accountFound = true;
            foreach (var candidate in account.Streams ?? [])
            {
                if (candidate.Name != stream)
                {
                    continue;
                }

                streamFound = true;
                foreach (var info in candidate.Consumers ?? [])
                {
                    if (info.Name == consumer)
                    {
                        return new JszLocation(true, true, info);
                    }
                }
            }
        }

        return new JszLocation(accountFound, streamFound, null);
    }

    /// <summary>Why a consumer is missing from every <c>/jsz</c> that was read (the furthest match found names the problem).</summary>
    public static (StatusCode Code, string Message) Missing(bool accountFound, bool streamFound, string account, string stream, string consumer, string where) =>
        !accountFound
            ? (StatusCode.NotFound, $"account \"{account}\" has no JetStream streams at {where} (check metadata account/accountID; \"$G\" when the server has no accounts)")
            : !streamFound
                ? (StatusCode.NotFound, $"stream \"{stream}\" not found in account \"{account}\" at {where}")
                : (StatusCode.NotFound, $"consumer \"{consumer}\" not found in stream \"{stream}\" at {where}");

    /// <summary>The lag in a consumer info: messages not yet delivered plus delivered and not acknowledged.</summary>
    public static PollResult<ConsumerLag> FromConsumerInfo(ConsumerInfo info, string stream, string consumer) =>
        info.Name == consumer
            ? PollResult<ConsumerLag>.Ok(new ConsumerLag(checked((long)info.NumPending), info.NumAckPending))
            : PollResult<ConsumerLag>.Fail(StatusCode.Unavailable, $"consumer \"{consumer}\" of stream \"{stream}\": the reply is not its consumer info (name \"{info.Name}\")");

    /// <summary>What a JetStream API error means for the trigger (<c>err_code</c> 10014: consumer not found, 10059: stream not found).</summary>
    public static (StatusCode Code, string Message) FromApiError(int code, int errorCode, string? description, string stream, string consumer) => errorCode switch
    {
        ConsumerNotFound => (StatusCode.NotFound, $"consumer \"{consumer}\" not found in stream \"{stream}\" ({description})"),
        StreamNotFound => (StatusCode.NotFound, $"stream \"{stream}\" not found ({description})"),
        _ when code == 404 => (StatusCode.NotFound, $"consumer \"{consumer}\" of stream \"{stream}\": {description} (err_code {errorCode})"),
        _ => (StatusCode.Unavailable, $"consumer \"{consumer}\" of stream \"{stream}\": JetStream answered {code} {description} (err_code {errorCode})"),
    };
}
