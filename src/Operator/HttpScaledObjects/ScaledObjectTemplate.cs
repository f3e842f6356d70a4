using System.Text.Json.Nodes;
using Updraft.Shared.Crds;

namespace Updraft.Operator.HttpScaledObjects;

/// <summary>
/// The KEDA ScaledObject an HTTPScaledObject asks for, field for field as the add-on's operator writes it: the same
/// name, the labels and annotations copied, the workload as the scale target, polling every 15 s, the replica
/// bounds and cool-downs from the HTTPScaledObject, and one <c>external-push</c> trigger naming the scaler and the
/// HTTPScaledObject. Fields the HTTPScaledObject leaves unset are null here: KEDA's defaults apply, and a value left
/// over from an earlier version is removed.
/// </summary>
internal static class ScaledObjectTemplate
{
    public const int PollingInterval = 15;
    public const string TriggerType = "external-push";
    public const string HttpScaledObjectKey = "httpScaledObject";

    /// <summary>Annotations that describe the HTTPScaledObject itself and would mislead on its ScaledObject.</summary>
    private static readonly HashSet<string> NotCopied = new(StringComparer.Ordinal)
    {
        "kubectl.kubernetes.io/last-applied-configuration",
    };

    /// <summary>The owned fields (the copied labels and annotations, <c>spec</c>), with nulls for unset spec fields.</summary>
    public static JsonObject Desired(HttpScaledObject source, string scalerAddress)
    {
        var metadata = source.Metadata!;
        var spec = source.Spec!;
        var target = spec.ScaleTargetRef!;
        // Labels and annotations are merged key by key, never replaced: KEDA and users add their own.
        var ownedMetadata = new JsonObject();
        if (Copy(metadata.Labels, null) is { } labels)
        {
            ownedMetadata["labels"] = labels;
        }

        if (Copy(metadata.Annotations, NotCopied) is { } annotations)
        {
            ownedMetadata["annotations"] = annotations;
        }

        return new JsonObject
        {
            ["metadata"] = ownedMetadata,
            ["spec"] = new JsonObject
            {
                ["scaleTargetRef"] = new JsonObject
                {
                    ["name"] = target.Name,
                    ["kind"] = Empty(target.Kind),
                    ["apiVersion"] = Empty(target.ApiVersion),
                },
                ["pollingInterval"] = PollingInterval,
                ["cooldownPeriod"] = spec.ScaledownPeriod,
                ["initialCooldownPeriod"] = spec.InitialCooldownPeriod,
                ["minReplicaCount"] = spec.Replicas?.Min,
                ["maxReplicaCount"] = spec.Replicas?.Max,
                ["advanced"] = new JsonObject { ["restoreToOriginalReplicaCount"] = true },
                ["triggers"] = new JsonArray(new JsonObject
                {
                    ["type"] = TriggerType,
                    ["metadata"] = new JsonObject
                    {
                        [ScaleTrigger.ScalerAddressKey] = scalerAddress,
                        [HttpScaledObjectKey] = metadata.Name,
                    },
                }),
            },
        };
    }

    private static string? Empty(string? value) => string.IsNullOrEmpty(value) ? null : value;

    private static JsonObject? Copy(Dictionary<string, string>? values, HashSet<string>? except)
    {
        if (values is null || values.Count == 0)
        {
            return null;
        }

        var copy = new JsonObject();
        foreach (var (name, value) in values.OrderBy(static pair => pair.Key, StringComparer.Ordinal))
        {
            if (except is null || !except.Contains(name))
            {
                copy[name] = value;
            }
        }

        return copy.Count == 0 ? null : copy;
    }
}
