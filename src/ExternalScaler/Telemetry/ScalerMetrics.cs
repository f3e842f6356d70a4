using Grpc.Core;
using Prometheus;

namespace Updraft.ExternalScaler.Telemetry;

/// <summary>The scaler's Prometheus metrics, in a registry of its own.</summary>
internal sealed class ScalerMetrics
{
    private readonly Histogram _rpcDuration;
    private readonly Counter _rpcFailures;
    private readonly Gauge _openStreams;
    private readonly Counter _refusedStreams;
    private readonly Counter _routeRejections;
    private readonly Gauge _rejectedRoutes;

    public ScalerMetrics()
    {
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
    }

    public CollectorRegistry Registry { get; }

    public Prometheus.ITimer Time(string method) => _rpcDuration.WithLabels(method).NewTimer();

    public void Failed(string method, StatusCode code) => _rpcFailures.WithLabels(method, code.ToString()).Inc();

    /// <param name="limit"><c>connection</c> or <c>scaler</c>.</param>
    public void StreamRefused(string limit) => _refusedStreams.WithLabels(limit).Inc();

    public void RouteRejected(string kind) => _routeRejections.WithLabels(kind).Inc();

    public void SetRejectedRoutes(int count) => _rejectedRoutes.Set(count);

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
