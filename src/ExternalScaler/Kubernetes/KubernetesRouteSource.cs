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
/// keep working. The catalog stays unloaded, and the scaler not ready, until both kinds were listed once. Every
/// <c>KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD</c> the catalog is also rebuilt from the watches' copies
/// without an event, as the add-on's cache resync re-delivers its objects.
/// </summary>
internal sealed class KubernetesRouteSource : BackgroundService
{
    private readonly KubernetesRoutes _routes;
    private readonly RouteCatalog _catalog;
    private readonly ScalerMetrics _metrics;
    private readonly ILogger _logger;
    private readonly string _scope;
    private readonly TimeSpan _resyncPeriod;
    private readonly TimeProvider _time;
    // Builds come from the watch loop and from the resync timer.
    private readonly Lock _publishing = new();
    private HashSet<string> _rejected = new(StringComparer.Ordinal);

    public KubernetesRouteSource(KubeApiClient client, ClusterSettings cluster, IOptions<ScalerOptions> options, RouteCatalog catalog, ScalerMetrics metrics, TimeProvider time, ILoggerFactory loggers)
    {
        _catalog = catalog;
        _metrics = metrics;
        _logger = loggers.CreateLogger<KubernetesRouteSource>();
        _resyncPeriod = options.Value.ResyncPeriod;
        _time = time;
        _scope = cluster.WatchNamespace is { } ns ? "namespace " + ns : "all namespaces";
        _routes = new KubernetesRoutes(client, cluster.WatchNamespace, time, loggers, options.Value.WatchTuning) { Built = OnBuilt };
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.WatchingRoutes(_logger, _scope);
        var watching = _routes.RunAsync(stoppingToken);
        if (_resyncPeriod > TimeSpan.Zero)
        {
            await ResyncAsync(stoppingToken);
        }

        await watching;
    }

    private async Task ResyncAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_resyncPeriod, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                if (!_routes.Synced.IsCompleted)
                {
                    continue; // the first build is the watch loop's
                }

                RouteBuild build;
                lock (_publishing)
                {
                    // Read under the lock, so this never replaces a newer build of the loop with older copies (the loop's
                    // own build can be older than this one only when a change is pending, and it builds again for it).
                    build = KubernetesRoutes.Build(_routes.InterceptorRoutes.Items.Values, _routes.HttpScaledObjects.Items.Values);
                    Publish(build);
                }

                Log.ClusterRoutesResynced(_logger, build.Routes.Count, build.Rejected.Count);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private void OnBuilt(RouteBuild build)
    {
        var first = !_catalog.Current.Loaded;
        Publish(build);
        if (first)
        {
            Log.ClusterRoutesSynced(_logger, build.Routes.Count, build.Rejected.Count);
        }
        else
        {
            Log.ClusterRoutesBuilt(_logger, build.Routes.Count, build.Rejected.Count);
        }
    }

    private void Publish(RouteBuild build)
    {
        lock (_publishing)
        {
            _catalog.Publish(build.Routes);
            CountRejections(build.Rejected);
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
