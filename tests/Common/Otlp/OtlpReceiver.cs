using System.Collections.Concurrent;
using System.Net;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Updraft.Tests.Common.Otlp.Common;
using Updraft.Tests.Common.Otlp.Metrics;

namespace Updraft.Tests.Common.Otlp;

/// <summary>A span as the receiver decoded it: ids in lowercase hex, attributes as .NET values.</summary>
internal sealed record ReceivedSpan(
    string TraceId,
    string SpanId,
    string ParentSpanId,
    string Name,
    Span.Types.SpanKind Kind,
    IReadOnlyDictionary<string, object?> Attributes,
    Status.Types.StatusCode Status,
    string ServiceName);

/// <summary>
/// One data point of one metric as the receiver decoded it. <see cref="Value"/> is a sum's or gauge's value (as a double),
/// <see cref="Count"/> and <see cref="Sum"/> a histogram's; <see cref="Kind"/> is <c>sum</c>, <c>gauge</c> or <c>histogram</c>.
/// </summary>
internal sealed record ReceivedMetricPoint(
    string ServiceName,
    string Scope,
    string Name,
    string Unit,
    string Kind,
    bool IsMonotonic,
    AggregationTemporality Temporality,
    IReadOnlyDictionary<string, object?> Attributes,
    double Value,
    bool IsInteger,
    ulong Count,
    double Sum,
    IReadOnlyList<double> Bounds);

/// <summary>
/// An OTLP receiver in this process, on loopback: OTLP/gRPC (h2c) on <see cref="GrpcPort"/> and OTLP/HTTP
/// (<c>POST /v1/traces</c> and <c>POST /v1/metrics</c>, protobuf) on <see cref="HttpPort"/>. It keeps every span and
/// every metric data point the real exporter sends, in arrival order.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private readonly ConcurrentQueue<ReceivedMetricPoint> _points = new();
    private int _metricExports;
    private IReadOnlyDictionary<string, string> _metricExportHeaders = new Dictionary<string, string>();
    private WebApplication? _grpc;
    private WebApplication? _http;

    public int GrpcPort { get; private set; }

    public int HttpPort { get; private set; }

    /// <summary>The <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> for gRPC export.</summary>
    public string GrpcEndpoint => $"http://127.0.0.1:{GrpcPort}";

    /// <summary>The <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> for HTTP export (the exporter appends <c>/v1/traces</c>).</summary>
    public string HttpBaseEndpoint => $"http://127.0.0.1:{HttpPort}";

    public IReadOnlyCollection<ReceivedSpan> Spans => [.. _spans];

    /// <summary>Every metric data point received, oldest first.</summary>
    public IReadOnlyList<ReceivedMetricPoint> MetricPoints => [.. _points];

    /// <summary>Metric export requests received (over either protocol).</summary>
    public int MetricExports => Volatile.Read(ref _metricExports);

    /// <summary>The request headers (HTTP) or metadata (gRPC) of the last metrics export, by lower-case name.</summary>
    public IReadOnlyDictionary<string, string> MetricExportHeaders => Volatile.Read(ref _metricExportHeaders);

    public static async Task<OtlpReceiver> StartAsync()
    {
        var receiver = new OtlpReceiver();
        receiver._grpc = await StartAppAsync(HttpProtocols.Http2, services => services.AddGrpc().Services.AddSingleton(new TraceReceiverService(receiver)).AddSingleton(new MetricsReceiverService(receiver)), app =>
        {
            app.MapGrpcService<TraceReceiverService>();
            app.MapGrpcService<MetricsReceiverService>();
        });
        receiver._http = await StartAppAsync(HttpProtocols.Http1, _ => { }, app => app.Run(receiver.HandleHttpAsync));
        receiver.GrpcPort = new Uri(receiver._grpc.Urls.First()).Port;
        receiver.HttpPort = new Uri(receiver._http.Urls.First()).Port;
        return receiver;
    }

    /// <summary>Waits until a span matching <paramref name="match"/> arrived (the exporter batches: allow time).</summary>
    public async Task<ReceivedSpan> WaitForSpanAsync(Func<ReceivedSpan, bool> match, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            foreach (var span in _spans)
            {
                if (match(span))
                {
                    return span;
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no span {what} arrived; received: {string.Join("; ", _spans.Select(s => $"{s.Name} {s.TraceId}/{s.SpanId}<-{s.ParentSpanId}"))}");
            }

            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Waits until the latest data point of metric <paramref name="name"/> that <paramref name="match"/> selects also
    /// satisfies <paramref name="done"/> (cumulative points grow from export to export: allow time), and returns it.
    /// </summary>
    public async Task<ReceivedMetricPoint> WaitForMetricAsync(string name, Func<ReceivedMetricPoint, bool> match, Func<ReceivedMetricPoint, bool> done, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            var latest = MetricPoints.LastOrDefault(point => point.Name == name && match(point));
            if (latest is not null && done(latest))
            {
                return latest;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no {name} point {what} arrived; latest: {latest?.ToString() ?? "none"}; metrics received: {string.Join(", ", MetricPoints.Select(p => p.Name).Distinct())}");
            }

            await Task.Delay(50);
        }
    }

    internal void Add(ExportMetricsServiceRequest request)
    {
        foreach (var resource in request.ResourceMetrics)
        {
            var serviceName = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
            foreach (var scope in resource.ScopeMetrics)
            {
                var scopeName = scope.Scope?.Name ?? "";
                foreach (var metric in scope.Metrics)
                {
                    switch (metric.DataCase)
                    {
                        case Metric.DataOneofCase.Sum:
                            foreach (var point in metric.Sum.DataPoints)
                            {
                                _points.Enqueue(Number(serviceName, scopeName, metric, "sum", metric.Sum.IsMonotonic, metric.Sum.AggregationTemporality, point));
                            }

                            break;
                        case Metric.DataOneofCase.Gauge:
                            foreach (var point in metric.Gauge.DataPoints)
                            {
                                _points.Enqueue(Number(serviceName, scopeName, metric, "gauge", false, AggregationTemporality.Unspecified, point));
                            }

                            break;
                        case Metric.DataOneofCase.Histogram:
                            foreach (var point in metric.Histogram.DataPoints)
                            {
                                _points.Enqueue(new ReceivedMetricPoint(serviceName, scopeName, metric.Name, metric.Unit, "histogram", false, metric.Histogram.AggregationTemporality,
                                    point.Attributes.ToDictionary(a => a.Key, a => Value(a.Value)), 0, false, point.Count, point.Sum, [.. point.ExplicitBounds]));
                            }

                            break;
                    }
                }
            }
        }

        Interlocked.Increment(ref _metricExports);
    }

    private void KeepMetricExportHeaders(IEnumerable<(string Name, string Value)> headers) =>
        Volatile.Write(ref _metricExportHeaders, headers.GroupBy(h => h.Name.ToLowerInvariant()).ToDictionary(g => g.Key, g => string.Join(',', g.Select(h => h.Value))));

    private static ReceivedMetricPoint Number(string serviceName, string scope, Metric metric, string kind, bool monotonic, AggregationTemporality temporality, NumberDataPoint point) =>
        new(serviceName, scope, metric.Name, metric.Unit, kind, monotonic, temporality,
            point.Attributes.ToDictionary(a => a.Key, a => Value(a.Value)),
            point.ValueCase == NumberDataPoint.ValueOneofCase.AsInt ? point.AsInt : point.AsDouble,
            point.ValueCase == NumberDataPoint.ValueOneofCase.AsInt, 0, 0, []);

    internal void Add(ExportTraceServiceRequest request)
    {
        foreach (var resource in request.ResourceSpans)
        {
            var serviceName = resource.Resource?.Attributes.FirstOrDefault(a => a.Key == "service.name")?.Value?.StringValue ?? "";
            foreach (var scope in resource.ScopeSpans)
            {
                foreach (var span in scope.Spans)
                {
                    _spans.Enqueue(new ReceivedSpan(
                        Convert.ToHexStringLower(span.TraceId.Span),
                        Convert.ToHexStringLower(span.SpanId.Span),
                        Convert.ToHexStringLower(span.ParentSpanId.Span),
                        span.Name,
                        span.Kind,
                        span.Attributes.ToDictionary(a => a.Key, a => Value(a.Value)),
                        span.Status?.Code ?? Status.Types.StatusCode.Unset,
                        serviceName));
                }
            }
        }
    }

    private static object? Value(AnyValue? value) => value?.ValueCase switch
    {
        AnyValue.ValueOneofCase.StringValue => value.StringValue,
        AnyValue.ValueOneofCase.BoolValue => value.BoolValue,
        AnyValue.ValueOneofCase.IntValue => value.IntValue,
        AnyValue.ValueOneofCase.DoubleValue => value.DoubleValue,
        _ => null,
    };

    private async Task HandleHttpAsync(HttpContext context)
    {
        var traces = context.Request.Path == "/v1/traces";
        if (context.Request.Method != HttpMethods.Post || !(traces || context.Request.Path == "/v1/metrics"))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        context.Response.ContentType = "application/x-protobuf";
        if (traces)
        {
            Add(ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray()));
            await context.Response.Body.WriteAsync(new ExportTraceServiceResponse().ToByteArray());
        }
        else
        {
            KeepMetricExportHeaders(context.Request.Headers.Select(h => (h.Key, h.Value.ToString())));
            Add(ExportMetricsServiceRequest.Parser.ParseFrom(body.ToArray()));
            await context.Response.Body.WriteAsync(new ExportMetricsServiceResponse().ToByteArray());
        }
    }

    private static async Task<WebApplication> StartAppAsync(HttpProtocols protocols, Action<IServiceCollection> services, Action<WebApplication> configure)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        services(builder.Services);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = protocols));
        var app = builder.Build();
        configure(app);
        await app.StartAsync();
        return app;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in new[] { _grpc, _http })
        {
            if (app is not null)
            {
                await app.StopAsync();
                await app.DisposeAsync();
            }
        }
    }

    private sealed class TraceReceiverService(OtlpReceiver receiver) : TraceService.TraceServiceBase
    {
        public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
        {
            receiver.Add(request);
            return Task.FromResult(new ExportTraceServiceResponse());
        }
    }

    private sealed class MetricsReceiverService(OtlpReceiver receiver) : MetricsService.MetricsServiceBase
    {
        public override Task<ExportMetricsServiceResponse> Export(ExportMetricsServiceRequest request, ServerCallContext context)
        {
            receiver.KeepMetricExportHeaders(context.RequestHeaders.Where(h => !h.IsBinary).Select(h => (h.Key, h.Value)));
            receiver.Add(request);
            return Task.FromResult(new ExportMetricsServiceResponse());
        }
    }
}
