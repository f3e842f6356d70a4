using System.Text.Json;

namespace Updraft.Kubernetes.Model;

/// <summary>The fields of a Service Updraft reads: its ports, to resolve <c>portName</c> and pod ports.</summary>
public sealed class Service : IKubeObject
{
    public KubeMetadata? Metadata { get; set; }

    public ServiceSpec? Spec { get; set; }
}

public sealed class ServiceSpec
{
    public List<ServicePort>? Ports { get; set; }
}

public sealed class ServicePort
{
    public string? Name { get; set; }

    public int? Port { get; set; }

    /// <summary>A number or a container port name.</summary>
    public JsonElement? TargetPort { get; set; }

    public string? Protocol { get; set; }

    public string? AppProtocol { get; set; }
}
