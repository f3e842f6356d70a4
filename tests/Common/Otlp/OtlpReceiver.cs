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
/// An OTLP trace receiver in this process, on loopback: OTLP/gRPC (h2c) on <see cref="GrpcPort"/> and OTLP/HTTP
/// (<c>POST /v1/traces</c>, protobuf) on <see cref="HttpPort"/>. It keeps every span the real exporter sends.
/// </summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly ConcurrentQueue<ReceivedSpan> _spans = new();
    private WebApplication? _grpc;
    private WebApplication? _http;

    public int GrpcPort { get; private set; }

    public int HttpPort { get; private set; }

    /// <summary>The <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c> for gRPC export.</summary>
    public string GrpcEndpoint => $"http://127.0.0.1:{GrpcPort}";

    /// <summary>The <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> for HTTP export (the exporter appends <c>/v1/traces</c>).</summary>
    public string HttpBaseEndpoint => $"http://127.0.0.1:{HttpPort}";

    public IReadOnlyCollection<ReceivedSpan> Spans => [.. _spans];

    public static async Task<OtlpReceiver> StartAsync()
    {
        var receiver = new OtlpReceiver();
        receiver._grpc = await StartAppAsync(HttpProtocols.Http2, services => services.AddGrpc().Services.AddSingleton(new TraceReceiverService(receiver)), app => app.MapGrpcService<TraceReceiverService>());
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
        if (context.Request.Method != HttpMethods.Post || context.Request.Path != "/v1/traces")
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return;
        }

        using var body = new MemoryStream();
        await context.Request.Body.CopyToAsync(body);
        Add(ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray()));
        context.Response.ContentType = "application/x-protobuf";
        await context.Response.Body.WriteAsync(new ExportTraceServiceResponse().ToByteArray());
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
}
