using System.Text.Json.Serialization;

namespace Updraft.ExternalScaler.Nats.Stan;

/// <summary><c>/streaming/channelsz?channel=…&amp;subs=1</c>: the fields the lag is computed from.</summary>
internal sealed class StanChannel
{
    [JsonPropertyName("name")]
    public string? Name { get; set; }

    [JsonPropertyName("msgs")]
    public long Messages { get; set; }

    [JsonPropertyName("first_seq")]
    public long FirstSequence { get; set; }

    [JsonPropertyName("last_seq")]
    public long LastSequence { get; set; }

    [JsonPropertyName("subscriptions")]
    public List<StanSubscription>? Subscriptions { get; set; }
}

internal sealed class StanSubscription
{
    [JsonPropertyName("client_id")]
    public string? ClientId { get; set; }

    /// <summary><c>durableName:queueGroup</c> for a durable queue subscription.</summary>
    [JsonPropertyName("queue_name")]
    public string? QueueName { get; set; }

    [JsonPropertyName("last_sent")]
    public long LastSent { get; set; }

    [JsonPropertyName("pending_count")]
    public long PendingCount { get; set; }
}

/// <summary>A durable queue group's backlog on a channel, and whether its first subscriber has messages in flight.</summary>
internal readonly record struct StanBacklog(long Lag, bool HasPending, bool SubscriberFound);

/// <summary>KEDA's <c>stan</c> lag maths (§3.2 of the reference), with one correction (see <see cref="Compute"/>).</summary>
internal static class StanLag
{
    /// <summary>
    /// <c>lag = last_seq − max(last_sent)</c> over the subscriptions whose <c>queue_name</c> is
    /// <c>durableName:queueGroup</c>; <c>hasPending</c> is the first such subscription's <c>pending_count &gt; 0</c>.
    /// Unlike KEDA, <c>last_sent</c> counts as at least <c>first_seq − 1</c>, so messages the channel no longer holds
    /// (expired by its limits) are not lag: with no subscriber yet the lag is the channel's messages, not its
    /// <c>last_seq</c>. Never negative.
    /// </summary>
    public static StanBacklog Compute(StanChannel channel, string durableName, string queueGroup)
    {
        var combined = durableName + ":" + queueGroup;
        var found = false;
        var hasPending = false;
        var maxLastSent = 0L;
        foreach (var subscription in channel.Subscriptions ?? [])
        {
            if (subscription.QueueName != combined)
            {
                continue;
            }

            if (!found)
            {
                hasPending = subscription.PendingCount > 0;
                found = true;
            }

            maxLastSent = Math.Max(maxLastSent, subscription.LastSent);
        }

        var consumed = Math.Max(maxLastSent, channel.FirstSequence - 1);
        return new StanBacklog(Math.Max(0, channel.LastSequence - consumed), hasPending, found);
    }
}
