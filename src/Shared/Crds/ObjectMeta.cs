namespace Updraft.Shared.Crds;

/// <summary>The subset of Kubernetes object metadata Updraft reads.</summary>
public sealed class ObjectMeta
{
    public string? Name { get; set; }

    public string? Namespace { get; set; }

    public DateTimeOffset? CreationTimestamp { get; set; }

    public string? Uid { get; set; }

    public string? ResourceVersion { get; set; }

    public long? Generation { get; set; }

    public Dictionary<string, string>? Labels { get; set; }

    public Dictionary<string, string>? Annotations { get; set; }
}

/// <summary>A <c>metav1.Condition</c>.</summary>
public sealed class Condition
{
    public string? Type { get; set; }

    public string? Status { get; set; }

    public string? Reason { get; set; }

    public string? Message { get; set; }

    public long? ObservedGeneration { get; set; }

    public DateTimeOffset? LastTransitionTime { get; set; }
}

/// <summary>Status shared by both route CRDs; Updraft never needs it to route, but it may appear in files.</summary>
public sealed class RouteStatus
{
    public List<Condition>? Conditions { get; set; }

    public string? TargetWorkload { get; set; }

    public string? TargetService { get; set; }
}
