using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Cluster;
using Updraft.Operator.Functions.Async;
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
        KnativeChildren.KnativeServices, DaprComponents.Components, AsyncChildren.StatefulSets, AsyncChildren.Jobs,
        AsyncChildren.ScaledJobs,
    ];

    private readonly ClusterCache _cache;
    private readonly ObjectWriter _writer;
    private readonly ChildWriter _children;
    private readonly EventRecorder _events;
    private readonly OperatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RecentWrites<Function> _functions = new();
    private readonly ConcurrentDictionary<string, string> _notes = new(StringComparer.Ordinal);

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
            _notes.TryRemove(key, out _);
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
        else if (WaitsForBuild(function) is { } build)
        {
            state = FunctionState.NotReady("Building", "BuildPending", build);
        }
        else if (engine == FunctionEngine.Knative)
        {
            state = await ApplyKnativeAsync(function, cancellationToken);
        }
        else if (engine == FunctionEngine.Async)
        {
            state = await ApplyAsyncAsync(key, function, cancellationToken);
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
        var (components, componentProblems) = DaprComponents.Build(function);
        if (problems.Count + componentProblems.Count > 0)
        {
            return FunctionState.NotReady("Failed", "InvalidSpec", string.Join("; ", problems.Concat(componentProblems)));
        }

        var (failure, applied) = await ApplyChildrenAsync(function, [.. desired, .. components], cancellationToken);
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
        return failure ?? ObserveKnative(function, applied, _options.ClusterDomain);
    }

    /// <summary>
    /// An async Function (Dapr or KEDA triggers, no HTTP trigger): its workload, its ScaledObject or ScaledJob, the
    /// dapr-proxy and its Service in the standalone mode, and its Dapr Components. What the Function sets but an async
    /// Function ignores is told once per change, as an Event and in the Ready condition.
    /// </summary>
    private async Task<FunctionState> ApplyAsyncAsync(string key, Function function, CancellationToken cancellationToken)
    {
        var (desired, problems, notes) = AsyncChildren.Build(function, _options);
        var (components, componentProblems) = DaprComponents.Build(function);
        if (problems.Count + componentProblems.Count > 0)
        {
            return FunctionState.NotReady("Failed", "InvalidSpec", string.Join("; ", problems.Concat(componentProblems)));
        }

        ReportNotes(key, function, notes);
        var (failure, applied) = await ApplyChildrenAsync(function, [.. desired, .. components], cancellationToken);
        return failure ?? ObserveAsync(function, applied, notes);
    }

    private void ReportNotes(string key, Function function, IReadOnlyList<string> notes)
    {
        var text = string.Join("; ", notes);
        if (_notes.TryGetValue(key, out var previous) && previous == text)
        {
            return;
        }

        _notes[key] = text;
        if (notes.Count > 0)
        {
            _events.Normal(Subject(function.Metadata!), "SpecNotes", text);
        }
    }

    /// <summary>
    /// An async Function runs once its workload is ready (OpenFunction reports Running at once): the Deployment or
    /// StatefulSet rolled out with its replicas available, the ScaledJob written, or the single Job running or done.
    /// </summary>
    private static FunctionState ObserveAsync(Function function, Dictionary<string, JsonObject?> applied, IReadOnlyList<string> notes)
    {
        var fn = function.Metadata!.Name!;
        var route = (true, "NoHttpTrigger", "an async function is driven by its triggers, not by HTTP requests");
        var workloadType = function.Spec!.Serving!.WorkloadType is { Length: > 0 } type ? type : AsyncChildren.DeploymentType;
        (string State, string Reason, string Message) phase;
        (bool Ok, string Reason, string Message) scaler;
        if (workloadType == AsyncChildren.JobType)
        {
            var scaledJob = applied.GetValueOrDefault(ChildKey(AsyncChildren.ScaledJobs, fn));
            if (applied.ContainsKey(ChildKey(AsyncChildren.ScaledJobs, fn)))
            {
                // The ScaledJob is the workload: Running only once KEDA says it works.
                scaler = Scaler(scaledJob, AsyncChildren.ScaledJobKind, fn, $"KEDA starts a Job of {fn} per event");
                phase = scaler switch
                {
                    { Ok: false } => ("Failed", scaler.Reason, scaler.Message),
                    { Reason: "ScalerReady" } => ("Running", "Running", $"ScaledJob {fn} starts the function's Jobs as events arrive"),
                    _ => ("Starting", "Starting", $"ScaledJob {fn} is written; KEDA has not reported it ready yet"),
                };
            }
            else
            {
                scaler = (true, "NotScaled", $"no scaleOptions.keda.triggers: Job {fn} runs once");
                phase = JobState(applied.GetValueOrDefault(ChildKey(AsyncChildren.Jobs, fn)), fn);
            }
        }
        else
        {
            var resource = workloadType == AsyncChildren.StatefulSetType ? AsyncChildren.StatefulSets : ApiResource.Deployments;
            scaler = applied.ContainsKey(ChildKey(ApiResource.ScaledObjects, fn))
                ? Scaler(applied[ChildKey(ApiResource.ScaledObjects, fn)], ScaledObject.KindValue, fn, $"KEDA scales {workloadType} {fn} on its triggers")
                : (true, "NotScaled", $"no scaleOptions.keda.triggers: {workloadType} {fn} does not scale");
            phase = WorkloadState(applied.GetValueOrDefault(ChildKey(resource, fn)), workloadType, fn);
        }

        phase = WithProxy(phase, applied, fn);
        var ready = scaler.Ok && phase.State is "Running" or "Succeeded";
        var readyMessage = notes.Count == 0 ? phase.Message : $"{phase.Message}. Notes: {string.Join("; ", notes)}";
        return new FunctionState(phase.State, phase.Reason, phase.Message, ready, route, scaler, readyMessage, Addressable: false);
    }

    /// <summary>A Deployment or StatefulSet: rolled out, and as many replicas available (ready) as it asks for.</summary>
    private static (string State, string Reason, string Message) WorkloadState(JsonObject? workload, string kind, string fn)
    {
        var (state, reason, message) = Rollout(workload, kind, fn);
        if (state != "Running")
        {
            return (state, reason, message);
        }

        var wanted = workload?["spec"]?["replicas"]?.GetValue<int>() ?? 1;
        var ready = workload?["status"]?[kind == AsyncChildren.StatefulSetType ? "readyReplicas" : "availableReplicas"]?.GetValue<int>() ?? 0;
        return ready >= wanted
            ? ("Running", "Running", wanted == 0 ? $"{kind} {fn} is rolled out at zero replicas; it scales with its triggers" : $"{kind} {fn} has {ready} of {wanted} replicas ready")
            : ("Starting", "Starting", $"{kind} {fn} has {ready} of {wanted} replicas ready");
    }

    /// <summary>A Job that runs once: Failed or Succeeded by its conditions, Running while a pod is active.</summary>
    private static (string State, string Reason, string Message) JobState(JsonObject? job, string fn)
    {
        var conditions = job?["status"]?["conditions"] as JsonArray;
        var failed = conditions?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Failed" && c["status"]?.GetValue<string>() == "True");
        if (failed is not null)
        {
            return ("Failed", failed["reason"]?.GetValue<string>() ?? "JobFailed", failed["message"]?.GetValue<string>() ?? $"Job {fn} failed");
        }

        if (conditions?.Any(c => c?["type"]?.GetValue<string>() == "Complete" && c["status"]?.GetValue<string>() == "True") == true)
        {
            return ("Succeeded", "Completed", $"Job {fn} completed");
        }

        return job?["status"]?["active"]?.GetValue<int>() is > 0
            ? ("Running", "Running", $"Job {fn} is running")
            : ("Starting", "Starting", $"Job {fn} has no running pod yet");
    }

    /// <summary>In the standalone Dapr mode the function also waits for its dapr-proxy, as in OpenFunction.</summary>
    private static (string State, string Reason, string Message) WithProxy((string State, string Reason, string Message) phase, Dictionary<string, JsonObject?> applied, string fn)
    {
        var name = DaprComponents.ProxyName(fn);
        if (phase.State is not ("Running" or "Succeeded") || !applied.TryGetValue(ChildKey(ApiResource.Deployments, name), out var proxy))
        {
            return phase;
        }

        var failure = (proxy?["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "ReplicaFailure" && c["status"]?.GetValue<string>() == "True");
        if (failure is not null)
        {
            return ("Failed", failure["reason"]?.GetValue<string>() ?? "DaprProxyReplicaFailure", $"dapr-proxy Deployment {name}: {failure["message"]?.GetValue<string>()}");
        }

        var proxyState = WorkloadState(proxy, "Deployment", name);
        return proxyState.State == "Running" ? phase : (proxyState.State, proxyState.Reason, $"dapr-proxy: {proxyState.Message}");
    }

    /// <summary>A ScaledObject's or ScaledJob's Ready condition, as KEDA reports it (not yet: written is enough).</summary>
    private static (bool Ok, string Reason, string Message) Scaler(JsonObject? scaler, string kind, string fn, string readyMessage)
    {
        var kedaReady = (scaler?["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Ready");
        return kedaReady?["status"]?.GetValue<string>() switch
        {
            "False" => (false, kedaReady["reason"]?.GetValue<string>() ?? kind + "NotReady", kedaReady["message"]?.GetValue<string>() ?? ""),
            "True" => (true, "ScalerReady", readyMessage),
            _ => (true, kind + "Written", $"{kind} {fn} is written; KEDA has not reported on it yet"),
        };
    }

    /// <summary>Writes every desired child and removes the ones no longer asked for; a failure stops at the first child that cannot be written.</summary>
    private async Task<(FunctionState? Failure, Dictionary<string, JsonObject?> Applied)> ApplyChildrenAsync(Function function, IReadOnlyList<DesiredChild> desired, CancellationToken cancellationToken)
    {
        var metadata = function.Metadata!;
        var subject = Subject(metadata);
        var owner = ChildWriter.OwnerReference(Function.ApiVersionValue, Function.KindValue, metadata.Name!, metadata.Uid);
        var applied = new Dictionary<string, JsonObject?>(StringComparer.Ordinal);
        var (created, updated) = (new List<string>(), new List<string>());
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
                ReportWrites(subject, created, updated);
                return (FunctionState.NotReady("Failed", "CrdMissing", $"the API server does not serve {child.Resource.GroupVersion} {child.Resource.Plural}: install {Provider(child.Resource)}"), applied);
            }
            catch (KubeApiException e) when (e.Status is HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest)
            {
                ReportWrites(subject, created, updated);
                return (FunctionState.NotReady("Failed", "ChildRejected", $"the API server rejected {child.Resource.Plural} {child.Name}: {e.Message}"), applied);
            }

            switch (result.Outcome)
            {
                case ChildOutcome.OwnedElsewhere:
                    ReportWrites(subject, created, updated);
                    return (FunctionState.NotReady("Failed", "ChildConflict", $"{child.Desired["kind"]} {child.Name} already exists and is controlled by {result.Controller}"), applied);
                case ChildOutcome.Created:
                    created.Add($"{child.Desired["kind"]} {child.Name}");
                    break;
                case ChildOutcome.Updated:
                    updated.Add($"{child.Desired["kind"]} {child.Name}");
                    break;
            }

            applied[ChildKey(child.Resource, child.Name)] = result.Current;
        }

        ReportWrites(subject, created, updated);
        await RemoveChildrenAsync(function, keep: [.. applied.Keys], cancellationToken);
        return (null, applied);
    }

    /// <summary>One Event per reconcile for what it created and one for what it updated (an Event is an API write too).</summary>
    private void ReportWrites(InvolvedObject subject, List<string> created, List<string> updated)
    {
        if (created.Count > 0)
        {
            _events.Normal(subject, "Created", "Created " + string.Join(", ", created));
        }

        if (updated.Count > 0)
        {
            _events.Normal(subject, "Updated", "Updated " + string.Join(", ", updated));
        }
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
    private static FunctionState ObserveKnative(Function function, Dictionary<string, JsonObject?> applied, string clusterDomain)
    {
        var fn = function.Metadata!.Name!;
        var service = applied.GetValueOrDefault(ChildKey(KnativeChildren.KnativeServices, fn));
        var ready = (service?["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Ready");
        var generation = service?["metadata"]?["generation"]?.GetValue<long>();
        var observed = service?["status"]?["observedGeneration"]?.GetValue<long>();
        var (state, reason, message) = WithProxy(ready?["status"]?.GetValue<string>() switch
        {
            "True" when observed >= generation => ("Running", "Running", $"Knative Service {fn} is ready at {service?["status"]?["url"]?.GetValue<string>()}"),
            "False" => ("Failed", ready!["reason"]?.GetValue<string>() ?? "KnativeServiceNotReady", ready["message"]?.GetValue<string>() ?? ""),
            _ => ("Starting", "Starting", $"Knative Service {fn} is not ready yet"),
        }, applied, fn);
        var ok = state == "Running";
        // Knative, not an HTTPRoute, gives the Function its public address: the Service's URL unless it is cluster-local.
        var url = service?["status"]?["url"]?.GetValue<string>();
        var external = url is null || url.EndsWith(".svc." + clusterDomain, StringComparison.Ordinal) ? [] : new[] { url.TrimEnd('/') + "/" };
        return new FunctionState(state, reason, message, ok, (ok, ok ? "RouteReady" : reason, message), (true, "KnativeAutoscaler", "Knative's autoscaler scales the revision"), ExternalAddresses: external);
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

        var scaler = Scaler(applied.GetValueOrDefault(ChildKey(ApiResource.ScaledObjects, fn)), ScaledObject.KindValue, fn, $"KEDA scales Deployment {fn} on the scaler at {_options.ScalerAddress}");
        var deployment = applied.GetValueOrDefault(ChildKey(ApiResource.Deployments, fn));
        var (phase, reason, message) = WithProxy(Rollout(deployment, "Deployment", fn), applied, fn);
        var ready = routeOk && scaler.Ok && phase == "Running";
        return new FunctionState(phase, reason, message, ready, (routeOk, routeReason, routeMessage), scaler);
    }

    /// <summary>A workload's rollout as a serving state: Failed on a missed progress deadline, Running once rolled out (also at zero replicas).</summary>
    private static (string State, string Reason, string Message) Rollout(JsonObject? workload, string kind, string fn)
    {
        var conditions = workload?["status"]?["conditions"] as JsonArray;
        var progressing = conditions?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == "Progressing");
        if (progressing?["status"]?.GetValue<string>() == "False")
        {
            return ("Failed", progressing["reason"]?.GetValue<string>() ?? "ProgressDeadlineExceeded", progressing["message"]?.GetValue<string>() ?? "");
        }

        var generation = workload?["metadata"]?["generation"]?.GetValue<long>();
        var observed = workload?["status"]?["observedGeneration"]?.GetValue<long>();
        return observed is not null && observed >= generation
            ? ("Running", "Running", $"{kind} {fn} is rolled out; it scales with its load, to zero when idle")
            : ("Starting", "Starting", $"{kind} {fn} is rolling out");
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
        : resource == AsyncChildren.StatefulSets ? _cache.FunctionStatefulSets
        : resource == AsyncChildren.Jobs ? _cache.FunctionJobs
        : resource == AsyncChildren.ScaledJobs ? _cache.FunctionScaledJobs
        : _cache.ScaledObjects;

    /// <summary>Writes the status (through <c>/status</c>) only when it differs; a Warning Event marks each new failure.</summary>
    private async Task SetStatusAsync(string key, Function function, FunctionState state, CancellationToken cancellationToken)
    {
        var metadata = function.Metadata!;
        var current = function.Status;
        var now = _time.GetUtcNow();
        var currentConditions = current?["conditions"] as JsonArray;
        var conditions = new JsonArray(
            Condition(currentConditions, "Ready", state.Ready, state.Ready ? "Ready" : state.Reason, state.Ready ? state.ReadyMessage : state.Message, metadata.Generation, now),
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
            ["addresses"] = state.Addressable && state.State is "Running" or "Starting" ? Addresses(function, state.ExternalAddresses) : null,
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

    /// <summary><c>Internal</c>: the cluster address; <c>External</c>: <paramref name="external"/>, or each hostname with each path prefix.</summary>
    private JsonArray Addresses(Function function, IReadOnlyList<string>? external)
    {
        var metadata = function.Metadata!;
        var addresses = new JsonArray(new JsonObject { ["type"] = "Internal", ["value"] = $"http://{metadata.Name}.{metadata.Namespace}.svc.{_options.ClusterDomain}/" });
        if (external is not null)
        {
            foreach (var address in external)
            {
                addresses.Add(new JsonObject { ["type"] = "External", ["value"] = address });
            }

            return addresses;
        }

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
    (bool Ok, string Reason, string Message) Scaler,
    string ReadyMessage = "the Function serves requests through the interceptor",
    bool Addressable = true,
    IReadOnlyList<string>? ExternalAddresses = null)
{
    /// <summary>Not served at all: every condition says why.</summary>
    public static FunctionState NotReady(string state, string reason, string message) =>
        new(state, reason, message, false, (false, reason, message), (false, reason, message));
}
