using System.Diagnostics.Metrics;

namespace Updraft.ExternalScaler.Telemetry;

/// <summary>
/// The scaler's pinger metrics as <see cref="System.Diagnostics.Metrics"/> instruments, pushed over OTLP when
/// <c>OTEL_EXPORTER_OTLP_METRICS_ENABLED</c> is on: the add-on's meter, instrument names, units and buckets. Created only
/// then. The replica gauges are observed at each export from what the fleet knows, like the Prometheus ones at a scrape.
/// </summary>
internal sealed class ScalerInstruments : IDisposable
{
    /// <summary>The add-on's meter (instrumentation scope) for its scaler.</summary>
    public const string MeterName = "keda-external-scaler";

    private readonly Meter _meter;
    private readonly Histogram<double> _fetchDuration;
    private readonly Counter<long> _fetchErrors;
    private Func<(int Followed, int Unreachable)>? _replicas;

    public ScalerInstruments(IReadOnlyList<double> fetchBuckets)
    {
        _meter = new Meter(MeterName, ScalerMetrics.Version);
        _fetchDuration = _meter.CreateHistogram("scaler.pinger.fetch.duration", "s", "Time to fetch one interceptor replica's counts.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = fetchBuckets });
        _fetchErrors = _meter.CreateCounter<long>("scaler.pinger.fetch.errors", unit: null, "Failed fetches of an interceptor replica's counts.");
        _meter.CreateObservableGauge("scaler.pinger.endpoints", () => ObserveReplicas(unreachable: false), unit: null,
            "Interceptor replicas the scaler follows.");
        _meter.CreateObservableGauge("scaler.pinger.unreachable_pods", () => ObserveReplicas(unreachable: true), unit: null,
            "Interceptor replicas whose last fetch failed.");
    }

    /// <summary>Where the replica gauges read their values (nothing is reported before this is set).</summary>
    public void Observe(Func<(int Followed, int Unreachable)> replicas) => Volatile.Write(ref _replicas, replicas);

    public void FetchDuration(double seconds) => _fetchDuration.Record(seconds);

    public void FetchFailed() => _fetchErrors.Add(1);

    public void Dispose() => _meter.Dispose();

    private Measurement<long>[] ObserveReplicas(bool unreachable)
    {
        if (Volatile.Read(ref _replicas) is not { } replicas)
        {
            return [];
        }

        var (followed, failed) = replicas();
        return [new Measurement<long>(unreachable ? failed : followed)];
    }
}
