using System.Globalization;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Functions.Dapr;
using Updraft.Operator.Functions.Keda;
using Updraft.Operator.Options;
using Updraft.Shared.Crds;

namespace Updraft.Operator.Functions.Knative;

/// <summary>
/// What a Function with the <c>knative</c> engine (an HTTP trigger without <c>engine: keda</c>) runs, as OpenFunction's
/// knative engine makes it (<c>pkg/core/serving/knative</c>) but with a stable name: the <c>serving.knative.dev/v1</c>
/// Service <c>&lt;fn&gt;</c>, whose revision template carries OpenFunction's scaling and Dapr annotations and the
/// function's pod (container <c>function</c>, one unnamed port, OpenFunction's environment), plus the dapr-proxy
/// Deployment when Dapr runs standalone. The revision name is left to Knative, so an update rolls out a new revision of
/// the same Service. The Dapr Components come from <see cref="DaprComponents.Build"/>; HTTP routes and hostnames are
/// Knative's (its own <c>&lt;fn&gt;.&lt;ns&gt;</c> Service), not read here. Knative admits the <c>POD_NAME</c> field reference
/// of OpenFunction's environment only with its <c>kubernetes.podspec-fieldref</c> feature enabled (OpenFunction turns it on).
/// </summary>
internal static class KnativeChildren
{
    internal static readonly ApiResource KnativeServices = new("serving.knative.dev", "v1", "services");
    public const string ApiVersionValue = "serving.knative.dev/v1";
    public const string KindValue = "Service";

    public const string MinScale = "autoscaling.knative.dev/minScale";
    public const string MinScaleDashed = "autoscaling.knative.dev/min-scale";
    public const string MaxScale = "autoscaling.knative.dev/maxScale";
    public const string MaxScaleDashed = "autoscaling.knative.dev/max-scale";
    public const string ContainerConcurrency = "autoscaling.knative.dev/container-concurrency";

    /// <summary>Dapr's metrics port in a Knative pod: its default, 9090, is the queue-proxy's.</summary>
    public const string DaprMetricsPort = "19090";

    /// <summary>Ports the queue-proxy listens on in every Knative pod; Knative rejects them as the user port.</summary>
    private static readonly int[] ReservedPorts = [8012, 8013, 8022, 9090, 9091];

    /// <summary>The children, or the problems that stop the Function from being served (one line each).</summary>
    public static (IReadOnlyList<DesiredChild> Children, IReadOnlyList<string> Problems) Build(Function function, OperatorOptions options)
    {
        var metadata = function.Metadata!;
        var fn = metadata.Name!;
        var ns = metadata.Namespace!;
        var spec = function.Spec!;
        var serving = spec.Serving!;
        var problems = new List<string>();
        if (string.IsNullOrEmpty(spec.Image))
        {
            problems.Add("spec.image: is required");
        }

        if (!KubernetesNames.IsDns1035Label(fn))
        {
            problems.Add($"metadata.name: \"{fn}\" cannot name a Knative Service; use lower-case letters, digits and '-', starting with a letter, at most 63 characters");
        }

        var port = serving.Triggers?.Http?.Port is > 0 and var p ? p : KedaChildren.DefaultPort;
        if (Array.IndexOf(ReservedPorts, port) >= 0)
        {
            problems.Add($"spec.serving.triggers.http.port: {port} is the queue-proxy's in a Knative pod (8012, 8013, 8022, 9090 and 9091 are); use another port");
        }

        var scale = serving.ScaleOptions;
        if (scale?.MinReplicas < 0 || scale?.MaxReplicas < 0 || (scale?.MinReplicas is { } min && scale.MaxReplicas is { } max && min > max))
        {
            problems.Add($"spec.serving.scaleOptions: minReplicas ({scale.MinReplicas}) and maxReplicas ({scale.MaxReplicas}) must satisfy 0 <= min <= max");
        }

        var mode = DaprComponents.Mode(function, problems);
        var context = FunctionContext.Build(function, port, problems);
        var pod = PodSpec(function, port, problems);
        FunctionContext.Apply(pod, function, context, mode, options.ClusterDomain);
        var annotations = RevisionAnnotations(function, port, mode);
        var concurrency = ConcurrencyOf(serving, annotations, problems);
        if (problems.Count > 0)
        {
            return ([], problems);
        }

        if (concurrency is not null)
        {
            pod["containerConcurrency"] = concurrency;
        }

        // The Function's labels win over OpenFunction's, not over the two that say whose revision it is.
        var podLabels = new JsonObject
        {
            [DaprComponents.ManagedLabel] = "true",
            [KedaChildren.VersionLabel] = string.IsNullOrEmpty(spec.Version) ? "latest" : spec.Version,
        };
        foreach (var (key, value) in (serving.Labels ?? []).OrderBy(static pair => pair.Key, StringComparer.Ordinal))
        {
            podLabels[key] = value;
        }

        podLabels[KedaChildren.ManagedByLabel] = KedaChildren.ManagedBy;
        podLabels[KedaChildren.FunctionLabel] = fn;

        var children = new List<DesiredChild>
        {
            new(KnativeServices, FunctionWorkload.Object(ApiVersionValue, KindValue, fn, ns, DaprComponents.Labels(fn), new JsonObject
            {
                ["template"] = new JsonObject
                {
                    ["metadata"] = new JsonObject { ["labels"] = podLabels, ["annotations"] = annotations },
                    ["spec"] = pod,
                },
            })),
        };
        if (mode == DaprMode.Standalone)
        {
            children.Add(DaprComponents.Proxy(function, port, context, options.DaprProxyImage));
        }

        return (children, []);
    }

    /// <summary>
    /// The revision's annotations: OpenFunction's Dapr annotations (with Dapr's metrics on 19090), the Function's,
    /// <c>scaleOptions.knative</c> over them, then <c>minScale</c>/<c>min-scale</c> and <c>maxScale</c>/<c>max-scale</c>
    /// from <c>minReplicas</c>/<c>maxReplicas</c>. A bound that is set nowhere is owned as absent, so removing it from
    /// the Function removes it from the revision.
    /// </summary>
    private static JsonObject RevisionAnnotations(Function function, int port, DaprMode mode)
    {
        var scale = function.Spec!.Serving!.ScaleOptions;
        var annotations = DaprComponents.PodAnnotations(function, port, mode, DaprMetricsPort, scale?.Knative);
        Bound(annotations, scale?.MinReplicas, MinScale, MinScaleDashed);
        Bound(annotations, scale?.MaxReplicas, MaxScale, MaxScaleDashed);
        return annotations;
    }

    private static void Bound(JsonObject annotations, int? bound, params string[] keys)
    {
        foreach (var key in keys)
        {
            if (bound is { } value)
            {
                annotations[key] = value.ToString(CultureInfo.InvariantCulture);
            }
            else if (!annotations.ContainsKey(key))
            {
                annotations[key] = null;
            }
        }
    }

    /// <summary>
    /// <c>autoscaling.knative.dev/container-concurrency</c> (from <c>scaleOptions.knative</c> or the annotations) as the
    /// revision's <c>containerConcurrency</c>. Unset, the field is not owned: Knative fills in its cluster default.
    /// </summary>
    private static int? ConcurrencyOf(ServingSpec serving, JsonObject annotations, List<string> problems)
    {
        if (annotations[ContainerConcurrency]?.GetValue<string>() is not { } text)
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var concurrency))
        {
            return concurrency;
        }

        var field = serving.ScaleOptions?.Knative?.ContainsKey(ContainerConcurrency) == true ? "spec.serving.scaleOptions.knative" : "spec.serving.annotations";
        problems.Add($"{field}[\"{ContainerConcurrency}\"]: \"{text}\" is not a whole number of requests (0 means no limit)");
        return null;
    }

    /// <summary>
    /// <see cref="FunctionWorkload.PodSpec"/> with the function's port unnamed, <c>{containerPort: port}</c>, as
    /// OpenFunction writes it for Knative: Knative serves exactly one port, and only names <c>http1</c> and <c>h2c</c>.
    /// </summary>
    private static JsonObject PodSpec(Function function, int port, List<string> problems)
    {
        var containers = function.Spec!.Serving!.Template?["containers"] as JsonArray;
        for (var i = 0; i < (containers?.Count ?? 0); i++)
        {
            if (containers![i]?["name"]?.GetValue<string>() == FunctionWorkload.ContainerName && containers[i]?["ports"] is JsonArray { Count: > 0 })
            {
                problems.Add($"spec.serving.template.containers[{i}].ports: Knative serves one port, the function's (spec.serving.triggers.http.port); remove these");
            }
        }

        var pod = FunctionWorkload.PodSpec(function, port);
        var container = ((JsonArray)pod["containers"]!).OfType<JsonObject>().First(static c => c["name"]?.GetValue<string>() == FunctionWorkload.ContainerName);
        container["ports"] = new JsonArray(new JsonObject { ["containerPort"] = port });
        return pod;
    }
}
