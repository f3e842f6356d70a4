using Microsoft.Extensions.Options;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Telemetry;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Endpoints;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Routes;
using Updraft.Kubernetes.Watching;
using Updraft.Shared.Hosting;

namespace Updraft.Interceptor.Kubernetes;

/// <summary>
/// Kubernetes mode's source of routes and endpoints: InterceptorRoutes and HTTPScaledObjects build the routing table
/// (one atomic swap per coalesced burst of changes); Services and EndpointSlices keep each
/// <see cref="ClusterTarget"/>'s port, pods and readiness current without rebuilding the table; labelled ConfigMaps
/// provide response bodies. <see cref="Synced"/> completes once all of them have been listed, which is when
/// <c>/readyz</c> starts answering 200.
/// </summary>
/// <remarks>
/// API calls (for RBAC): list and watch <c>interceptorroutes</c>, <c>httpscaledobjects</c> (<c>http.keda.sh</c>),
/// <c>services</c>, <c>configmaps</c> (label <c>http.keda.sh/response-body=true</c>), <c>endpointslices</c>
/// (<c>discovery.k8s.io</c>), in <c>KEDA_HTTP_WATCH_NAMESPACE</c> or cluster-wide; and get on the
/// <c>/apis/discovery.k8s.io</c> discovery document.
/// </remarks>
internal sealed class ClusterRouteSource : BackgroundService, IRouteSourceHealth
{
    private readonly KubeApiClient _client;
    private readonly KubernetesRoutes _routes;
    private readonly EndpointSliceCatalog _endpoints;
    private readonly ResourceWatch<Service> _services;
    private readonly ResourceWatch<ConfigMap> _configMaps;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeProvider _time;
    private readonly TimeSpan _refreshInterval;
    private int _rejectedRoutes;

    public ClusterRouteSource(
        IOptions<InterceptorOptions> options,
        RouteTablePublisher publisher,
        RouteFreshness freshness,
        ClusterTargets targets,
        ConfigMapBodies bodies,
        InterceptorMetrics metrics,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        var cluster = options.Value.Cluster;
        _time = time;
        _refreshInterval = options.Value.RoutingTableRefreshInterval;
        var watchNamespace = cluster.WatchNamespace;
        try
        {
            _client = KubeApiClient.Create(cluster.Kubeconfig);
        }
        catch (KubeConfigurationException e)
        {
            throw new StartupProblemsException([e.Message]);
        }

        var tuning = options.Value.WatchTuning;
        _routes = new KubernetesRoutes(_client, watchNamespace, time, loggers, tuning);
        _endpoints = new EndpointSliceCatalog(_client, watchNamespace, null, time, loggers, tuning);
        _services = new ResourceWatch<Service>(_client, ApiResource.Services, watchNamespace, null, time, loggers.CreateLogger<ResourceWatch<Service>>(), tuning);
        _configMaps = new ResourceWatch<ConfigMap>(_client, ApiResource.ConfigMaps, watchNamespace, ConfigMap.ResponseBodyLabel + "=true", time, loggers.CreateLogger<ResourceWatch<ConfigMap>>(), tuning);

        targets.Attach(key => _services.Items.TryGetValue(key, out var service) ? service : null, _endpoints.Get);
        // The watches live as long as this source, so their subscriptions are never disposed.
        _ = _services.Subscribe(change =>
        {
            if (change.Kind == WatchChangeKind.Reset)
            {
                targets.RefreshAll();
            }
            else
            {
                targets.ServiceChanged(change.Key);
            }
        });
        _endpoints.ServiceChanged = targets.EndpointsChanged;
        _ = _configMaps.Subscribe(change => bodies.Apply(_configMaps, change));
        metrics.Registry.AddBeforeCollectCallback(() =>
        {
            metrics.SetWatchCounts(_routes.InterceptorRoutes.Resource.Plural, _routes.InterceptorRoutes.Lists, _routes.InterceptorRoutes.Failures);
            metrics.SetWatchCounts(_routes.HttpScaledObjects.Resource.Plural, _routes.HttpScaledObjects.Lists, _routes.HttpScaledObjects.Failures);
            metrics.SetWatchCounts(_services.Resource.Plural, _services.Lists, _services.Failures);
            metrics.SetWatchCounts(_configMaps.Resource.Plural, _configMaps.Lists, _configMaps.Failures);
            if (_endpoints.Watch is { } slices)
            {
                metrics.SetWatchCounts(slices.Resource.Plural, slices.Lists, slices.Failures);
            }
        });
        freshness.Track(Confirmations);
        _routes.Built = build =>
        {
            // Counted first: whoever sees the new table also sees its reload counted.
            metrics.SetRejectedRoutes(build.Rejected.Count);
            Volatile.Write(ref _rejectedRoutes, build.Rejected.Count);
            metrics.RouteReloadSucceeded();
            publisher.Publish(build.Routes);
        };
    }

    /// <summary>Completes when routes, Services, EndpointSlices and ConfigMaps have all been listed once.</summary>
    public Task Synced => _synced.Task;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var running = Task.WhenAll(
            _routes.RunAsync(stoppingToken),
            _endpoints.RunAsync(stoppingToken),
            _services.RunAsync(stoppingToken),
            _configMaps.RunAsync(stoppingToken));
        try
        {
            await Task.WhenAll(_services.Synced, _endpoints.Synced, _configMaps.Synced).WaitAsync(stoppingToken);
            // Targets created before the Services and slices arrived read them now.
            await _routes.Synced.WaitAsync(stoppingToken);
            _synced.TrySetResult();
            await RefreshAsync(stoppingToken);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await running;
    }

    public RouteSourceHealth Health()
    {
        var watches = Watches().ConvertAll(static w => new WatchHealth(w.Plural, w.Synced.IsCompletedSuccessfully, w.Lists, w.Failures));
        var rejected = Volatile.Read(ref _rejectedRoutes);
        List<string> details = rejected > 0 ? [$"objects rejected by validation: {rejected}"] : [];
        return new RouteSourceHealth("kubernetes", watches.TrueForAll(w => w.Synced), details, watches);
    }

    /// <summary>
    /// Every <c>KEDA_HTTP_ROUTING_TABLE_REFRESH_INTERVAL</c>, restarts each watch the server has shown nothing on for that
    /// long: a healthy one is confirmed again at once (or re-lists), a dead connection is replaced, and while the server
    /// cannot be reached the confirmations stop, which <c>/readyz</c> reports after the staleness limit.
    /// </summary>
    private async Task RefreshAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_refreshInterval, _time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var watch in Watches())
            {
                if (_time.GetElapsedTime(watch.ConfirmedAt) >= _refreshInterval)
                {
                    watch.Refresh();
                }
            }
        }
    }

    private IReadOnlyList<FreshnessConfirmation> Confirmations()
    {
        var watches = Watches();
        var confirmations = new FreshnessConfirmation[watches.Count];
        for (var i = 0; i < watches.Count; i++)
        {
            confirmations[i] = new FreshnessConfirmation(watches[i].Name + " watch", watches[i].ConfirmedAt, watches[i].LastProblem);
        }

        return confirmations;
    }

    /// <summary>Every watch the table and its targets are built from (the EndpointSlice one once its version is known).</summary>
    private List<IWatchHealth> Watches()
    {
        var watches = new List<IWatchHealth>(5) { _routes.InterceptorRoutes, _routes.HttpScaledObjects, _services, _configMaps };
        if (_endpoints.Watch is { } slices)
        {
            watches.Add(slices);
        }

        return watches;
    }

    public override void Dispose()
    {
        _client.Dispose();
        base.Dispose();
    }
}
