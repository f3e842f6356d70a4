using Grpc.Core;
using Prometheus;
using Updraft.Shared.Hosting;

namespace Updraft.ExternalScaler.Telemetry;

/// <summary>
/// The scaler's Prometheus metrics, in a registry of its own: Updraft's <c>updraft_scaler_*</c>, and the add-on's
/// <c>scaler_pinger_*</c> and <c>target_info</c> with its names, buckets and labels, so its dashboards and alerts work.
/// With OTLP metrics on, the pinger metrics are also recorded on <see cref="Instruments"/>.
/// </summary>
internal sealed class ScalerMetrics : IDisposable
{
    /// <summary>The add-on's OTel <c>service.name</c>, kept so dashboards that select on it find this scaler.</summary>
    public const string ServiceName = "keda-http-external-scaler";

    private static readonly double[] FetchBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5];

    private readonly Histogram _rpcDuration;
    private readonly Counter _rpcFailures;
    private readonly Gauge _openStreams;
    private readonly Counter _refusedStreams;
    private readonly Counter _routeRejections;
    private readonly Gauge _rejectedRoutes;
    private readonly Histogram _fetchDuration;
    private readonly Counter _fetchErrors;
    private readonly Gauge _endpoints;
    private readonly Gauge _unreachable;
    private readonly Gauge _routesBuilt;

    /// <param name="otlp">OTLP metrics on: also record the pinger metrics on instruments the OpenTelemetry SDK exports.</param>
    public ScalerMetrics(bool otlp = false)
    {
        Instruments = otlp ? new ScalerInstruments(FetchBuckets) : null;
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _rpcDuration = factory.CreateHistogram("updraft_scaler_rpc_duration_seconds", "Time to answer a unary KEDA RPC.", new HistogramConfiguration
        {
            LabelNames = ["method"],
            Buckets = Histogram.ExponentialBuckets(0.00001, 4, 10),
        });
        _rpcFailures = factory.CreateCounter("updraft_scaler_rpc_errors_total", "KEDA RPCs answered with a gRPC error.", "method", "code");
        _openStreams = factory.CreateGauge("updraft_scaler_open_streams", "Open StreamIsActive / StreamMetricSpec streams.", "method");
        _refusedStreams = factory.CreateCounter("updraft_scaler_streams_refused_total", "Server streams refused with ResourceExhausted: limit=\"connection\" (UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION) or \"scaler\" (UPDRAFT_SCALER_MAX_STREAMS).", "limit");
        _routeRejections = factory.CreateCounter("updraft_scaler_route_rejections_total", "Kubernetes mode: InterceptorRoute / HTTPScaledObject versions skipped as invalid.", "kind");
        _rejectedRoutes = factory.CreateGauge("updraft_scaler_routes_rejected", "Kubernetes mode: route objects in the cluster skipped now because Updraft's rules reject them (each is logged).");
        _fetchDuration = factory.CreateHistogram("scaler_pinger_fetch_duration_seconds", "Time to fetch one interceptor replica's counts: a /queue poll, or a count stream's first snapshot (connecting included); later pushed snapshots count the time to apply them.",
            new HistogramConfiguration { Buckets = FetchBuckets });
        _fetchErrors = factory.CreateCounter("scaler_pinger_fetch_errors_total", "Failed fetches of an interceptor replica's counts: a failed /queue poll, a refused or failed count stream.");
        _endpoints = factory.CreateGauge("scaler_pinger_endpoints", "Interceptor replicas the scaler follows (by count stream or /queue polls).");
        _unreachable = factory.CreateGauge("scaler_pinger_unreachable_pods", "Interceptor replicas whose last fetch failed.");
        _routesBuilt = factory.CreateGauge("scaler_routing_table_last_rebuild_timestamp_seconds", "When the scaler last rebuilt its route table (Unix time), from a change, a resync or the routes file; 0 before the first.");
        factory.CreateGauge("target_info", "Target metadata", "service_name", "service_version").WithLabels(ServiceName, Version).Set(1);
    }

    /// <summary>This build's version, as <c>target_info</c> reports it.</summary>
    public static string Version { get; } = BuildVersion.Of(typeof(ScalerMetrics).Assembly);

    public CollectorRegistry Registry { get; }

    /// <summary>The OTLP instruments, or null when OTLP metrics are off.</summary>
    public ScalerInstruments? Instruments { get; }

    public Prometheus.ITimer Time(string method) => _rpcDuration.WithLabels(method).NewTimer();

    public void Failed(string method, StatusCode code) => _rpcFailures.WithLabels(method, code.ToString()).Inc();

    /// <param name="limit"><c>connection</c> or <c>scaler</c>.</param>
    public void StreamRefused(string limit) => _refusedStreams.WithLabels(limit).Inc();

    public void RouteRejected(string kind) => _routeRejections.WithLabels(kind).Inc();

    public void SetRejectedRoutes(int count) => _rejectedRoutes.Set(count);

    /// <summary>One replica's counts arrived after <paramref name="duration"/>.</summary>
    public void FetchSucceeded(TimeSpan duration)
    {
        _fetchDuration.Observe(duration.TotalSeconds);
        Instruments?.FetchDuration(duration.TotalSeconds);
    }

    /// <summary>A fetch failed; <paramref name="duration"/> is how long it took, when it was one attempt (not a stream that broke).</summary>
    public void FetchFailed(TimeSpan? duration)
    {
        _fetchErrors.Inc();
        Instruments?.FetchFailed();
        if (duration is { } value)
        {
            _fetchDuration.Observe(value.TotalSeconds);
            Instruments?.FetchDuration(value.TotalSeconds);
        }
    }

    /// <summary>
    /// Reads the replica gauges and the route table's rebuild time at every scrape, so they are never stale.
    /// </summary>
    /// <param name="replicas">The replicas followed now, and how many of them failed their last fetch.</param>
    /// <param name="routesBuiltAt">When the route table was last rebuilt, or null before the first.</param>
    public void Observe(Func<(int Followed, int Unreachable)> replicas, Func<DateTimeOffset?> routesBuiltAt)
    {
        Instruments?.Observe(replicas);
        Registry.AddBeforeCollectCallback(() =>
        {
            var (followed, unreachable) = replicas();
            _endpoints.Set(followed);
            _unreachable.Set(unreachable);
            _routesBuilt.Set(routesBuiltAt() is { } at ? at.ToUnixTimeMilliseconds() / 1000.0 : 0);
        });
    }

    public void Dispose() => Instruments?.Dispose();

    public IDisposable OpenStream(string method)
    {
        var gauge = _openStreams.WithLabels(method);
        gauge.Inc();
        return new Closing(gauge);
    }

    private sealed class Closing(Gauge.Child gauge) : IDisposable
    {
        private int _closed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                gauge.Dec();
            }
        }
    }
}
