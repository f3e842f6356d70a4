using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Functions.Keda;
using Updraft.Shared.Crds;

namespace Updraft.Operator.Functions.Dapr;

/// <summary>How a Function's pods reach Dapr (<c>openfunction.io/enable-dapr</c>, <c>openfunction.io/dapr-service-mode</c>).</summary>
internal enum DaprMode
{
    /// <summary>No Dapr: the function's pods get <c>dapr.io/enabled: "false"</c>.</summary>
    Off,

    /// <summary>A daprd sidecar in every function pod (<c>dapr.io/enabled: "true"</c>).</summary>
    Sidecar,

    /// <summary>One shared dapr-proxy Deployment; the function reaches its sidecar through <c>DAPR_HOST</c>.</summary>
    Standalone,
}

/// <summary>
/// The Dapr side of a Function, as OpenFunction does it (<c>common.CreateComponents</c>, <c>CreateDaprProxy</c>) with
/// deterministic names: one <c>dapr.io/v1alpha1</c> Component per <c>bindings</c>, <c>pubsub</c> and <c>states</c> entry
/// (<c>&lt;fn&gt;-&lt;bindings|pubsub|state&gt;-&lt;key&gt;</c>, scoped to the app id <c>&lt;fn&gt;-&lt;ns&gt;</c>), whether the
/// Function uses Dapr and how, its pods' Dapr annotations, and the dapr-proxy Deployment of the standalone mode.
/// Every engine's children are built without the Components: add <see cref="Build"/>'s to them.
/// </summary>
internal static class DaprComponents
{
    public static readonly ApiResource Components = new("dapr.io", "v1alpha1", "components");
    public const string ApiVersionValue = "dapr.io/v1alpha1";
    public const string KindValue = "Component";

    public const string EnableAnnotation = "openfunction.io/enable-dapr";
    public const string ModeAnnotation = "openfunction.io/dapr-service-mode";
    public const string SidecarMode = "sidecar";
    public const string StandaloneMode = "standalone";

    public const string EnabledAnnotation = "dapr.io/enabled";
    public const string AppIdAnnotation = "dapr.io/app-id";
    public const string AppProtocolAnnotation = "dapr.io/app-protocol";
    public const string AppPortAnnotation = "dapr.io/app-port";
    public const string MetricsPortAnnotation = "dapr.io/metrics-port";
    public const string ListenAddressesAnnotation = "dapr.io/sidecar-listen-addresses";
    public const string DefaultAppProtocol = "grpc";

    public const string BindingsKind = "bindings";
    public const string PubsubKind = "pubsub";
    public const string StateKind = "state";

    public const string ProxyLabel = "openfunction.io/proxy";
    public const string ManagedLabel = "openfunction.io/managed";
    public const string ProxySuffix = "-dapr-proxy";
    public const string ProxyContainerName = "dapr-proxy";

    /// <summary>OpenFunction's chart default (<c>openfunction.dapr-proxy.image</c>; the code's default is v0.1.0).</summary>
    public const string DefaultProxyImage = "openfunction/dapr-proxy:v0.1.1";

    public const int MaxNameLength = 63;

    /// <summary>The fields of Dapr's <c>ComponentSpec</c>: those the user leaves out are owned as absent, so removing one removes it.</summary>
    private static readonly string[] ComponentSpecFields = ["type", "version", "ignoreErrors", "initTimeout", "metadata"];

    /// <summary>The Components the Function defines inline, or the problems that stop them (one line each).</summary>
    /// <remarks>
    /// A <c>states</c> entry without <c>spec</c> refers to an existing Component named after its key: nothing is made.
    /// Each <c>spec</c> is copied as it is; its type must belong to the map it is in (a <c>bindings</c> entry of type
    /// <c>pubsub.kafka</c> would be made, but the function would be told the wrong name, as in OpenFunction).
    /// </remarks>
    public static (IReadOnlyList<DesiredChild> Children, IReadOnlyList<string> Problems) Build(Function function)
    {
        var metadata = function.Metadata!;
        var fn = metadata.Name!;
        var ns = metadata.Namespace!;
        var serving = function.Spec!.Serving!;
        var problems = new List<string>();
        var children = new List<DesiredChild>();
        foreach (var (kind, map) in new[] { (BindingsKind, serving.Bindings), (PubsubKind, serving.Pubsub), (StateKind, serving.States) })
        {
            var mapField = "spec.serving." + (kind == StateKind ? "states" : kind);
            foreach (var (key, value) in (map ?? []).OrderBy(static pair => pair.Key, StringComparer.Ordinal))
            {
                var field = mapField + "." + key;
                var spec = value;
                if (kind == StateKind)
                {
                    if (value is not (null or JsonObject))
                    {
                        problems.Add($"{field}: must be an object with an optional spec (a Dapr state store)");
                        continue;
                    }

                    field += ".spec";
                    spec = value?["spec"];
                    if (spec is null)
                    {
                        continue;
                    }
                }

                if (spec is not JsonObject componentSpec)
                {
                    problems.Add($"{field}: must be a Dapr component spec (type, version, metadata)");
                    continue;
                }

                if (!Valid(componentSpec, kind, field, problems))
                {
                    continue;
                }

                var desiredSpec = (JsonObject)componentSpec.DeepClone();
                foreach (var name in ComponentSpecFields)
                {
                    if (!desiredSpec.ContainsKey(name))
                    {
                        desiredSpec[name] = null;
                    }
                }

                var component = FunctionWorkload.Object(ApiVersionValue, KindValue, ComponentName(fn, kind, key), ns, Labels(fn), desiredSpec);
                component["scopes"] = new JsonArray(AppId(fn, ns));
                children.Add(new DesiredChild(Components, component));
            }
        }

        return problems.Count > 0 ? ([], problems) : (children, []);
    }

    /// <summary>
    /// Whether the Function uses Dapr (OpenFunction's <c>GetDaprServiceEnabled</c>): <c>openfunction.io/enable-dapr</c>
    /// when set (<c>false</c>, in any case, turns it off; any other value on), otherwise when it has Dapr triggers, inputs,
    /// outputs or states. <c>bindings</c> and <c>pubsub</c> alone do not turn it on; their Components are still made.
    /// </summary>
    public static bool NeedsDapr(Function function)
    {
        var serving = function.Spec?.Serving;
        if (serving is null)
        {
            return false;
        }

        if (serving.Annotations?.TryGetValue(EnableAnnotation, out var enabled) == true)
        {
            // OpenFunction compares with "false" exactly; "False" meaning "on" would only surprise.
            return !string.Equals(enabled, "false", StringComparison.OrdinalIgnoreCase);
        }

        return serving.Triggers?.Dapr is { Count: > 0 } || serving.Triggers?.Inputs is { Count: > 0 } || serving.Outputs is not null || serving.States is not null;
    }

    /// <summary>
    /// How the Function reaches Dapr. <c>openfunction.io/dapr-service-mode</c> defaults to <c>sidecar</c> here, where
    /// OpenFunction defaults to <c>standalone</c>: Updraft does not ship the dapr-proxy image, so the proxy is made
    /// only when asked for.
    /// </summary>
    public static DaprMode Mode(Function function, List<string> problems)
    {
        if (!NeedsDapr(function))
        {
            return DaprMode.Off;
        }

        var mode = function.Spec!.Serving!.Annotations?.GetValueOrDefault(ModeAnnotation);
        switch (mode)
        {
            case null or "" or SidecarMode:
                return DaprMode.Sidecar;
            case StandaloneMode:
                return DaprMode.Standalone;
            default:
                problems.Add($"spec.serving.annotations[\"{ModeAnnotation}\"]: \"{mode}\" is not a Dapr service mode; use {SidecarMode} or {StandaloneMode}");
                return DaprMode.Sidecar;
        }
    }

    /// <summary>The Dapr app id, which also scopes the Components: <c>&lt;fn&gt;-&lt;ns&gt;</c>.</summary>
    public static string AppId(string fn, string ns) => fn + "-" + ns;

    /// <summary>The name of the Component made from entry <paramref name="key"/> of <c>bindings</c>, <c>pubsub</c> or <c>states</c> (<paramref name="kind"/> <c>state</c>).</summary>
    public static string ComponentName(string fn, string kind, string key) => DnsLabel(fn + "-" + kind + "-" + key);

    /// <summary>The dapr-proxy Deployment of the standalone mode.</summary>
    public static string ProxyName(string fn) => DnsLabel(fn + ProxySuffix);

    /// <summary>The Service the Dapr control plane makes for the proxy's sidecar (<c>&lt;app-id&gt;-dapr</c>): <c>DAPR_HOST</c>.</summary>
    public static string SidecarHost(string fn, string ns, string clusterDomain) => $"{AppId(fn, ns)}-dapr.{ns}.svc.{clusterDomain}";

    /// <summary>The protocol between daprd and the function: <c>dapr.io/app-protocol</c> in the Function's annotations, else grpc.</summary>
    public static string AppProtocol(Function function) =>
        function.Spec?.Serving?.Annotations?.GetValueOrDefault(AppProtocolAnnotation) is { Length: > 0 } protocol ? protocol : DefaultAppProtocol;

    /// <summary>
    /// <paramref name="raw"/> itself when it is a DNS label; otherwise lower-cased, with other characters as <c>-</c>,
    /// cut to fit and ended with a hash of <paramref name="raw"/>, so two keys that differ only in case never share a name.
    /// </summary>
    public static string DnsLabel(string raw)
    {
        var builder = new StringBuilder(raw.Length);
        foreach (var c in raw)
        {
            var lower = char.ToLowerInvariant(c);
            builder.Append(char.IsAsciiLetterLower(lower) || char.IsAsciiDigit(lower) ? lower : '-');
        }

        var clean = builder.ToString().Trim('-');
        if (clean == raw && clean.Length <= MaxNameLength)
        {
            return raw;
        }

        var hash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(raw)))[..8];
        var keep = MaxNameLength - hash.Length - 1;
        clean = (clean.Length > keep ? clean[..keep] : clean).TrimEnd('-');
        return clean.Length == 0 ? "x-" + hash : clean + "-" + hash;
    }

    /// <summary>
    /// The function pods' annotations: OpenFunction's Dapr defaults (app id, JSON logs, grpc, the port, and
    /// <paramref name="metricsPort"/> when given), the Function's annotations over them, then
    /// <paramref name="overrides"/>, and <c>dapr.io/enabled</c> last: true only for a sidecar.
    /// </summary>
    public static JsonObject PodAnnotations(Function function, int port, DaprMode mode, string? metricsPort = null, IReadOnlyDictionary<string, string>? overrides = null)
    {
        var metadata = function.Metadata!;
        var annotations = new JsonObject
        {
            [AppIdAnnotation] = AppId(metadata.Name!, metadata.Namespace!),
            ["dapr.io/log-as-json"] = "true",
            [AppProtocolAnnotation] = DefaultAppProtocol,
            [AppPortAnnotation] = port.ToString(CultureInfo.InvariantCulture),
        };
        if (metricsPort is not null)
        {
            annotations[MetricsPortAnnotation] = metricsPort;
        }

        if (FunctionWorkload.IsWasm(function))
        {
            annotations[FunctionWorkload.WasmVariantAnnotation] = FunctionWorkload.WasmVariant;
        }

        foreach (var (key, value) in (function.Spec!.Serving!.Annotations ?? []).OrderBy(static pair => pair.Key, StringComparer.Ordinal))
        {
            annotations[key] = value;
        }

        foreach (var (key, value) in (overrides ?? new Dictionary<string, string>()).OrderBy(static pair => pair.Key, StringComparer.Ordinal))
        {
            annotations[key] = value;
        }

        annotations[EnabledAnnotation] = mode == DaprMode.Sidecar ? "true" : "false";
        return annotations;
    }

    /// <summary>
    /// The dapr-proxy Deployment <c>&lt;fn&gt;-dapr-proxy</c> of the standalone mode (OpenFunction's <c>CreateDaprProxy</c>):
    /// one replica of the dapr-proxy image (<see cref="DefaultProxyImage"/> unless set) with a daprd sidecar under the function's app id, listening on
    /// every address so the function pods reach it through <c>DAPR_HOST</c>, and the function's context. Its pods carry
    /// <c>openfunction.io/proxy</c>, never <c>openfunction.io/function</c>, so the function's selectors do not pick them.
    /// </summary>
    public static DesiredChild Proxy(Function function, int port, FunctionContextValues context, string image)
    {
        var metadata = function.Metadata!;
        var fn = metadata.Name!;
        var ns = metadata.Namespace!;
        var serving = function.Spec!.Serving!;
        var podLabels = new JsonObject();
        foreach (var (key, value) in (serving.Labels ?? []).OrderBy(static pair => pair.Key, StringComparer.Ordinal))
        {
            if (key != KedaChildren.FunctionLabel)
            {
                podLabels[key] = value;
            }
        }

        podLabels[KedaChildren.ManagedByLabel] = KedaChildren.ManagedBy;
        podLabels[ManagedLabel] = "true";
        podLabels[ProxyLabel] = fn;

        var annotations = new JsonObject
        {
            [AppIdAnnotation] = AppId(fn, ns),
            ["dapr.io/log-as-json"] = "true",
            [AppProtocolAnnotation] = DefaultAppProtocol,
            [AppPortAnnotation] = port.ToString(CultureInfo.InvariantCulture),
            [ListenAddressesAnnotation] = "[::],0.0.0.0",
        };
        foreach (var (key, value) in (serving.Annotations ?? []).OrderBy(static pair => pair.Key, StringComparer.Ordinal))
        {
            annotations[key] = value;
        }

        annotations[EnabledAnnotation] = "true";
        var container = new JsonObject
        {
            ["name"] = ProxyContainerName,
            ["image"] = image,
            ["imagePullPolicy"] = "IfNotPresent",
            ["ports"] = new JsonArray(new JsonObject { ["name"] = FunctionWorkload.PortName, ["containerPort"] = port, ["protocol"] = "TCP" }),
            ["env"] = new JsonArray(
                FunctionWorkload.Env("APP_PROTOCOL", annotations[AppProtocolAnnotation]!.GetValue<string>()),
                FunctionWorkload.Env(FunctionContext.V1beta1Variable, context.V1beta1),
                FunctionWorkload.Env(FunctionContext.V1beta2Variable, context.V1beta2),
                new JsonObject { ["name"] = "POD_NAME", ["valueFrom"] = new JsonObject { ["fieldRef"] = new JsonObject { ["apiVersion"] = "v1", ["fieldPath"] = "metadata.name" } } },
                FunctionWorkload.Env("POD_NAMESPACE", ns)),
        };
        return new DesiredChild(ApiResource.Deployments, FunctionWorkload.Object("apps/v1", "Deployment", ProxyName(fn), ns, Labels(fn), new JsonObject
        {
            ["replicas"] = 1,
            ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { [ProxyLabel] = fn, [KedaChildren.ManagedByLabel] = KedaChildren.ManagedBy } },
            ["template"] = new JsonObject
            {
                ["metadata"] = new JsonObject { ["labels"] = podLabels, ["annotations"] = annotations },
                ["spec"] = new JsonObject { ["containers"] = new JsonArray(container) },
            },
        }));
    }

    /// <summary>The labels of every child: Updraft manages it, for this Function.</summary>
    public static JsonObject Labels(string fn) => new()
    {
        [KedaChildren.ManagedByLabel] = KedaChildren.ManagedBy,
        [KedaChildren.FunctionLabel] = fn,
    };

    /// <summary>A string member's value, or null when it is absent, empty or not a string.</summary>
    public static string? Text(JsonNode? node) =>
        node is JsonValue value && value.GetValueKind() == JsonValueKind.String && value.GetValue<string>() is { Length: > 0 } text ? text : null;

    private static bool Valid(JsonObject spec, string kind, string field, List<string> problems)
    {
        var ok = true;
        var type = Text(spec["type"]);
        if (type is null)
        {
            problems.Add($"{field}.type: is required (e.g. {kind}.kafka)");
            ok = false;
        }
        else if (!type.StartsWith(kind + ".", StringComparison.Ordinal))
        {
            problems.Add($"{field}.type: \"{type}\" is not a {kind} component; use {kind}.<component> (e.g. {kind}.kafka) or move the entry to the map of its kind");
            ok = false;
        }

        if (Text(spec["version"]) is null)
        {
            problems.Add($"{field}.version: is required (v1 for most components)");
            ok = false;
        }

        if (spec["metadata"] is not (null or JsonArray))
        {
            problems.Add($"{field}.metadata: must be a list of {{name, value}} items");
            ok = false;
        }

        return ok;
    }
}

/// <summary>The two function contexts a functions-framework image reads.</summary>
/// <param name="V1beta1"><c>FUNC_CONTEXT</c>.</param>
/// <param name="V1beta2"><c>FUNC_CONTEXT_V1BETA2</c>.</param>
internal readonly record struct FunctionContextValues(string V1beta1, string V1beta2);

/// <summary>
/// <c>FUNC_CONTEXT</c> and <c>FUNC_CONTEXT_V1BETA2</c> as OpenFunction writes them (<c>GenOpenFunctionContextV1beta1/2</c>),
/// with the Dapr inputs, outputs and states and the names of the Components Updraft makes: a function asks Dapr for
/// <c>&lt;fn&gt;-bindings-&lt;key&gt;</c>, not for <c>&lt;key&gt;</c>. A component neither defined inline nor given a
/// <c>type</c> is a problem: OpenFunction reads the type of an existing Component from the cluster, and these builders
/// are pure. Global hooks and tracing (OpenFunction's ConfigMap) and the legacy <c>plugins</c> annotations are not read.
/// </summary>
internal static class FunctionContext
{
    public const string V1beta1Variable = "FUNC_CONTEXT";
    public const string V1beta2Variable = "FUNC_CONTEXT_V1BETA2";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    /// <param name="function">The Function.</param>
    /// <param name="port">The function's port (<c>FUNC_CONTEXT.port</c>).</param>
    /// <param name="problems">Receives one line per input, output or trigger that cannot be resolved.</param>
    public static FunctionContextValues Build(Function function, int port, List<string> problems)
    {
        var fn = function.Metadata!.Name!;
        var spec = function.Spec!;
        var serving = spec.Serving!;
        var version = string.IsNullOrEmpty(spec.Version) ? "latest" : spec.Version;
        var daprTriggers = serving.Triggers?.Dapr;
        var triggers = serving.Triggers is null ? null : JsonSerializer.SerializeToNode(serving.Triggers, Json) as JsonObject;

        // OpenFunction's context carries its webhook's defaults: a Function served over HTTP has an HTTP trigger, and an
        // HTTP trigger has a port. Functions frameworks start their HTTP server from it.
        if (FunctionEngines.Select(spec, out _) is FunctionEngine.Keda or FunctionEngine.Knative)
        {
            triggers ??= [];
            triggers["http"] ??= new JsonObject();
        }

        if (triggers?["http"] is JsonObject http && (http["port"] is not JsonValue httpPort || httpPort.GetValue<int>() == 0))
        {
            http["port"] = KedaChildren.DefaultPort;
        }

        var inputsV1 = daprTriggers is null ? null : new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        for (var i = 0; i < (daprTriggers?.Count ?? 0); i++)
        {
            if (Resolve(fn, serving, daprTriggers![i], $"spec.serving.triggers.dapr[{i}]", problems) is not { } resolved)
            {
                continue;
            }

            var (trigger, name, type, realName) = resolved;

            var input = new JsonObject();
            AddIfSet(input, "uri", type.StartsWith(DaprComponents.BindingsKind, StringComparison.Ordinal) ? name : DaprComponents.Text(trigger["topic"]));
            input["componentName"] = realName;
            input["componentType"] = type;
            inputsV1![DaprComponents.Text(trigger["inputName"]) ?? name] = input;
            if (triggers?["dapr"] is JsonArray copies && copies[i] is JsonObject copy)
            {
                copy["name"] = realName;
            }
        }

        var inputsV2 = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        var inputs = serving.Triggers?.Inputs;
        for (var i = 0; i < (inputs?.Count ?? 0); i++)
        {
            var field = $"spec.serving.triggers.inputs[{i}]";
            if (inputs![i] is not JsonObject item)
            {
                problems.Add($"{field}: must be an object with dapr: {{name, type}}");
                continue;
            }

            if (item["dapr"] is null || Resolve(fn, serving, item["dapr"], field + ".dapr", problems) is not { } resolved)
            {
                continue;
            }

            var (dapr, name, type, realName) = resolved;
            var input = new JsonObject { ["componentName"] = realName, ["componentType"] = type };
            AddIfSet(input, "topic", DaprComponents.Text(dapr["topic"]));
            inputsV2[name] = input;
        }

        var outputsV1 = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        var outputsV2 = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        var outputs = serving.Outputs;
        for (var i = 0; i < (outputs?.Count ?? 0); i++)
        {
            var field = $"spec.serving.outputs[{i}]";
            if (outputs![i] is not JsonObject item)
            {
                problems.Add($"{field}: must be an object with dapr: {{name, type, ...}}");
                continue;
            }

            if (item["dapr"] is null || Resolve(fn, serving, item["dapr"], field + ".dapr", problems) is not { } resolved)
            {
                continue;
            }

            var (dapr, name, type, realName) = resolved;
            var topic = DaprComponents.Text(dapr["topic"]);
            var metadata = dapr["metadata"] is JsonObject { Count: > 0 } map ? map : null;
            var operation = DaprComponents.Text(dapr["operation"]);
            var outputV1 = new JsonObject();
            AddIfSet(outputV1, "uri", type.StartsWith(DaprComponents.BindingsKind, StringComparison.Ordinal) ? name : topic);
            outputV1["componentName"] = realName;
            outputV1["componentType"] = type;
            AddIfSet(outputV1, "metadata", metadata);
            AddIfSet(outputV1, "operation", operation);
            outputsV1[DaprComponents.Text(dapr["outputName"]) ?? name] = outputV1;

            // OpenFunction leaves the topic out of v1beta2 outputs; a pubsub output needs it, and the field exists.
            var outputV2 = new JsonObject { ["componentName"] = realName, ["componentType"] = type };
            AddIfSet(outputV2, "topic", topic);
            AddIfSet(outputV2, "metadata", metadata);
            AddIfSet(outputV2, "operation", operation);
            outputsV2[name] = outputV2;
        }

        var states = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (key, value) in serving.States ?? [])
        {
            // A state without spec is an existing Component, whose type only the cluster knows.
            var type = DaprComponents.Text((value as JsonObject)?["spec"]?["type"]) ?? "";
            states[key] = new JsonObject { ["componentName"] = RealName(fn, serving, key, type), ["componentType"] = type };
        }

        var v1 = new JsonObject { ["name"] = fn, ["version"] = version };
        AddIfAny(v1, "inputs", inputsV1);
        AddIfAny(v1, "outputs", outputsV1);
        AddIfAny(v1, "states", states);
        v1["runtime"] = daprTriggers is null ? "Knative" : "Async";
        v1["port"] = port.ToString(CultureInfo.InvariantCulture);

        var v2 = new JsonObject { ["name"] = fn, ["version"] = version };
        AddIfSet(v2, "triggers", triggers);
        AddIfAny(v2, "inputs", inputsV2);
        AddIfAny(v2, "outputs", outputsV2);
        AddIfAny(v2, "states", Clone(states));
        AddIfSet(v2, "preHooks", serving.Hooks?["pre"] is JsonArray { Count: > 0 } pre ? pre.DeepClone() : null);
        AddIfSet(v2, "postHooks", serving.Hooks?["post"] is JsonArray { Count: > 0 } post ? post.DeepClone() : null);
        AddIfSet(v2, "tracing", Tracing(serving)?.DeepClone());
        return new FunctionContextValues(v1.ToJsonString(), v2.ToJsonString());
    }

    /// <summary>
    /// Puts the contexts into the <c>function</c> container of <paramref name="pod"/> (a pod spec from
    /// <see cref="FunctionWorkload.PodSpec"/>), in OpenFunction's order: <c>APP_PROTOCOL</c> (unless the template sets
    /// it) and the SkyWalking agent's variables before the contexts, <c>DAPR_HOST</c> and <c>DAPR_SIDECAR_IP</c> after
    /// them in the standalone mode.
    /// </summary>
    public static void Apply(JsonObject pod, Function function, FunctionContextValues context, DaprMode mode, string clusterDomain)
    {
        var container = ((JsonArray)pod["containers"]!).OfType<JsonObject>().First(static c => c["name"]?.GetValue<string>() == FunctionWorkload.ContainerName);
        var env = (JsonArray)container["env"]!;
        var v1 = LastIndexOf(env, V1beta1Variable);
        var v2 = LastIndexOf(env, V1beta2Variable);
        env[v1]!["value"] = context.V1beta1;
        env[v2]!["value"] = context.V1beta2;

        var metadata = function.Metadata!;
        if (mode == DaprMode.Standalone)
        {
            var host = DaprComponents.SidecarHost(metadata.Name!, metadata.Namespace!, clusterDomain);
            env.Insert(v2 + 1, FunctionWorkload.Env("DAPR_SIDECAR_IP", host));
            env.Insert(v2 + 1, FunctionWorkload.Env("DAPR_HOST", host));
        }

        var before = new List<JsonObject>();
        if (LastIndexOf(env, "APP_PROTOCOL") < 0)
        {
            before.Add(FunctionWorkload.Env("APP_PROTOCOL", DaprComponents.AppProtocol(function)));
        }

        if (Tracing(function.Spec!.Serving!) is { } tracing
            && DaprComponents.Text(tracing["provider"]?["name"]) == "skywalking"
            && DaprComponents.Text(tracing["provider"]?["oapServer"]) is { } oapServer)
        {
            before.Add(FunctionWorkload.Env("SW_AGENT_COLLECTOR_BACKEND_SERVICES", oapServer));
            before.Add(FunctionWorkload.Env("SW_AGENT_NAME", metadata.Name!));
            before.Add(FunctionWorkload.Env("SW_AGENT_NAMESPACE", metadata.Namespace!));
            before.Add(FunctionWorkload.Env("SW_AGENT_KEEP_TRACING", "true"));
        }

        for (var i = before.Count - 1; i >= 0; i--)
        {
            env.Insert(v1, before[i]);
        }
    }

    /// <summary>The Function's tracing, when it is turned on (OpenFunction drops it otherwise).</summary>
    private static JsonObject? Tracing(ServingSpec serving) =>
        serving.Tracing is { } tracing && tracing["enabled"] is JsonValue enabled && enabled.GetValueKind() == JsonValueKind.True ? tracing : null;

    /// <summary>A Dapr component reference (<c>{name, type?, topic?}</c>) with its type and the name of the Component behind it.</summary>
    private static (JsonObject Reference, string Name, string Type, string RealName)? Resolve(string fn, ServingSpec serving, JsonNode? node, string field, List<string> problems)
    {
        if (node is not JsonObject reference)
        {
            problems.Add($"{field}: must be an object with name (and type)");
            return null;
        }

        if (DaprComponents.Text(reference["name"]) is not { } name)
        {
            problems.Add($"{field}.name: is required (the key of a bindings, pubsub or states entry, or an existing Component)");
            return null;
        }

        var type = DaprComponents.Text(reference["type"])
            ?? DaprComponents.Text((serving.Bindings?[name] as JsonObject)?["type"])
            ?? DaprComponents.Text((serving.Pubsub?[name] as JsonObject)?["type"])
            ?? DaprComponents.Text(((serving.States?[name] as JsonObject)?["spec"] as JsonObject)?["type"]);
        if (type is null)
        {
            problems.Add($"{field}.type: \"{name}\" is not defined in spec.serving.bindings, pubsub or states, and Updraft does not look up existing Components; set its type (e.g. bindings.kafka or pubsub.kafka)");
            return null;
        }

        return (reference, name, type, RealName(fn, serving, name, type));
    }

    /// <summary>
    /// The Component a reference means (OpenFunction's <c>getRealComponentName</c>): the one made from the entry of that
    /// name in the map its type's prefix names, else an existing Component of that name.
    /// </summary>
    private static string RealName(string fn, ServingSpec serving, string name, string type)
    {
        var dot = type.IndexOf('.', StringComparison.Ordinal);
        var made = (dot < 0 ? "" : type[..dot]) switch
        {
            DaprComponents.BindingsKind => serving.Bindings?[name] is JsonObject,
            DaprComponents.PubsubKind => serving.Pubsub?[name] is JsonObject,
            DaprComponents.StateKind => (serving.States?[name] as JsonObject)?["spec"] is JsonObject,
            _ => false,
        };
        return made ? DaprComponents.ComponentName(fn, type[..dot], name) : name;
    }

    private static int LastIndexOf(JsonArray env, string name)
    {
        for (var i = env.Count - 1; i >= 0; i--)
        {
            if (env[i]?["name"]?.GetValue<string>() == name)
            {
                return i;
            }
        }

        return -1;
    }

    private static void AddIfSet(JsonObject target, string name, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            target[name] = value;
        }
    }

    private static void AddIfSet(JsonObject target, string name, JsonNode? value)
    {
        if (value is not null)
        {
            target[name] = value.Parent is null ? value : value.DeepClone();
        }
    }

    private static void AddIfAny(JsonObject target, string name, SortedDictionary<string, JsonNode?>? map)
    {
        if (map is { Count: > 0 })
        {
            var obj = new JsonObject();
            foreach (var (key, value) in map)
            {
                obj[key] = value?.Parent is null ? value : value.DeepClone();
            }

            target[name] = obj;
        }
    }

    private static SortedDictionary<string, JsonNode?> Clone(SortedDictionary<string, JsonNode?> map)
    {
        var copy = new SortedDictionary<string, JsonNode?>(StringComparer.Ordinal);
        foreach (var (key, value) in map)
        {
            copy[key] = value?.DeepClone();
        }

        return copy;
    }
}
