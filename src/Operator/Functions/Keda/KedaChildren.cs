using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Functions.Dapr;
using Updraft.Operator.Options;
using Updraft.Shared.Crds;

namespace Updraft.Operator.Functions.Keda;

/// <summary>One child object a Function asks for.</summary>
/// <param name="Resource">Its kind.</param>
/// <param name="Desired">The whole object with the owned fields (null = absent).</param>
/// <param name="CreateOnly">Fields set only on creation (a Deployment's replicas: KEDA owns them afterwards).</param>
internal sealed record DesiredChild(ApiResource Resource, JsonObject Desired, JsonObject? CreateOnly = null)
{
    public string Name => Desired["metadata"]!["name"]!.GetValue<string>();
}

/// <summary>
/// What a Function with <c>engine: keda</c> runs on Updraft, as OpenFunction's keda engine means it and without its
/// defects: the Deployment (container <c>function</c>, port <c>function-port</c>, OpenFunction's env and labels),
/// the pods' Service <c>&lt;fn&gt;-direct</c>, an InterceptorRoute (every hostname, plus the cluster names of the
/// Function, so it is reachable without hostnames), a ScaledObject on Updraft's scaler (defaults when
/// <c>httpScaledObject</c> is absent), and the Service <c>&lt;fn&gt;</c> that sends <c>http://&lt;fn&gt;.&lt;ns&gt;</c>
/// through the interceptor. A Function that uses Dapr gets its pods' Dapr annotations and context, and the
/// dapr-proxy in the standalone mode; the Components come from <see cref="DaprComponents.Build"/>.
/// </summary>
internal static class KedaChildren
{
    public const string ManagedByLabel = "app.kubernetes.io/managed-by";
    public const string ManagedBy = "updraft-operator";
    public const string FunctionLabel = "openfunction.io/function";
    public const string VersionLabel = "app.kubernetes.io/version";
    public const int DefaultPort = 8080;
    public const int ServicePort = 80;
    public const int DefaultTargetPendingRequests = 100;
    public const int DefaultCooldownPeriod = 300;
    public const int PollingInterval = 15;

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

        if (!KubernetesNames.IsDns1035Label(fn) || fn.Length > FunctionNames.MaxServiceName - FunctionNames.DirectSuffix.Length)
        {
            problems.Add($"metadata.name: \"{fn}\" cannot name a Service; use lower-case letters, digits and '-', starting with a letter, at most {FunctionNames.MaxServiceName - FunctionNames.DirectSuffix.Length} characters");
        }

        var port = serving.Triggers?.Http?.Port is > 0 and var p ? p : DefaultPort;
        var scale = serving.ScaleOptions;
        if (scale?.MinReplicas < 0 || scale?.MaxReplicas < 0 || (scale?.MinReplicas is { } min && scale.MaxReplicas is { } max && min > max))
        {
            problems.Add($"spec.serving.scaleOptions: minReplicas ({scale.MinReplicas}) and maxReplicas ({scale.MaxReplicas}) must satisfy 0 <= min <= max");
        }

        if (scale?.Keda?.HttpScaledObject is { } http && (http.TargetPendingRequests < 1 || http.CooldownPeriod < 0))
        {
            problems.Add("spec.serving.scaleOptions.keda.httpScaledObject: targetPendingRequests must be at least 1 and cooldownPeriod not negative");
        }

        var hosts = Hosts(fn, ns, serving.Triggers?.Http?.Route?.Hostnames, options.ClusterDomain, problems);
        var rules = Rules(hosts, serving.Triggers?.Http?.Route?.Rules, problems);
        var mode = DaprComponents.Mode(function, problems);
        var context = FunctionContext.Build(function, port, problems);
        var podSpec = FunctionWorkload.PodSpec(function, port);
        FunctionContext.Apply(podSpec, function, context, mode, options.ClusterDomain);
        if (problems.Count > 0)
        {
            return ([], problems);
        }

        var version = string.IsNullOrEmpty(spec.Version) ? "latest" : spec.Version;
        var labels = new JsonObject
        {
            [ManagedByLabel] = ManagedBy,
            [FunctionLabel] = fn,
        };
        var podLabels = new JsonObject
        {
            ["openfunction.io/managed"] = "true",
            [VersionLabel] = version.Replace(".", "", StringComparison.Ordinal),
        };
        foreach (var (key, value) in (serving.Labels ?? []).OrderBy(static pair => pair.Key, StringComparer.Ordinal))
        {
            podLabels[key] = value;
        }

        // The Function's labels win over OpenFunction's, not over the two the Deployment's selector uses.
        podLabels[ManagedByLabel] = ManagedBy;
        podLabels[FunctionLabel] = fn;

        var children = new List<DesiredChild>
        {
            new(ApiResource.Deployments, Deployment(fn, ns, labels, podLabels, DaprComponents.PodAnnotations(function, port, mode), podSpec), new JsonObject
            {
                // KEDA owns the replica count once the Deployment exists; OpenFunction starts with min (or 1).
                ["spec"] = new JsonObject { ["replicas"] = scale?.MinReplicas is > 0 and var m ? m : 1 },
            }),
            new(ApiResource.Services, FunctionWorkload.Object("v1", "Service", FunctionNames.Direct(fn), ns, labels, new JsonObject
            {
                ["selector"] = new JsonObject { [FunctionLabel] = fn, [ManagedByLabel] = ManagedBy },
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = ServicePort, ["targetPort"] = port, ["protocol"] = "TCP" }),
            })),
            new(ApiResource.InterceptorRoutes, FunctionWorkload.Object(InterceptorRoute.ApiVersionValue, InterceptorRoute.KindValue, fn, ns, labels, new JsonObject
            {
                ["target"] = new JsonObject { ["service"] = FunctionNames.Direct(fn), ["port"] = ServicePort },
                ["rules"] = rules,
                ["scalingMetric"] = new JsonObject
                {
                    ["concurrency"] = new JsonObject { ["targetValue"] = scale?.Keda?.HttpScaledObject?.TargetPendingRequests ?? DefaultTargetPendingRequests },
                },
            })),
            new(ApiResource.ScaledObjects, FunctionWorkload.Object(ScaledObject.ApiVersionValue, ScaledObject.KindValue, fn, ns, labels, new JsonObject
            {
                ["scaleTargetRef"] = new JsonObject { ["apiVersion"] = "apps/v1", ["kind"] = "Deployment", ["name"] = fn },
                ["pollingInterval"] = PollingInterval,
                ["cooldownPeriod"] = scale?.Keda?.HttpScaledObject?.CooldownPeriod ?? DefaultCooldownPeriod,
                ["minReplicaCount"] = scale?.MinReplicas ?? 0,
                ["maxReplicaCount"] = scale?.MaxReplicas,
                ["triggers"] = new JsonArray(new JsonObject
                {
                    ["type"] = "external-push",
                    ["metadata"] = new JsonObject
                    {
                        [ScaleTrigger.ScalerAddressKey] = options.ScalerAddress,
                        ["interceptorRoute"] = fn,
                    },
                }),
            })),
            new(ApiResource.Services, FunctionWorkload.Object("v1", "Service", fn, ns, labels, new JsonObject
            {
                ["type"] = "ExternalName",
                ["externalName"] = $"{options.InterceptorService}.{options.Namespace}.svc.{options.ClusterDomain}",
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = ServicePort, ["protocol"] = "TCP" }),
            })),
        };
        if (mode == DaprMode.Standalone)
        {
            children.Add(DaprComponents.Proxy(function, port, context, options.DaprProxyImage));
        }

        return (children, []);
    }

    /// <summary>Every host the interceptor routes for the Function: its hostnames, then its cluster names.</summary>
    public static List<string> Hosts(string fn, string ns, List<string>? hostnames, string clusterDomain, List<string> problems)
    {
        var hosts = new List<string>();
        for (var i = 0; i < (hostnames?.Count ?? 0); i++)
        {
            var host = hostnames![i].Trim().ToLowerInvariant();
            if (host.Length == 0 || host.Contains('/', StringComparison.Ordinal) || host.Contains(':', StringComparison.Ordinal))
            {
                problems.Add($"spec.serving.triggers.http.route.hostnames[{i}]: \"{hostnames[i]}\" is not a host name");
                continue;
            }

            if (!hosts.Contains(host))
            {
                hosts.Add(host);
            }
        }

        foreach (var cluster in new[] { $"{fn}.{ns}.svc.{clusterDomain}", $"{fn}.{ns}.svc", $"{fn}.{ns}" })
        {
            if (!hosts.Contains(cluster))
            {
                hosts.Add(cluster);
            }
        }

        return hosts;
    }

    /// <summary>
    /// InterceptorRoute rules from Gateway API matches. The interceptor routes by path prefix and exact header values:
    /// an <c>Exact</c> or <c>RegularExpression</c> path, a regular-expression header, a method or a query match is
    /// rejected, never quietly widened to a prefix.
    /// </summary>
    private static JsonArray Rules(List<string> hosts, List<HttpRouteRule>? rules, List<string> problems)
    {
        var result = new JsonArray();
        for (var r = 0; r < (rules?.Count ?? 0); r++)
        {
            var matches = rules![r].Matches;
            if (matches is null or { Count: 0 })
            {
                result.Add(Rule(hosts, "/", null));
                continue;
            }

            for (var m = 0; m < matches.Count; m++)
            {
                var field = $"spec.serving.triggers.http.route.rules[{r}].matches[{m}]";
                var match = matches[m];
                var type = match.Path?.Type ?? "PathPrefix";
                if (type != "PathPrefix")
                {
                    problems.Add($"{field}.path.type: {type} is not supported: the interceptor matches path prefixes only; use PathPrefix");
                }

                if (match.Method is { Length: > 0 })
                {
                    problems.Add($"{field}.method: matching on the method is not supported by the interceptor");
                }

                if (match.QueryParams is { Count: > 0 })
                {
                    problems.Add($"{field}.queryParams: matching on query parameters is not supported by the interceptor");
                }

                var headers = new JsonArray();
                foreach (var header in match.Headers ?? [])
                {
                    if (header.Type is { } headerType && headerType != "Exact")
                    {
                        problems.Add($"{field}.headers: {headerType} header matches are not supported by the interceptor; use Exact");
                    }

                    headers.Add(new JsonObject { ["name"] = header.Name, ["value"] = header.Value });
                }

                var path = string.IsNullOrEmpty(match.Path?.Value) ? "/" : match.Path.Value;
                result.Add(Rule(hosts, path, headers.Count > 0 ? headers : null));
            }
        }

        if (result.Count == 0)
        {
            result.Add(Rule(hosts, "/", null));
        }

        return result;
    }

    private static JsonObject Rule(List<string> hosts, string path, JsonArray? headers)
    {
        var rule = new JsonObject
        {
            ["hosts"] = new JsonArray([.. hosts.Select(h => (JsonNode)JsonValue.Create(h))]),
            ["paths"] = new JsonArray(new JsonObject { ["value"] = path }),
        };
        if (headers is not null)
        {
            rule["headers"] = headers;
        }

        return rule;
    }

    private static JsonObject Deployment(string fn, string ns, JsonObject labels, JsonObject podLabels, JsonObject annotations, JsonObject podSpec) =>
        FunctionWorkload.Object("apps/v1", "Deployment", fn, ns, labels, new JsonObject
        {
            // Immutable once created: only labels that never change.
            ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { [FunctionLabel] = fn, [ManagedByLabel] = ManagedBy } },
            ["template"] = new JsonObject
            {
                ["metadata"] = new JsonObject { ["labels"] = podLabels, ["annotations"] = annotations },
                ["spec"] = podSpec,
            },
        });
}
