using System.Globalization;
using System.Text.Json.Nodes;
using Updraft.Shared.Crds;

namespace Updraft.Operator.Cluster;

/// <summary>
/// The one condition both CRDs carry, <c>Ready</c>. Written only when its status, reason, message or observed
/// generation changes; the transition time moves only when the status does. Conditions of other types (older
/// add-on versions wrote several) are dropped, as the add-on's own migration does.
/// </summary>
internal sealed record ReadyCondition(bool Ready, string Reason, string Message)
{
    public const string Type = "Ready";

    /// <summary>True when <paramref name="current"/> is exactly this condition for <paramref name="generation"/>.</summary>
    public bool IsCurrent(List<Condition>? current, long? generation) =>
        current is [{ Type: Type } existing]
        && existing.Status == StatusText
        && existing.Reason == Reason
        && existing.Message == Message
        && existing.ObservedGeneration == generation;

    /// <summary>The <c>status.conditions</c> to write.</summary>
    public JsonArray ToJson(List<Condition>? current, long? generation, DateTimeOffset now)
    {
        var previous = current?.Find(static c => c.Type == Type);
        var since = previous is { LastTransitionTime: { } time } && previous.Status == StatusText ? time : now;
        var condition = new JsonObject
        {
            ["type"] = Type,
            ["status"] = StatusText,
            ["reason"] = Reason,
            ["message"] = Message,
            ["lastTransitionTime"] = since.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
        };
        if (generation is not null)
        {
            condition["observedGeneration"] = generation;
        }

        return [condition];
    }

    /// <summary>Whether this differs from <paramref name="current"/> (what deserves an Event).</summary>
    public bool IsTransitionFrom(List<Condition>? current) =>
        current?.Find(static c => c.Type == Type) is not { } previous || previous.Status != StatusText || previous.Reason != Reason || previous.Message != Message;

    private string StatusText => Ready ? "True" : "False";
}
