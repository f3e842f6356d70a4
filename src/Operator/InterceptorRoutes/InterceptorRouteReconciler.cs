using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Cluster;
using Updraft.Operator.Reconciling;
using Updraft.Operator.Telemetry;
using Updraft.Shared.Crds;
using Updraft.Shared.Routes;

namespace Updraft.Operator.InterceptorRoutes;

/// <summary>
/// An InterceptorRoute's <c>Ready</c> condition from a real check, where the add-on's operator only ever writes
/// <c>True</c>: the route passes the interceptor's own rules (the same <see cref="RouteConversion"/> code), and its
/// target Service exists with the port the route names. The condition is written only when the answer changes;
/// Service changes re-check the routes that point at them.
/// </summary>
internal sealed class InterceptorRouteReconciler : IReconciler
{
    public const string ReconciledReason = "Reconciled";
    public const string InvalidReason = "InvalidRoute";
    public const string ServiceNotFoundReason = "TargetServiceNotFound";
    public const string PortNotFoundReason = "TargetPortNotFound";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly ClusterCache _cache;
    private readonly ObjectWriter _writer;
    private readonly EventRecorder _events;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly RecentWrites<InterceptorRoute> _routes = new();

    public InterceptorRouteReconciler(ClusterCache cache, ObjectWriter writer, EventRecorder events, TimeProvider time, ILogger<InterceptorRouteReconciler> logger)
    {
        _cache = cache;
        _writer = writer;
        _events = events;
        _time = time;
        _logger = logger;
    }

    public string Name => "interceptorroute";

    public IEnumerable<string> Keys() => _cache.InterceptorRoutes.Items.Keys;

    /// <summary>The routes whose target is the Service <paramref name="serviceKey"/> (<c>namespace/name</c>).</summary>
    public IEnumerable<string> RoutesTo(string serviceKey)
    {
        foreach (var (key, route) in _cache.InterceptorRoutes.Items)
        {
            if (route.Metadata?.Namespace is { } ns && route.Spec?.Target?.Service is { } service && ns + "/" + service == serviceKey)
            {
                yield return key;
            }
        }
    }

    public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
    {
        _cache.InterceptorRoutes.Items.TryGetValue(key, out var cached);
        var route = _routes.Resolve(key, cached, cached?.Metadata?.ResourceVersion);
        if (route?.Metadata is not { Name: not null, Namespace: not null, DeletionTimestamp: null } metadata)
        {
            _routes.Forget(key);
            return ReconcileResult.Done;
        }

        var ready = Check(route);
        if (ready.IsCurrent(route.Status?.Conditions, metadata.Generation))
        {
            return ReconcileResult.Done;
        }

        var patch = new JsonObject
        {
            ["status"] = new JsonObject { ["conditions"] = ready.ToJson(route.Status?.Conditions, metadata.Generation, _time.GetUtcNow()) },
        };
        var patched = await _writer.PatchAsync(ApiResource.InterceptorRoutes, metadata.Namespace, metadata.Name, patch, status: true, cancellationToken);
        _routes.Remember(key, metadata.ResourceVersion, patched.Deserialize<InterceptorRoute>(Json));
        if (!ready.Ready && ready.IsTransitionFrom(route.Status?.Conditions))
        {
            Log.NotReady(_logger, InterceptorRoute.KindValue, key, ready.Reason, ready.Message);
            _events.Warning(InvolvedObject.Of(InterceptorRoute.ApiVersionValue, InterceptorRoute.KindValue, metadata), ready.Reason, ready.Message);
        }

        return ReconcileResult.Done;
    }

    private ReadyCondition Check(InterceptorRoute route)
    {
        var collector = new RouteProblemCollector(null, null, null);
        if (RouteConversion.FromInterceptorRoute(route, RouteEnvironment.Kubernetes, collector) is null)
        {
            var problems = new List<string>(collector.Problems.Count);
            foreach (var problem in collector.Problems)
            {
                problems.Add(problem.Format());
            }

            return new ReadyCondition(false, InvalidReason, string.Join("; ", problems));
        }

        var target = route.Spec!.Target!;
        var ns = route.Metadata!.Namespace!;
        if (!_cache.Services.Items.TryGetValue(ns + "/" + target.Service, out var service))
        {
            return new ReadyCondition(false, ServiceNotFoundReason, $"Service {target.Service} does not exist in namespace {ns}; requests are held until it does");
        }

        var port = target.Port?.ToString(CultureInfo.InvariantCulture) ?? target.PortName;
        var found = service.Spec?.Ports?.Exists(p => target.Port is { } number ? p.Port == number : p.Name == target.PortName) == true;
        return found
            ? new ReadyCondition(true, ReconciledReason, $"routing to Service {target.Service} port {port}")
            : new ReadyCondition(false, PortNotFoundReason, $"Service {target.Service} has no port {port}; requests are held until it does");
    }
}
