using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Updraft.Shared.Crds;

namespace Updraft.Kubernetes.Model;

/// <summary>
/// Compile-time JSON metadata for every object Updraft reads from the API server, with the web defaults the API's
/// JSON follows (camelCase, names matched case-insensitively). Without reflection, a component can be trimmed or
/// compiled ahead of time; a watch of a type missing here fails when it is created, not on its first event.
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(KubeList<JsonElement>))]
[JsonSerializable(typeof(KubeStatus))]
[JsonSerializable(typeof(ApiGroup))]
[JsonSerializable(typeof(EndpointSlice))]
[JsonSerializable(typeof(Service))]
[JsonSerializable(typeof(ConfigMap))]
[JsonSerializable(typeof(InterceptorRoute))]
[JsonSerializable(typeof(HttpScaledObject))]
[JsonSerializable(typeof(Function))]
[JsonSerializable(typeof(JsonObject))]
internal sealed partial class KubeJsonContext : JsonSerializerContext;

/// <summary>An API group's discovery document; only the versions it serves are read.</summary>
internal sealed class ApiGroup
{
    public List<GroupVersion>? Versions { get; set; }
}

internal sealed class GroupVersion
{
    public string? Version { get; set; }
}
