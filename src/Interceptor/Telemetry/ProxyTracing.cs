using System.Diagnostics;
using System.Net.Http.Headers;
using Updraft.Shared.Telemetry;

namespace Updraft.Interceptor.Telemetry;

/// <summary>
/// The interceptor's spans: one server span per proxied request (the proxy span), continuing the client's W3C trace
/// context, and a child span for a cold-start hold. The upstream receives the proxy span's <c>traceparent</c> (and
/// the client's <c>tracestate</c>) in place of the client's, on both forwarding paths.
/// </summary>
/// <remarks>
/// With <c>OTEL_EXPORTER_OTLP_TRACES_ENABLED</c> off, <see cref="Enabled"/> is false and nothing here is reached on
/// the request path: no span, no header read, no allocation; the client's trace headers pass through untouched. The
/// flag is per interceptor, so an interceptor without tracing is unaffected by another one in the same process that
/// registered a listener for the same source name.
/// </remarks>
internal sealed class ProxyTracing(bool enabled)
{
    public const string SourceName = "Updraft.Interceptor";
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";
    public const string HoldSpanName = "cold start hold";

    private static readonly ActivitySource Source = new(SourceName);

    public ProxyTracing(OpenTelemetrySettings settings)
        : this(settings.TracesEnabled)
    {
    }

    public bool Enabled { get; } = enabled;

    /// <summary>The proxy span of the request being handled on this execution context, or null.</summary>
    public Activity? CurrentProxySpan => Enabled && Activity.Current is { Kind: ActivityKind.Server } current && ReferenceEquals(current.Source, Source) ? current : null;

    /// <summary>Starts the request's proxy span, a child of the client's <c>traceparent</c> when it sent a valid one.</summary>
    public static Activity? StartProxySpan(HttpContext context)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var request = context.Request;
        var headers = request.Headers;
        ActivityContext.TryParse(headers[TraceParent].ToString(), headers[TraceState].ToString(), isRemote: true, out var parent);
        var span = Source.StartActivity(ActivityKind.Server, parent, name: request.Method);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("http.request.method", request.Method);
            span.SetTag("url.path", request.Path.Value);
            span.SetTag("server.address", request.Host.Value);
            span.SetTag("network.protocol.name", "http");
            span.SetTag("network.protocol.version", request.Protocol);
            span.SetTag("client.address", context.Connection.RemoteIpAddress?.ToString());
        }

        return span;
    }

    /// <summary>Records the outcome on the proxy span; a 5xx marks it as an error (the proxy's or the upstream's).</summary>
    public static void EndProxySpan(Activity span, HttpContext context)
    {
        var status = context.Response.StatusCode;
        if (span.IsAllDataRequested)
        {
            span.SetTag("http.response.status_code", status);
            if (status >= 500)
            {
                span.SetStatus(ActivityStatusCode.Error);
            }
        }
    }

    /// <summary>Names the route on the proxy span.</summary>
    public static void SetRoute(Activity span, string routeKey)
    {
        if (span.IsAllDataRequested)
        {
            span.SetTag("updraft.route", routeKey);
        }
    }

    /// <summary>Starts the span of a request held for a cold start (a child of the proxy span), or null when off.</summary>
    public Activity? StartHoldSpan(string routeKey)
    {
        if (CurrentProxySpan is not { } proxy)
        {
            return null;
        }

        if (proxy.IsAllDataRequested)
        {
            proxy.SetTag("updraft.cold_start", true);
        }

        var span = Source.StartActivity(HoldSpanName, ActivityKind.Internal);
        span?.SetTag("updraft.route", routeKey);
        return span;
    }

    /// <summary>How the hold ended: ready, fallback, placeholder, rejected (queue full), timeout, client_closed, shutting_down.</summary>
    public static void SetHoldOutcome(Activity? span, string outcome)
    {
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("updraft.cold_start.outcome", outcome);
            if (outcome is "rejected" or "timeout" or "shutting_down")
            {
                span.SetStatus(ActivityStatusCode.Error, outcome);
            }
        }
    }

    /// <summary>Records how long the request was held (since it first found the target not ready) and ends the span.</summary>
    public static void EndHoldSpan(Activity span, TimeSpan held)
    {
        if (span.IsAllDataRequested)
        {
            span.SetTag("updraft.cold_start.hold_ms", held.TotalMilliseconds);
        }

        span.Dispose();
    }

    /// <summary>The YARP path: the proxy span's context replaces the client's trace headers, so exactly one goes out.</summary>
    public static void Inject(Activity span, HttpRequestHeaders headers)
    {
        headers.Remove(TraceParent);
        headers.Remove(TraceState);
        headers.TryAddWithoutValidation(TraceParent, span.Id);
        if (!string.IsNullOrEmpty(span.TraceStateString))
        {
            headers.TryAddWithoutValidation(TraceState, span.TraceStateString);
        }
    }

    /// <summary>A trace header of the client's, which the lean path leaves out when it writes the proxy span's own.</summary>
    public static bool IsTraceHeader(string name) =>
        string.Equals(name, TraceParent, StringComparison.OrdinalIgnoreCase) || string.Equals(name, TraceState, StringComparison.OrdinalIgnoreCase);
}
