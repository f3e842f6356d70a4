namespace Updraft.Kubernetes.Model;

/// <summary>
/// The fields of an EndpointSlice Updraft reads; <c>discovery.k8s.io/v1</c> and <c>v1beta1</c> agree on all of them.
/// </summary>
public sealed class EndpointSlice : IKubeObject
{
    /// <summary>The label that names the Service a slice belongs to.</summary>
    public const string ServiceNameLabel = "kubernetes.io/service-name";

    public KubeMetadata? Metadata { get; set; }

    public string? AddressType { get; set; }

    public List<SliceEndpoint>? Endpoints { get; set; }

    public List<SlicePort>? Ports { get; set; }

    public string? ServiceName => Metadata?.Labels is { } labels && labels.TryGetValue(ServiceNameLabel, out var name) ? name : null;
}

public sealed class SliceEndpoint
{
    public List<string>? Addresses { get; set; }

    public SliceConditions? Conditions { get; set; }
}

/// <summary>Endpoint conditions: <c>null</c> means unknown, which Kubernetes says to read as ready (serving) and not terminating.</summary>
public sealed class SliceConditions
{
    public bool? Ready { get; set; }

    public bool? Serving { get; set; }

    public bool? Terminating { get; set; }
}

public sealed class SlicePort
{
    public string? Name { get; set; }

    public int? Port { get; set; }

    public string? Protocol { get; set; }

    public string? AppProtocol { get; set; }
}
