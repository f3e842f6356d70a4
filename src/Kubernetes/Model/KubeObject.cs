using System.Text.Json.Serialization;

namespace Updraft.Kubernetes.Model;

/// <summary>The metadata fields Updraft reads from any object.</summary>
public sealed class KubeMetadata
{
    public string? Name { get; set; }

    public string? Namespace { get; set; }

    public string? ResourceVersion { get; set; }

    public Dictionary<string, string>? Labels { get; set; }
}

/// <summary>An object with metadata; what a watch keeps per <c>namespace/name</c>.</summary>
public interface IKubeObject
{
    public KubeMetadata? Metadata { get; }
}

/// <summary>A list response: items and the resource version to watch from.</summary>
public sealed class KubeList<T>
{
    public ListMeta? Metadata { get; set; }

    public List<T>? Items { get; set; }
}

public sealed class ListMeta
{
    public string? ResourceVersion { get; set; }

    [JsonPropertyName("continue")]
    public string? Continue { get; set; }
}

/// <summary>A <c>metav1.Status</c>, as error bodies and watch <c>ERROR</c> events carry it.</summary>
public sealed class KubeStatus
{
    public int? Code { get; set; }

    public string? Reason { get; set; }

    public string? Message { get; set; }
}
