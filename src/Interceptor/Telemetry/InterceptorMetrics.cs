using Prometheus;

namespace Updraft.Interceptor.Telemetry;

/// <summary>
/// The interceptor's Prometheus instruments, with the add-on's names and labels. Label sets are bounded: route labels
/// come from route objects (an unrouted request gets empty labels, never the raw host) and methods outside the
/// standard set are reported as <c>_OTHER</c>. Each interceptor owns its registry, so several can share a process.
/// With OTLP metrics on, the request metrics are also recorded on <see cref="Instruments"/>.
/// </summary>
internal sealed class InterceptorMetrics : IDisposable
{
    /// <summary>The add-on's request duration buckets, seconds (the OTLP histogram uses them too).</summary>
    public static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    private readonly Gauge _routes;
    private readonly Gauge _rejectedRoutes;
    private readonly Counter _routeReloads;
    private readonly Gauge _watchLists;
    private readonly Gauge _watchFailures;
    private readonly Gauge _localReplicas;

    /// <param name="otlpRoutes">Given when OTLP metrics are on: the current routes, read by the OTLP concurrency instrument.</param>
    public InterceptorMetrics(Func<IReadOnlyList<Routing.Route>>? otlpRoutes = null)
    {
        Instruments = otlpRoutes is null ? null : new InterceptorInstruments(otlpRoutes);
        Registry = Metrics.NewCustomRegistry();
        DotNetStats.Register(Registry);
        var factory = Metrics.WithCustomRegistry(Registry);
        // DotNetStats has the heap's size but not what the GC holds committed, which is most of the process's
        // anonymous memory: with both, an RSS that grows can be told apart from a managed leak.
        var gcCommitted = factory.CreateGauge("dotnet_gc_last_collection_memory_committed_size_bytes",
            "Memory the GC held committed for the managed heap at its last collection (GCMemoryInfo.TotalCommittedBytes).");
        Registry.AddBeforeCollectCallback(() => gcCommitted.Set(GC.GetGCMemoryInfo().TotalCommittedBytes));
        RequestCount = factory.CreateCounter("interceptor_request_count_total", "Requests handled by the interceptor.",
            new CounterConfiguration { LabelNames = ["code", "method", "route_name", "route_namespace"] });
        RequestDuration = factory.CreateHistogram("interceptor_request_duration_seconds", "Time from request received to response completed.",
            new HistogramConfiguration { LabelNames = ["code", "method", "route_name", "route_namespace"], Buckets = DurationBuckets });
        Concurrency = factory.CreateGauge("interceptor_request_concurrency", "Requests in flight per route, held ones included.",
            new GaugeConfiguration { LabelNames = ["route_name", "route_namespace"] });
        ColdStartRejections = factory.CreateCounter("interceptor_cold_start_rejections_total", "Requests turned away because the route's cold-start hold queue was full.",
            new CounterConfiguration { LabelNames = ["route_name", "route_namespace"] });
        AccessLogDropped = factory.CreateCounter("interceptor_access_log_dropped_total", "KEDA_HTTP_LOG_REQUESTS: access-log lines dropped because stdout could not keep up (the queue was full).");
        _routes = factory.CreateGauge("interceptor_routes", "Routes in the current routing table.");
        _rejectedRoutes = factory.CreateGauge("interceptor_routes_rejected", "Route objects in the cluster that are skipped because Updraft's rules reject them (each is logged with its namespace/name).");
        _routeReloads = factory.CreateCounter("interceptor_route_reloads_total", "Route set reloads, by result (success or error).",
            new CounterConfiguration { LabelNames = ["result"] });
        _watchLists = factory.CreateGauge("interceptor_kube_watch_lists_total", "Kubernetes mode: full lists per watched resource (1 after the first sync; more after 410 Gone, errors, or a refresh of a quiet watch, KEDA_HTTP_ROUTING_TABLE_REFRESH_INTERVAL).",
            new GaugeConfiguration { LabelNames = ["resource"] });
        _watchFailures = factory.CreateGauge("interceptor_kube_watch_failures_total", "Kubernetes mode: failed list or watch requests per watched resource.",
            new GaugeConfiguration { LabelNames = ["resource"] });
        _localReplicas = factory.CreateGauge("interceptor_local_replicas", "Standalone mode with UPDRAFT_LOCAL_REPLICAS: ready replicas per local workload (namespace/name), as the local autoscaler's feed last reported them.",
            new GaugeConfiguration { LabelNames = ["workload"] });
        Unrouted = new RouteMetrics(this, "", "", tracksConcurrency: false);
        // The add-on's OpenTelemetry exporter writes its resource as this info metric; its service name is kept so
        // dashboards that select on it find Updraft's interceptor.
        factory.CreateGauge("target_info", "Target metadata", "service_name", "service_version").WithLabels(ServiceName, Version).Set(1);
    }

    /// <summary>The add-on's OTel <c>service.name</c> for its interceptor.</summary>
    public const string ServiceName = "keda-http-interceptor";

    /// <summary>This build's version, as <c>target_info</c> reports it.</summary>
    public static string Version { get; } = Updraft.Shared.Hosting.BuildVersion.Of(typeof(InterceptorMetrics).Assembly);

    public CollectorRegistry Registry { get; }

    /// <summary>The OTLP instruments, or null when OTLP metrics are off.</summary>
    public InterceptorInstruments? Instruments { get; }

    public Counter RequestCount { get; }

    public Histogram RequestDuration { get; }

    public Gauge Concurrency { get; }

    public Counter ColdStartRejections { get; }

    public Counter AccessLogDropped { get; }

    /// <summary>Series for requests that matched no route.</summary>
    public RouteMetrics Unrouted { get; }

    public RouteMetrics ForRoute(string @namespace, string name) => new(this, name, @namespace);

    public void SetRouteCount(int count) => _routes.Set(count);

    public void SetRejectedRoutes(int count) => _rejectedRoutes.Set(count);

    public double RejectedRoutes => _rejectedRoutes.Value;

    /// <summary>Publishes a watch's counters (read at every scrape; the watch owns the counts).</summary>
    public void SetWatchCounts(string resource, long lists, long failures)
    {
        _watchLists.WithLabels(resource).Set(lists);
        _watchFailures.WithLabels(resource).Set(failures);
    }

    public void SetLocalReplicas(string workload, int count) => _localReplicas.WithLabels(workload).Set(count);

    /// <summary>The workload left the feed's snapshots: its series goes (the label set stays bounded by one snapshot).</summary>
    public void RemoveLocalReplicas(string workload) => _localReplicas.RemoveLabelled(workload);

    public void RouteReloadSucceeded() => _routeReloads.WithLabels("success").Inc();

    public void RouteReloadFailed() => _routeReloads.WithLabels("error").Inc();

    public double RouteReloadFailures => _routeReloads.WithLabels("error").Value;

    public void Dispose() => Instruments?.Dispose();
}
