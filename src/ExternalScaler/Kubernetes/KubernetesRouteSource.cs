using Microsoft.Extensions.Options;
using Updraft.ExternalScaler.Options;
using Updraft.ExternalScaler.Routes;
using Updraft.ExternalScaler.Telemetry;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Hosting;
using Updraft.Kubernetes.Routes;

namespace Updraft.ExternalScaler.Kubernetes;

/// <summary>
/// Kubernetes mode: the routes are the cluster's InterceptorRoutes and HTTPScaledObjects (all namespaces, or
/// <c>KEDA_HTTP_WATCH_NAMESPACE</c>), the same watches the interceptors use. Every complete build replaces the
/// catalog; objects our rules reject are left out (logged once per version by the watch, and counted), the others
/// keep working. The catalog stays unloaded, and the scaler not ready, until both kinds were listed once.
/// </summary>
internal sealed class KubernetesRouteSource : BackgroundService
{
    private readonly KubernetesRoutes _routes;
    private readonly RouteCatalog _catalog;
    private readonly ScalerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly string _scope;
    private HashSet<string> _rejected = new(StringComparer.Ordinal);

    public KubernetesRouteSource(KubeApiClient client, ClusterSettings cluster, IOptions<ScalerOptions> options, RouteCatalog catalog, ScalerMetrics metrics, TimeProvider time, ILoggerFactory loggers)
    {
        _catalog = catalog;
        _metrics = metrics;
        _logger = loggers.CreateLogger<KubernetesRouteSource>();
        _scope = cluster.WatchNamespace is { } ns ? "namespace " + ns : "all namespaces";
        _routes = new KubernetesRoutes(client, cluster.WatchNamespace, time, loggers, options.Value.WatchTuning) { Built = OnBuilt };
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.WatchingRoutes(_logger, _scope);
        return _routes.RunAsync(stoppingToken);
    }

    private void OnBuilt(RouteBuild build)
    {
        var first = !_catalog.Current.Loaded;
        _catalog.Publish(build.Routes);
        CountRejections(build.Rejected);
        if (first)
        {
            Log.ClusterRoutesSynced(_logger, build.Routes.Count, build.Rejected.Count);
        }
        else
        {
            Log.ClusterRoutesBuilt(_logger, build.Routes.Count, build.Rejected.Count);
        }
    }

    /// <summary>Each rejected object version counts once, however many builds still leave it out.</summary>
    private void CountRejections(IReadOnlyList<RejectedRoute> rejected)
    {
        var current = new HashSet<string>(StringComparer.Ordinal);
        foreach (var route in rejected)
        {
            var id = route.Kind + " " + route.Key + "@" + route.ResourceVersion;
            current.Add(id);
            if (!_rejected.Contains(id))
            {
                _metrics.RouteRejected(route.Kind);
            }
        }

        _rejected = current;
        _metrics.SetRejectedRoutes(rejected.Count);
    }
}
