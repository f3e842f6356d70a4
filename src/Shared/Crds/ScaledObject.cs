namespace Updraft.Shared.Crds;

/// <summary>
/// The fields of KEDA's <c>ScaledObject</c> (<c>keda.sh/v1alpha1</c>) Updraft reads: what it scales and the triggers
/// that point at the external scaler. Everything else KEDA defines is left out.
/// </summary>
public sealed class ScaledObject
{
    public const string ApiVersionValue = "keda.sh/v1alpha1";
    public const string KindValue = "ScaledObject";

    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public ObjectMeta? Metadata { get; set; }

    public ScaledObjectSpec? Spec { get; set; }
}

public sealed class ScaledObjectSpec
{
    public ScaleTargetReference? ScaleTargetRef { get; set; }

    /// <summary>Seconds between KEDA's polls of <c>IsActive</c>/<c>GetMetrics</c> (KEDA's default 30).</summary>
    public int? PollingInterval { get; set; }

    /// <summary>Seconds after the last active trigger before scaling to zero (KEDA's default 300).</summary>
    public int? CooldownPeriod { get; set; }

    public int? IdleReplicaCount { get; set; }

    public int? MinReplicaCount { get; set; }

    public int? MaxReplicaCount { get; set; }

    public List<ScaleTrigger>? Triggers { get; set; }
}

public sealed class ScaleTargetReference
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public string? Name { get; set; }
}

/// <summary>One trigger; for Updraft, <c>type</c> is <c>external</c> or <c>external-push</c> and <c>metadata</c> carries <c>scalerAddress</c>.</summary>
public sealed class ScaleTrigger
{
    public const string ScalerAddressKey = "scalerAddress";

    public string? Type { get; set; }

    public string? Name { get; set; }

    /// <summary><c>AverageValue</c> (KEDA's default), <c>Value</c> or <c>Utilization</c>.</summary>
    public string? MetricType { get; set; }

    public bool? UseCachedMetrics { get; set; }

    public Dictionary<string, string>? Metadata { get; set; }

    /// <summary>Whether KEDA calls an external scaler for this trigger.</summary>
    public bool IsExternal => Type is "external" or "external-push";
}
