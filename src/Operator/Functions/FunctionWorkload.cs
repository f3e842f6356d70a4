using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Shared.Crds;

namespace Updraft.Operator.Functions;

/// <summary>What every engine's workload shares: OpenFunction's pod spec and environment.</summary>
internal static class FunctionWorkload
{
    public const string ContainerName = "function";
    public const string PortName = "function-port";

    /// <summary>The annotation and runtime class OpenFunction's webhook gives a WasmEdge function (<c>HandleWorkloadRuntime</c>).</summary>
    public const string WasmVariantAnnotation = "module.wasm.image/variant";
    public const string WasmVariant = "compat-smart";
    public const string WasmRuntimeClass = "openfunction-crun";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    /// <summary>
    /// The pod spec: the user's template, with the container <c>function</c> found or added, its image set, the
    /// port <c>function-port</c> and OpenFunction's environment (<c>FUNC_CONTEXT</c>, <c>FUNC_CONTEXT_V1BETA2</c>, the
    /// params, <c>POD_NAME</c>, <c>POD_NAMESPACE</c>) added.
    /// </summary>
    public static JsonObject PodSpec(Function function, int port)
    {
        var spec = function.Spec!;
        var serving = spec.Serving!;
        var pod = serving.Template?.DeepClone() as JsonObject ?? [];
        if (pod["containers"] is not JsonArray containers)
        {
            pod["containers"] = containers = [];
        }

        var container = containers.OfType<JsonObject>().FirstOrDefault(c => c["name"]?.GetValue<string>() == ContainerName);
        if (container is null)
        {
            container = new JsonObject { ["name"] = ContainerName, ["imagePullPolicy"] = "IfNotPresent" };
            containers.Add(container);
        }

        if ((IsWasm(function) || serving.Annotations?.ContainsKey(WasmVariantAnnotation) == true) && pod["runtimeClassName"] is null)
        {
            pod["runtimeClassName"] = WasmRuntimeClass;
        }

        container["image"] = spec.Image;
        if (container["ports"] is not JsonArray ports)
        {
            container["ports"] = ports = [];
        }

        if (!ports.OfType<JsonObject>().Any(p => p["name"]?.GetValue<string>() == PortName))
        {
            ports.Add(new JsonObject { ["name"] = PortName, ["containerPort"] = port, ["protocol"] = "TCP" });
        }

        if (container["env"] is not JsonArray env)
        {
            container["env"] = env = [];
        }

        var version = string.IsNullOrEmpty(spec.Version) ? "latest" : spec.Version;
        var name = function.Metadata!.Name!;
        env.Add(Env("FUNC_CONTEXT", JsonSerializer.Serialize(new { name, version, runtime = "Knative", port = port.ToString(CultureInfo.InvariantCulture) }, Json)));
        env.Add(Env("FUNC_CONTEXT_V1BETA2", JsonSerializer.Serialize(new { name, version, triggers = serving.Triggers }, Json)));
        foreach (var (key, value) in (serving.Params ?? []).OrderBy(static pair => pair.Key, StringComparer.Ordinal))
        {
            env.Add(Env(key, value));
        }

        env.Add(new JsonObject { ["name"] = "POD_NAME", ["valueFrom"] = new JsonObject { ["fieldRef"] = new JsonObject { ["fieldPath"] = "metadata.name" } } });
        env.Add(Env("POD_NAMESPACE", function.Metadata.Namespace!));
        if (spec.ImageCredentials?.Name is { Length: > 0 } secret)
        {
            if (pod["imagePullSecrets"] is not JsonArray secrets)
            {
                pod["imagePullSecrets"] = secrets = [];
            }

            if (!secrets.OfType<JsonObject>().Any(s => s["name"]?.GetValue<string>() == secret))
            {
                secrets.Add(new JsonObject { ["name"] = secret });
            }
        }

        return pod;
    }

    /// <summary><c>spec.workloadRuntime: WasmEdge</c> (in any case): the pods run on crun with WasmEdge.</summary>
    public static bool IsWasm(Function function) => string.Equals(function.Spec?.WorkloadRuntime, "WasmEdge", StringComparison.OrdinalIgnoreCase);

    public static JsonObject Object(string apiVersion, string kind, string name, string ns, JsonObject labels, JsonObject spec) => new()
    {
        ["apiVersion"] = apiVersion,
        ["kind"] = kind,
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns, ["labels"] = labels.DeepClone() },
        ["spec"] = spec,
    };

    /// <summary>A plain <c>{name, value}</c> environment variable.</summary>
    public static JsonObject Env(string name, string value) => new() { ["name"] = name, ["value"] = value };
}
