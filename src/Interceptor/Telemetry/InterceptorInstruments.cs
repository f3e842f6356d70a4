using System.Diagnostics.Metrics;
using Updraft.Interceptor.Routing;

namespace Updraft.Interceptor.Telemetry;

/// <summary>
/// The interceptor's request metrics as <see cref="System.Diagnostics.Metrics"/> instruments, pushed over OTLP when
/// <c>OTEL_EXPORTER_OTLP_METRICS_ENABLED</c> is on: the add-on's meter, instrument names, units, buckets and attributes,
/// so an OTLP backend shows the same series. Created only then: with OTLP metrics off nothing here exists. The concurrency
/// instrument is observed from the route counters at each export, so it adds nothing to the request path.
/// </summary>
internal sealed class InterceptorInstruments : IDisposable
{
    /// <summary>The add-on's meter (instrumentation scope) for its interceptor.</summary>
    public const string MeterName = "keda-interceptor-proxy";

    private readonly Meter _meter;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;

    /// <param name="routes">Where the concurrency instrument reads the current routes and their in-flight counts.</param>
    public InterceptorInstruments(Func<IReadOnlyList<Route>> routes)
    {
        _meter = new Meter(MeterName, InterceptorMetrics.Version);
        _requests = _meter.CreateCounter<long>("interceptor.request.count", unit: null, "Requests handled by the interceptor.");
        _duration = _meter.CreateHistogram("interceptor.request.duration", "s", "Time from request received to response completed.",
            tags: null, new InstrumentAdvice<double> { HistogramBucketBoundaries = InterceptorMetrics.DurationBuckets });
        _meter.CreateObservableUpDownCounter("interceptor.request.concurrency", () => ObserveConcurrency(routes()), unit: null,
            "Requests in flight per route, held ones included.");
    }

    /// <summary>The attributes of one (status, method, route) series, built once per series and reused for every request.</summary>
    public static KeyValuePair<string, object?>[] RequestTags(int statusCode, string method, string routeName, string routeNamespace) =>
    [
        new("code", statusCode),
        new("method", method),
        new("route_name", routeName),
        new("route_namespace", routeNamespace),
    ];

    public static KeyValuePair<string, object?>[] RouteTags(string routeName, string routeNamespace) =>
    [
        new("route_name", routeName),
        new("route_namespace", routeNamespace),
    ];

    public void Record(KeyValuePair<string, object?>[] tags, double seconds)
    {
        ReadOnlySpan<KeyValuePair<string, object?>> span = tags;
        _requests.Add(1, span);
        _duration.Record(seconds, span);
    }

    public void Dispose() => _meter.Dispose();

    private static List<Measurement<long>> ObserveConcurrency(IReadOnlyList<Route> routes)
    {
        var measurements = new List<Measurement<long>>(routes.Count);
        foreach (var route in routes)
        {
            measurements.Add(new Measurement<long>(route.Counter.Concurrency, route.Metrics.ConcurrencyTags));
        }

        return measurements;
    }
}
