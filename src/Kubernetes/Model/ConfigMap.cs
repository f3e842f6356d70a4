namespace Updraft.Kubernetes.Model;

/// <summary>A ConfigMap holding static or placeholder response bodies (labelled <see cref="ResponseBodyLabel"/>).</summary>
public sealed class ConfigMap : IKubeObject
{
    /// <summary>Only ConfigMaps with this label set to <c>"true"</c> may serve bodies (the add-on's rule).</summary>
    public const string ResponseBodyLabel = "http.keda.sh/response-body";

    public KubeMetadata? Metadata { get; set; }

    public Dictionary<string, string>? Data { get; set; }

    /// <summary>Base64 values.</summary>
    public Dictionary<string, string>? BinaryData { get; set; }
}
