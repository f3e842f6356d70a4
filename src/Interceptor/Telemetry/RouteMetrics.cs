using System.Collections.Concurrent;
using System.Globalization;
using Prometheus;

namespace Updraft.Interceptor.Telemetry;

/// <summary>
/// The metric series of one route. Labelled children are created once per (method, status) and cached, so recording
/// a request is a dictionary hit and two lock-free updates, with no allocation. With OTLP metrics on, each series also
/// keeps its OTLP attributes, built once, so the OTLP instruments get the same series without allocating per request.
/// </summary>
internal sealed class RouteMetrics
{
    private static readonly string[] MethodLabels = ["GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "_OTHER"];

    private readonly InterceptorMetrics _owner;
    private readonly string _name;
    private readonly string _namespace;
    private readonly ConcurrentDictionary<int, Series> _series = new();
    private readonly Gauge.Child? _concurrency;
    private long _coldStartRejections;

    /// <param name="owner">The instruments.</param>
    /// <param name="name">route_name (empty for unrouted requests).</param>
    /// <param name="namespace">route_namespace (empty for unrouted requests).</param>
    /// <param name="tracksConcurrency">False for unrouted requests: the concurrency gauge has one series per route only.</param>
    public RouteMetrics(InterceptorMetrics owner, string name, string @namespace, bool tracksConcurrency = true)
    {
        _owner = owner;
        _name = name;
        _namespace = @namespace;
        _concurrency = tracksConcurrency ? owner.Concurrency.WithLabels(name, @namespace) : null;
        ConcurrencyTags = owner.Instruments is null ? [] : InterceptorInstruments.RouteTags(name, @namespace);
    }

    /// <summary>The OTLP concurrency series' attributes (empty when OTLP metrics are off).</summary>
    public KeyValuePair<string, object?>[] ConcurrencyTags { get; }

    public void Record(string method, int statusCode, double seconds)
    {
        var key = (MethodIndex(method) * 1000) + statusCode;
        if (!_series.TryGetValue(key, out var series))
        {
            series = _series.GetOrAdd(key, CreateSeries, this);
        }

        series.Count.Inc();
        series.Duration.Observe(seconds);
        if (series.OtlpTags is { } tags)
        {
            _owner.Instruments!.Record(tags, seconds);
        }
    }

    public void SetConcurrency(int value) => _concurrency?.Set(value);

    /// <summary>A request turned away by a full hold queue. The series appears with the first rejection.</summary>
    public void RecordColdStartRejection()
    {
        Interlocked.Increment(ref _coldStartRejections);
        _owner.ColdStartRejections.WithLabels(_name, _namespace).Inc();
    }

    /// <summary>Requests turned away by a full hold queue since the route appeared (for the status page).</summary>
    public long ColdStartRejections => Interlocked.Read(ref _coldStartRejections);

    public void Remove()
    {
        _concurrency?.Remove();
        _owner.ColdStartRejections.WithLabels(_name, _namespace).Remove();
        foreach (var (_, series) in _series)
        {
            series.Count.Remove();
            series.Duration.Remove();
        }

        _series.Clear();
    }

    private static Series CreateSeries(int key, RouteMetrics self)
    {
        var statusCode = key % 1000;
        var code = statusCode.ToString(CultureInfo.InvariantCulture);
        var method = MethodLabels[key / 1000];
        return new Series(
            self._owner.RequestCount.WithLabels(code, method, self._name, self._namespace),
            self._owner.RequestDuration.WithLabels(code, method, self._name, self._namespace),
            self._owner.Instruments is null ? null : InterceptorInstruments.RequestTags(statusCode, method, self._name, self._namespace));
    }

    private readonly record struct Series(Counter.Child Count, Histogram.Child Duration, KeyValuePair<string, object?>[]? OtlpTags);

    private static int MethodIndex(string method) => method switch
    {
        _ when HttpMethods.IsGet(method) => 0,
        _ when HttpMethods.IsHead(method) => 1,
        _ when HttpMethods.IsPost(method) => 2,
        _ when HttpMethods.IsPut(method) => 3,
        _ when HttpMethods.IsDelete(method) => 4,
        _ when HttpMethods.IsConnect(method) => 5,
        _ when HttpMethods.IsOptions(method) => 6,
        _ when HttpMethods.IsTrace(method) => 7,
        _ when HttpMethods.IsPatch(method) => 8,
        _ => 9,
    };
}
