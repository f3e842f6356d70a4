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

    public List<string>? Finalizers { get; set; }

    /// <summary>Set when deletion was asked for; the object stays until its finalizers are removed.</summary>
    public DateTimeOffset? DeletionTimestamp { get; set; }

    public List<OwnerReference>? OwnerReferences { get; set; }
}

/// <summary>A <c>metav1.OwnerReference</c>: the garbage collector deletes an object once all its owners are gone.</summary>
public sealed class OwnerReference
{
    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public string? Name { get; set; }

    public string? Uid { get; set; }

    /// <summary>True on the one owner that manages the object.</summary>
    public bool? Controller { get; set; }

    public bool? BlockOwnerDeletion { get; set; }
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
