using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Cluster;
using Updraft.Operator.Functions.Dapr;
using Updraft.Operator.Functions.Keda;
using Updraft.Operator.Functions.Knative;
using Updraft.Operator.Options;
using Updraft.Operator.Reconciling;
using Updraft.Operator.Telemetry;
using Updraft.Shared.Crds;

namespace Updraft.Operator.Functions;

/// <summary>
/// OpenFunction <c>Function</c>s (<c>core.openfunction.io/v1beta2</c>) with <c>engine: keda</c>, served by Updraft:
/// the children of <see cref="KedaChildren"/>, owned by the Function (deleted with it by the garbage collector),
/// corrected when they drift, removed when the Function stops asking for them, and a status Function users read:
/// <c>status.serving</c> (state, reason, message), <c>status.addresses</c> and the conditions <c>Ready</c>,
/// <c>RouteReady</c> and <c>ScalerReady</c>.
/// </summary>
internal sealed class FunctionReconciler : IReconciler
{
    public const string ReconcileAnnotation = "updraft.dev/reconcile";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly ApiResource[] ChildKinds =
    [
        ApiResource.Deployments, ApiResource.Services, ApiResource.InterceptorRoutes, ApiResource.ScaledObjects,
        KnativeChildren.KnativeServices, DaprComponents.Components,
    ];

    private readonly ClusterCache _cache;
    private readonly ObjectWriter _writer;
    private readonly ChildWriter _children;
    private readonly EventRecorder _events;
    private readonly OperatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RecentWrites<Function> _functions = new();

    public FunctionReconciler(ClusterCache cache, ObjectWriter writer, EventRecorder events, OperatorOptions options, TimeProvider time, ILogger<FunctionReconciler> logger)
    {
        _cache = cache;
        _writer = writer;
        _children = new ChildWriter(writer);
        _events = events;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public string Name => "function";

    public IEnumerable<string> Keys() => _cache.Functions.Items.Keys;

    /// <summary>The Function a child change concerns (its controlling Function), if any.</summary>
    public static string? OwnerOf(JsonObject? child)
    {
        var control = ChildWriter.ControllerOf(child);
        return control?["kind"]?.GetValue<string>() == Function.KindValue && child?["metadata"]?["namespace"]?.GetValue<string>() is { } ns
            ? ns + "/" + control["name"]?.GetValue<string>()
            : null;
    }

    public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        _cache.Functions.Items.TryGetValue(key, out var cached);
        var function = _functions.Resolve(key, cached, cached?.Metadata?.ResourceVersion);
        if (function?.Metadata is not { Name: not null, Namespace: not null, DeletionTimestamp: null } metadata || function.Spec is null)
        {
            _functions.Forget(key);
            return ReconcileResult.Done;
        }

        if (!IsOurs(metadata))
        {
            return ReconcileResult.Done;
        }

        var engine = FunctionEngines.Select(function.Spec, out var engineProblem);
        FunctionState state;
        if (engine is null)
        {
            await RemoveChildrenAsync(function, keep: [], cancellationToken);
            state = FunctionState.NotReady("Failed", "InvalidSpec", engineProblem!);
        }
        else if (engine == FunctionEngine.None)
        {
            await RemoveChildrenAsync(function, keep: [], cancellationToken);
            state = FunctionState.NotReady("Skipped", "NoServing", "spec.serving is not set: nothing to run");
        }
        else if (engine == FunctionEngine.Async)
        {
            await RemoveChildrenAsync(function, keep: [], cancellationToken);
            state = FunctionState.NotReady("Failed", "EngineNotSupported", "async functions are not served by Updraft's operator yet; use engine: keda or knative, or let OpenFunction's controller serve this Function");
        }
        else if (WaitsForBuild(function) is { } build)
        {
            state = FunctionState.NotReady("Building", "BuildPending", build);
        }
        else if (engine == FunctionEngine.Knative)
        {
            state = await ApplyKnativeAsync(function, cancellationToken);
        }
        else
        {
            state = await ApplyKedaAsync(function, cancellationToken);
        }

        await SetStatusAsync(key, function, state, cancellationToken);
        return ReconcileResult.Done;
    }

    /// <summary>Whether this operator serves the Function (<c>UPDRAFT_OPERATOR_FUNCTIONS</c> and the Function's annotation).</summary>
    private bool IsOurs(ObjectMeta metadata)
    {
        var annotation = metadata.Annotations?.GetValueOrDefault(ReconcileAnnotation);
        return _options.Functions switch
        {
            FunctionsMode.All => !string.Equals(annotation, "false", StringComparison.OrdinalIgnoreCase),
            FunctionsMode.Annotated => string.Equals(annotation, "true", StringComparison.OrdinalIgnoreCase),
            _ => false,
        };
    }

    /// <summary>A Function OpenFunction still builds: its image is not there yet.</summary>
    private static string? WaitsForBuild(Function function)
    {
        if (function.Spec!.Build is null)
        {
            return null;
        }

        var state = function.Status?["build"]?["state"]?.GetValue<string>();
        return state is "Succeeded" or "Skipped" ? null : $"waiting for OpenFunction's build of {function.Spec.Image} (build state: {state ?? "none yet"})";
    }

    private async Task<FunctionState> ApplyKedaAsync(Function function, CancellationToken cancellationToken)
    {
        var (desired, problems) = KedaChildren.Build(function, _options);
        if (problems.Count > 0)
        {
            return FunctionState.NotReady("Failed", "InvalidSpec", string.Join("; ", problems));
        }

        var (failure, applied) = await ApplyChildrenAsync(function, desired, cancellationToken);
        return failure ?? Observe(function, applied);
    }

    /// <summary>The knative engine: a Knative Service (and the Dapr Components the Function defines).</summary>
    private async Task<FunctionState> ApplyKnativeAsync(Function function, CancellationToken cancellationToken)
    {
        var (service, problems) = KnativeChildren.Build(function, _options);
        var (components, componentProblems) = DaprComponents.Build(function);
        if (problems.Count + componentProblems.Count > 0)
        {
            return FunctionState.NotReady("Failed", "InvalidSpec", string.Join("; ", problems.Concat(componentProblems)));
        }

        var (failure, applied) = await ApplyChildrenAsync(function, [.. service, .. components], cancellationToken);
        return failure ?? ObserveKnative(function, applied);
    }

    /// <summary>Writes every desired child and removes the ones no longer asked for; a failure stops at the first child that cannot be written.</summary>
    private async Task<(FunctionState? Failure, Dictionary<string, JsonObject?> Applied)> ApplyChildrenAsync(Function function, IReadOnlyList<DesiredChild> desired, CancellationToken cancellationToken)
    {
        var metadata = function.Metadata!;
        var subject = Subject(metadata);
        var owner = ChildWriter.OwnerReference(Function.ApiVersionValue, Function.KindValue, metadata.Name!, metadata.Uid);
        var applied = new Dictionary<string, JsonObject?>(StringComparer.Ordinal);
        foreach (var child in desired)
        {
            var key = metadata.Namespace + "/" + child.Name;
            var current = _children.Current(child.Resource, key, CacheFor(child.Resource).Items.GetValueOrDefault(key));
            ChildResult result;
            try
            {
                result = await _children.ApplyAsync(child.Resource, current, child.Desired, owner, child.CreateOnly, cancellationToken);
            }
            catch (KubeApiException e) when (e.Status == HttpStatusCode.NotFound)
            {
                return (FunctionState.NotReady("Failed", "CrdMissing", $"the API server does not serve {child.Resource.GroupVersion} {child.Resource.Plural}: install {Provider(child.Resource)}"), applied);
            }
            catch (KubeApiException e) when (e.Status is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest)
            {
                return (FunctionState.NotReady("Failed", "ChildRejected", $"the API server rejected {child.Resource.Plural} {child.Name}: {e.Message}"), applied);
            }

            switch (result.Outcome)
            {
                case ChildOutcome.OwnedElsewhere:
                    return (FunctionState.NotReady("Failed", "ChildConflict", $"{child.Desired["kind"]} {child.Name} already exists and is controlled by {result.Controller}"), applied);
                case ChildOutcome.Created:
                    _events.Normal(subject, "Created", $"Created {child.Desired["kind"]} {child.Name}");
                    break;
                case ChildOutcome.Updated:
                    _events.Normal(subject, "Updated", $"Updated {child.Desired["kind"]} {child.Name}");
                    break;
            }

            applied[ChildKey(child.Resource, child.Name)] = result.Current;
        }

        await RemoveChildrenAsync(function, keep: [.. applied.Keys], cancellationToken);
        return (null, applied);
    }

    /// <summary>Kind and name: a core Service and a Knative Service may share a name.</summary>
    private static string ChildKey(ApiResource resource, string name) => resource + "/" + name;

    private static string Provider(ApiResource resource) => resource.Group switch
    {
        "keda.sh" => "KEDA",
        "serving.knative.dev" => "Knative Serving",
        "dapr.io" => "Dapr",
        "http.keda.sh" => "Updraft's CRDs",
        _ => resource.Group,
    };

    /// <summary>A Knative Service's own Ready condition is the Function's: Knative routes and scales it.</summary>
    private static FunctionState ObserveKnative(Function function, Dictionary<string, JsonObject?> applied)
    {
        var fn = function.Metadata!.Name!;
        var service = applied.GetValueOrDefault(ChildKey(KnativeChildren.KnativeServices, fn));
        var ready = (service?["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Ready");
        var generation = service?["metadata"]?["generation"]?.GetValue<long>();
        var observed = service?["status"]?["observedGeneration"]?.GetValue<long>();
        var (state, reason, message) = ready?["status"]?.GetValue<string>() switch
        {
            "True" when observed >= generation => ("Running", "Running", $"Knative Service {fn} is ready at {service?["status"]?["url"]?.GetValue<string>()}"),
            "False" => ("Failed", ready!["reason"]?.GetValue<string>() ?? "KnativeServiceNotReady", ready["message"]?.GetValue<string>() ?? ""),
            _ => ("Starting", "Starting", $"Knative Service {fn} is not ready yet"),
        };
        var ok = state == "Running";
        return new FunctionState(state, reason, message, ok, (ok, ok ? "RouteReady" : reason, message), (true, "KnativeAutoscaler", "Knative's autoscaler scales the revision"));
    }

    /// <summary>How the children are doing: the route accepted, the scaler written, the workload rolled out.</summary>
    private FunctionState Observe(Function function, Dictionary<string, JsonObject?> applied)
    {
        var metadata = function.Metadata!;
        var fn = metadata.Name!;
        var route = _cache.InterceptorRoutes.Items.GetValueOrDefault(metadata.Namespace + "/" + fn);
        var routeReady = route?.Status?.Conditions?.Find(static c => c.Type == "Ready");
        var (routeOk, routeReason, routeMessage) = routeReady switch
        {
            { Status: "True" } => (true, "RouteReady", $"InterceptorRoute {fn} is ready"),
            { } notReady => (false, notReady.Reason ?? "RouteNotReady", notReady.Message ?? ""),
            null => (false, "RoutePending", $"InterceptorRoute {fn} has not been checked yet"),
        };

        var scaledObject = applied.GetValueOrDefault(ChildKey(ApiResource.ScaledObjects, fn));
        var kedaReady = (scaledObject?["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Ready");
        var (scalerOk, scalerReason, scalerMessage) = kedaReady?["status"]?.GetValue<string>() switch
        {
            "False" => (false, kedaReady["reason"]?.GetValue<string>() ?? "ScaledObjectNotReady", kedaReady["message"]?.GetValue<string>() ?? ""),
            "True" => (true, "ScalerReady", $"KEDA scales Deployment {fn} on the scaler at {_options.ScalerAddress}"),
            _ => (true, "ScaledObjectWritten", $"ScaledObject {fn} points at the scaler at {_options.ScalerAddress}; KEDA has not reported on it yet"),
        };

        var deployment = applied.GetValueOrDefault(ChildKey(ApiResource.Deployments, fn));
        var (phase, reason, message) = Rollout(deployment, fn);
        var ready = routeOk && scalerOk && phase == "Running";
        return new FunctionState(phase, reason, message, ready, (routeOk, routeReason, routeMessage), (scalerOk, scalerReason, scalerMessage));
    }

    /// <summary>The Deployment's rollout as a serving state: Failed on a missed progress deadline, Running once rolled out (also at zero replicas).</summary>
    private static (string State, string Reason, string Message) Rollout(JsonObject? deployment, string fn)
    {
        var conditions = deployment?["status"]?["conditions"] as JsonArray;
        var progressing = conditions?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Progressing");
        if (progressing?["status"]?.GetValue<string>() == "False")
        {
            return ("Failed", progressing["reason"]?.GetValue<string>() ?? "ProgressDeadlineExceeded", progressing["message"]?.GetValue<string>() ?? "");
        }

        var generation = deployment?["metadata"]?["generation"]?.GetValue<long>();
        var observed = deployment?["status"]?["observedGeneration"]?.GetValue<long>();
        return observed is not null && observed >= generation
            ? ("Running", "Running", $"Deployment {fn} is rolled out; it scales with its load, to zero when idle")
            : ("Starting", "Starting", $"Deployment {fn} is rolling out");
    }

    /// <summary>Deletes children this Function controls that it no longer asks for (an engine change, a Function without serving).</summary>
    private async Task RemoveChildrenAsync(Function function, HashSet<string> keep, CancellationToken cancellationToken)
    {
        var metadata = function.Metadata!;
        foreach (var kind in ChildKinds)
        {
            foreach (var (_, child) in CacheFor(kind).Items)
            {
                var name = child["metadata"]?["name"]?.GetValue<string>();
                if (child["metadata"]?["namespace"]?.GetValue<string>() == metadata.Namespace
                    && ChildWriter.IsControlledBy(child, metadata.Uid)
                    && !keep.Contains(ChildKey(kind, name!)))
                {
                    await _children.DeleteAsync(kind, child, cancellationToken);
                    _events.Normal(Subject(metadata), "Deleted", $"Deleted {child["kind"]} {name}, which the Function no longer asks for");
                }
            }
        }
    }

    private Kubernetes.Watching.ResourceWatch<JsonObject> CacheFor(ApiResource resource) =>
        resource == ApiResource.Deployments ? _cache.FunctionDeployments
        : resource == ApiResource.Services ? _cache.FunctionServices
        : resource == ApiResource.InterceptorRoutes ? _cache.FunctionRoutes
        : resource == KnativeChildren.KnativeServices ? _cache.FunctionKnativeServices
        : resource == DaprComponents.Components ? _cache.FunctionComponents
        : _cache.ScaledObjects;

    /// <summary>Writes the status (through <c>/status</c>) only when it differs; a Warning Event marks each new failure.</summary>
    private async Task SetStatusAsync(string key, Function function, FunctionState state, CancellationToken cancellationToken)
    {
        var metadata = function.Metadata!;
        var current = function.Status;
        var now = _time.GetUtcNow();
        var currentConditions = current?["conditions"] as JsonArray;
        var conditions = new JsonArray(
            Condition(currentConditions, "Ready", state.Ready, state.Ready ? "Ready" : state.Reason, state.Ready ? "the Function serves requests through the interceptor" : state.Message, metadata.Generation, now),
            Condition(currentConditions, "RouteReady", state.Route.Ok, state.Route.Reason, state.Route.Message, metadata.Generation, now),
            Condition(currentConditions, "ScalerReady", state.Scaler.Ok, state.Scaler.Reason, state.Scaler.Message, metadata.Generation, now));
        var desired = new JsonObject
        {
            ["serving"] = new JsonObject
            {
                ["state"] = state.State,
                ["reason"] = state.Reason,
                ["message"] = state.Message,
                ["resourceRef"] = state.State is "Skipped" or "Building" ? null : metadata.Name,
                ["service"] = state.State is "Running" or "Starting" ? metadata.Name : null,
            },
            ["addresses"] = state.State is "Running" or "Starting" ? Addresses(function) : null,
            ["conditions"] = conditions,
        };
        if (OwnedFields.Match(current, desired))
        {
            return;
        }

        var patched = await _writer.PatchAsync(ApiResource.Functions, metadata.Namespace!, metadata.Name!, new JsonObject { ["status"] = desired }, status: true, cancellationToken);
        _functions.Remember(key, metadata.ResourceVersion, patched.Deserialize<Function>(Json));
        var previous = current?["serving"]?["reason"]?.GetValue<string>();
        if (!state.Ready && state.State is "Failed" && previous != state.Reason)
        {
            Log.NotReady(_logger, Function.KindValue, key, state.Reason, state.Message);
            _events.Warning(Subject(metadata), state.Reason, state.Message);
        }
    }

    /// <summary><c>Internal</c>: the cluster address; <c>External</c>: each hostname with each path prefix.</summary>
    private JsonArray Addresses(Function function)
    {
        var metadata = function.Metadata!;
        var addresses = new JsonArray(new JsonObject { ["type"] = "Internal", ["value"] = $"http://{metadata.Name}.{metadata.Namespace}.svc.{_options.ClusterDomain}/" });
        var route = function.Spec!.Serving?.Triggers?.Http?.Route;
        var paths = route?.Rules?.SelectMany(r => r.Matches ?? []).Select(m => string.IsNullOrEmpty(m.Path?.Value) ? "/" : m.Path.Value).Distinct(StringComparer.Ordinal).ToList();
        foreach (var host in route?.Hostnames ?? [])
        {
            foreach (var path in paths is { Count: > 0 } ? paths : ["/"])
            {
                addresses.Add(new JsonObject { ["type"] = "External", ["value"] = $"http://{host.ToLowerInvariant()}{path}" });
            }
        }

        return addresses;
    }

    private static JsonObject Condition(JsonArray? current, string type, bool ok, string reason, string message, long? generation, DateTimeOffset now)
    {
        var status = ok ? "True" : "False";
        var previous = current?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == type);
        var since = previous?["status"]?.GetValue<string>() == status && previous["lastTransitionTime"]?.GetValue<string>() is { } kept
            ? kept
            : now.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        return new JsonObject
        {
            ["type"] = type,
            ["status"] = status,
            ["reason"] = reason,
            ["message"] = message,
            ["observedGeneration"] = generation,
            ["lastTransitionTime"] = since,
        };
    }

    private static InvolvedObject Subject(ObjectMeta metadata) => InvolvedObject.Of(Function.ApiVersionValue, Function.KindValue, metadata);
}

/// <summary>Where a Function stands: OpenFunction's serving state, and the three conditions.</summary>
internal sealed record FunctionState(
    string State,
    string Reason,
    string Message,
    bool Ready,
    (bool Ok, string Reason, string Message) Route,
    (bool Ok, string Reason, string Message) Scaler)
{
    /// <summary>Not served at all: every condition says why.</summary>
    public static FunctionState NotReady(string state, string reason, string message) =>
        new(state, reason, message, false, (false, reason, message), (false, reason, message));
}
