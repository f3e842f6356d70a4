using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Cluster;
using Updraft.Operator.Options;
using Updraft.Operator.Reconciling;
using Updraft.Operator.Telemetry;
using Updraft.Shared.Crds;
using Updraft.Shared.Routes;

namespace Updraft.Operator.HttpScaledObjects;

/// <summary>
/// The add-on operator's HTTPScaledObject controller, step for step: status <c>targetWorkload</c>/<c>targetService</c>,
/// the rules the CRD schema cannot check (reported as <c>Ready=False</c>, never a crash), the
/// <c>orphan-scaledobject</c> and <c>skip-scaledobject-creation</c> annotations, and otherwise the KEDA ScaledObject
/// of the same name, owned through a controller reference, with the fields it owns put back when someone edits them.
/// </summary>
/// <remarks>
/// Unlike the add-on, it adds no finalizer: nothing needs cleaning up before an HTTPScaledObject goes (the garbage
/// collector deletes the ScaledObject through its owner reference), and a finalizer would leave objects stuck in
/// deletion whenever the operator is not running. The add-on's finalizer, on objects it created, is released when
/// such an object is deleted.
/// </remarks>
internal sealed partial class HttpScaledObjectReconciler : IReconciler
{
    public const string AddOnFinalizer = "httpscaledobject.http.keda.sh";
    public const string OrphanAnnotation = "httpscaledobject.keda.sh/orphan-scaledobject";
    public const string SkipAnnotation = "httpscaledobject.keda.sh/skip-scaledobject-creation";
    public const string ReconciledReason = "Reconciled";
    public const string CreateErrorReason = "CreateError";

    private const string DefaultApiVersion = "apps/v1";
    private const string DefaultKind = "Deployment";
    private const int KedaDefaultMaxReplicas = 100;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly ClusterCache _cache;
    private readonly ObjectWriter _writer;
    private readonly EventRecorder _events;
    private readonly ScaleTargets _scaleTargets;
    private readonly OperatorOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RecentWrites<HttpScaledObject> _sources = new();
    private readonly ChildWriter _children;
    private readonly ConcurrentDictionary<string, byte> _deprecationLogged = new(StringComparer.Ordinal);

    public HttpScaledObjectReconciler(ClusterCache cache, ObjectWriter writer, EventRecorder events, ScaleTargets scaleTargets, OperatorOptions options, TimeProvider time, ILogger<HttpScaledObjectReconciler> logger)
    {
        _cache = cache;
        _writer = writer;
        _children = new ChildWriter(writer);
        _events = events;
        _scaleTargets = scaleTargets;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public string Name => "httpscaledobject";

    public IEnumerable<string> Keys() => _cache.HttpScaledObjects.Items.Keys;

    /// <summary>
    /// The HTTPScaledObjects a ScaledObject change concerns: its controlling HTTPScaledObject, and the one of the same
    /// name (a ScaledObject someone deleted or replaced must be put back).
    /// </summary>
    public IEnumerable<string> OwnersOf(string key, JsonObject? scaledObject)
    {
        // The HTTPScaledObject of the same name, if there is one (it may be waiting for a ScaledObject it does not control).
        if (_cache.HttpScaledObjects.Items.ContainsKey(key))
        {
            yield return key;
        }

        var control = ChildWriter.ControllerOf(scaledObject);
        if (control?["kind"]?.GetValue<string>() == HttpScaledObject.KindValue && control["name"]?.GetValue<string>() is { } owner
            && scaledObject?["metadata"]?["namespace"]?.GetValue<string>() is { } ns && ns + "/" + owner != key)
        {
            yield return ns + "/" + owner;
        }
    }

    public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        _cache.HttpScaledObjects.Items.TryGetValue(key, out var cached);
        var source = _sources.Resolve(key, cached, cached?.Metadata?.ResourceVersion);
        if (source?.Metadata is not { Name: not null, Namespace: not null } metadata)
        {
            // Gone: its ScaledObject goes with it through the owner reference.
            _sources.Forget(key);
            _children.Forget(ApiResource.ScaledObjects, key);
            return ReconcileResult.Done;
        }

        if (metadata.DeletionTimestamp is not null)
        {
            await ReleaseFinalizerAsync(metadata);
            return ReconcileResult.Done;
        }

        if (_deprecationLogged.TryAdd(metadata.Uid ?? key, 0))
        {
            Log.HttpScaledObjectDeprecated(_logger, key);
        }

        if (await ProblemsAsync(source, cancellationToken) is { } problems)
        {
            await SetStatusAsync(key, source, new ReadyCondition(false, CreateErrorReason, problems), cancellationToken);
            return ReconcileResult.Done;
        }

        _cache.ScaledObjects.Items.TryGetValue(key, out var cachedChild);
        var child = _children.Current(ApiResource.ScaledObjects, key, cachedChild);
        ReadyCondition ready;
        if (IsTrue(metadata.Annotations, OrphanAnnotation))
        {
            ready = await OrphanAsync(source, child, cancellationToken);
        }
        else if (IsTrue(metadata.Annotations, SkipAnnotation))
        {
            ready = await SkipAsync(source, child, cancellationToken);
        }
        else
        {
            ready = await ApplyAsync(source, child, cancellationToken);
        }

        await SetStatusAsync(key, source, ready, cancellationToken);
        return ReconcileResult.Done;
    }

    /// <summary>Creates the ScaledObject, or puts back the fields the operator owns when they differ.</summary>
    private async Task<ReadyCondition> ApplyAsync(HttpScaledObject source, JsonObject? child, CancellationToken cancellationToken)
    {
        var metadata = source.Metadata!;
        var subject = Subject(metadata);
        var desired = ScaledObjectTemplate.Desired(source, _options.ScalerAddress);
        desired["apiVersion"] = ScaledObject.ApiVersionValue;
        desired["kind"] = ScaledObject.KindValue;
        var desiredMetadata = (JsonObject)desired["metadata"]!;
        desiredMetadata["name"] = metadata.Name;
        desiredMetadata["namespace"] = metadata.Namespace;
        ChildResult result;
        try
        {
            result = await _children.ApplyAsync(ApiResource.ScaledObjects, child, desired, Owner(metadata), createOnly: null, cancellationToken);
        }
        catch (KubeApiException e) when (e.Status is HttpStatusCode.NotFound or HttpStatusCode.Forbidden or HttpStatusCode.UnprocessableEntity or HttpStatusCode.BadRequest)
        {
            return await CreateErrorAsync(subject, $"writing ScaledObject {metadata.Name} failed: {e.Message}", e, cancellationToken);
        }

        switch (result.Outcome)
        {
            case ChildOutcome.OwnedElsewhere:
                return new ReadyCondition(false, CreateErrorReason,
                    $"ScaledObject {metadata.Name} already exists and is controlled by {result.Controller}; delete it, or give this HTTPScaledObject another name");
            case ChildOutcome.Created:
                _events.Normal(subject, "ScaledObjectCreated", $"Created ScaledObject {metadata.Name}");
                break;
            case ChildOutcome.Updated:
                _events.Normal(subject, "ScaledObjectUpdated", $"Updated ScaledObject {metadata.Name} to match the HTTPScaledObject");
                break;
        }

        return new ReadyCondition(true, ReconciledReason, $"ScaledObject {metadata.Name} is up to date");
    }

    /// <summary><c>orphan-scaledobject</c>: the ScaledObject stays, without this owner (a user migrating to InterceptorRoute keeps it).</summary>
    private async Task<ReadyCondition> OrphanAsync(HttpScaledObject source, JsonObject? child, CancellationToken cancellationToken)
    {
        var metadata = source.Metadata!;
        if (child is not null && metadata.Uid is { } uid && await _children.OrphanAsync(ApiResource.ScaledObjects, child, uid, cancellationToken))
        {
            _events.Normal(Subject(metadata), "ScaledObjectOrphaned", $"ScaledObject {metadata.Name} no longer belongs to this HTTPScaledObject ({OrphanAnnotation})");
        }

        return new ReadyCondition(true, ReconciledReason, $"ScaledObject {metadata.Name} is left without an owner ({OrphanAnnotation}: \"true\")");
    }

    /// <summary><c>skip-scaledobject-creation</c>: the user brings their own ScaledObject; one this operator made is deleted.</summary>
    private async Task<ReadyCondition> SkipAsync(HttpScaledObject source, JsonObject? child, CancellationToken cancellationToken)
    {
        var metadata = source.Metadata!;
        if (child is not null && ChildWriter.IsControlledBy(child, metadata.Uid))
        {
            await _children.DeleteAsync(ApiResource.ScaledObjects, child, cancellationToken);
            _events.Normal(Subject(metadata), "ScaledObjectDeleted", $"Deleted ScaledObject {metadata.Name} ({SkipAnnotation})");
        }

        return new ReadyCondition(true, ReconciledReason,
            $"no ScaledObject is created ({SkipAnnotation}: \"true\"); bring your own with trigger metadata {ScaledObjectTemplate.HttpScaledObjectKey}: {metadata.Name}");
    }

    private async Task<ReadyCondition> CreateErrorAsync(InvolvedObject subject, string message, KubeApiException error, CancellationToken cancellationToken)
    {
        // The condition says what failed; the retry (with back-off) comes from the exception.
        var ready = new ReadyCondition(false, CreateErrorReason, message);
        _cache.HttpScaledObjects.Items.TryGetValue(subject.Key, out var cached);
        var source = _sources.Resolve(subject.Key, cached, cached?.Metadata?.ResourceVersion);
        if (source is not null)
        {
            await SetStatusAsync(subject.Key, source, ready, cancellationToken);
        }

        throw error;
    }

    /// <summary>Writes <c>status</c> (through the subresource) only when it differs; an Event marks every change to not ready.</summary>
    private async Task SetStatusAsync(string key, HttpScaledObject source, ReadyCondition ready, CancellationToken cancellationToken)
    {
        var metadata = source.Metadata!;
        var status = source.Status;
        var workload = TargetWorkload(source.Spec);
        var service = TargetService(source.Spec);
        if (ready.IsCurrent(status?.Conditions, metadata.Generation) && status?.TargetWorkload == workload && status?.TargetService == service)
        {
            return;
        }

        var patch = new JsonObject
        {
            ["status"] = new JsonObject
            {
                ["targetWorkload"] = workload,
                ["targetService"] = service,
                ["conditions"] = ready.ToJson(status?.Conditions, metadata.Generation, _time.GetUtcNow()),
            },
        };
        var patched = await _writer.PatchAsync(ApiResource.HttpScaledObjects, metadata.Namespace!, metadata.Name!, patch, status: true, cancellationToken);
        _sources.Remember(key, metadata.ResourceVersion, patched.Deserialize<HttpScaledObject>(Json));
        if (!ready.Ready && ready.IsTransitionFrom(status?.Conditions))
        {
            Log.NotReady(_logger, HttpScaledObject.KindValue, key, ready.Reason, ready.Message);
            _events.Warning(Subject(metadata), ready.Reason, ready.Message);
        }
    }

    /// <summary>Removes the add-on's finalizer from an object being deleted (it guards no cleanup here).</summary>
    private async Task ReleaseFinalizerAsync(ObjectMeta metadata)
    {
        if (metadata.Finalizers is not { } finalizers || !finalizers.Contains(AddOnFinalizer))
        {
            return;
        }

        var remaining = new JsonArray();
        foreach (var finalizer in finalizers)
        {
            if (finalizer != AddOnFinalizer)
            {
                remaining.Add(finalizer);
            }
        }

        var patch = new JsonObject { ["metadata"] = new JsonObject { ["finalizers"] = remaining, ["resourceVersion"] = metadata.ResourceVersion } };
        try
        {
            // Not cancelled midway: a release that reached the server must not be retried as if it had not.
            await _writer.PatchAsync(ApiResource.HttpScaledObjects, metadata.Namespace!, metadata.Name!, patch, status: false, CancellationToken.None);
        }
        catch (KubeApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
        }
    }

    /// <summary>What the CRD schema cannot check (CEL on older clusters, cross-field rules, the scale target), one line; null when valid.</summary>
    private async Task<string?> ProblemsAsync(HttpScaledObject source, CancellationToken cancellationToken)
    {
        var collector = new RouteProblemCollector(null, null, null);
        RouteConversion.FromHttpScaledObject(source, RouteEnvironment.Kubernetes, collector);
        var problems = new List<string>();
        foreach (var problem in collector.Problems)
        {
            problems.Add(problem.Format());
        }

        var spec = source.Spec;
        if (spec?.ScaleTargetRef is { } target)
        {
            if (string.IsNullOrEmpty(target.Name))
            {
                problems.Add("spec.scaleTargetRef.name: is required (the workload KEDA scales)");
            }

            var apiVersion = string.IsNullOrEmpty(target.ApiVersion) ? DefaultApiVersion : target.ApiVersion;
            if (!ApiVersionPattern().IsMatch(apiVersion))
            {
                problems.Add($"spec.scaleTargetRef.apiVersion: \"{apiVersion}\" is not an API version; use group/version (e.g. apps/v1) or v1");
            }

            var kind = string.IsNullOrEmpty(target.Kind) ? DefaultKind : target.Kind;
            if (!KindPattern().IsMatch(kind))
            {
                problems.Add($"spec.scaleTargetRef.kind: \"{kind}\" is not a kind name");
            }

            if (problems.Count == 0 && await _scaleTargets.ProblemAsync(apiVersion, kind, cancellationToken) is { } unscalable)
            {
                problems.Add(unscalable);
            }
        }

        if (spec is not null)
        {
            CheckNotNegative(spec.Replicas?.Min, "spec.replicas.min", problems);
            CheckNotNegative(spec.Replicas?.Max, "spec.replicas.max", problems);
            CheckNotNegative(spec.ScaledownPeriod, "spec.scaledownPeriod", problems);
            CheckNotNegative(spec.InitialCooldownPeriod, "spec.initialCooldownPeriod", problems);
            var max = spec.Replicas?.Max ?? KedaDefaultMaxReplicas;
            if (spec.Replicas?.Min is { } min && min > max)
            {
                problems.Add(spec.Replicas.Max is null
                    ? $"spec.replicas.min: {min} is more than KEDA's default maximum of {KedaDefaultMaxReplicas}; set spec.replicas.max"
                    : $"spec.replicas: min ({min}) must not be greater than max ({max})");
            }
        }

        return problems.Count == 0 ? null : string.Join("; ", problems);
    }

    private static void CheckNotNegative(int? value, string field, List<string> problems)
    {
        if (value < 0)
        {
            problems.Add($"{field}: must not be negative");
        }
    }

    /// <summary><c>&lt;apiVersion&gt;/&lt;kind&gt;/&lt;name&gt;</c>, with KEDA's defaults for what is unset.</summary>
    internal static string? TargetWorkload(HttpScaledObjectSpec? spec) => spec?.ScaleTargetRef is { } target
        ? $"{(string.IsNullOrEmpty(target.ApiVersion) ? DefaultApiVersion : target.ApiVersion)}/{(string.IsNullOrEmpty(target.Kind) ? DefaultKind : target.Kind)}/{target.Name}"
        : null;

    /// <summary><c>&lt;service&gt;:&lt;port or port name&gt;</c>.</summary>
    internal static string? TargetService(HttpScaledObjectSpec? spec) => spec?.ScaleTargetRef is { } target
        ? target.Service + ":" + (target.Port?.ToString(CultureInfo.InvariantCulture) ?? target.PortName)
        : null;

    private static InvolvedObject Subject(ObjectMeta metadata) => InvolvedObject.Of(HttpScaledObject.ApiVersionValue, HttpScaledObject.KindValue, metadata);

    private static JsonObject Owner(ObjectMeta metadata) =>
        ChildWriter.OwnerReference(HttpScaledObject.ApiVersionValue, HttpScaledObject.KindValue, metadata.Name!, metadata.Uid);

    private static bool IsTrue(Dictionary<string, string>? annotations, string name) =>
        annotations is not null && annotations.TryGetValue(name, out var value) && string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);

    [GeneratedRegex("^(v[0-9a-z]+|[a-z0-9]([-a-z0-9.]*[a-z0-9])?/v[0-9a-z]+)$")]
    private static partial Regex ApiVersionPattern();

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9]{0,62}$")]
    private static partial Regex KindPattern();
}
