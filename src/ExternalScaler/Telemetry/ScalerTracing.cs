using System.Diagnostics;
using Grpc.Core;

namespace Updraft.ExternalScaler.Telemetry;

/// <summary>
/// The scaler's spans: one server span per KEDA RPC (<c>GetMetrics</c>, <c>IsActive</c>, <c>GetMetricSpec</c>), one for
/// the life of each <c>StreamIsActive</c> stream, and one per broker poll (Kafka consumer group, NATS consumer or
/// channel). An RPC span continues a <c>traceparent</c> sent in the call's metadata; a poll span starts a trace of its own.
/// </summary>
/// <remarks>
/// Nothing is listening to <see cref="SourceName"/> unless <c>OTEL_EXPORTER_OTLP_TRACES_ENABLED</c> is on; then every
/// method here returns null after one check, without reading headers or allocating.
/// </remarks>
internal static class ScalerTracing
{
    public const string SourceName = "Updraft.ExternalScaler";
    private const string ServiceName = "externalscaler.ExternalScaler";

    private static readonly ActivitySource Source = new(SourceName);

    /// <summary>Whether tracing is on (a listener exists): lets a caller skip building a span's attributes.</summary>
    public static bool Listening => Source.HasListeners();

    /// <summary>Starts the span of one RPC about <paramref name="namespace"/>/<paramref name="name"/>, or null when off.</summary>
    public static Activity? StartRpc(string method, string @namespace, string name, ServerCallContext context)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        var headers = context.RequestHeaders;
        ActivityContext.TryParse(headers.GetValue("traceparent"), headers.GetValue("tracestate"), isRemote: true, out var parent);
        var span = Source.StartActivity(ActivityKind.Server, parent, name: ServiceName + "/" + method);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("rpc.system", "grpc");
            span.SetTag("rpc.service", ServiceName);
            span.SetTag("rpc.method", method);
            span.SetTag("updraft.scaled_object", @namespace + "/" + name);
        }

        return span;
    }

    /// <summary>A metric's value as answered.</summary>
    public static void AddMetric(Activity? span, string metricName, double value)
    {
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("updraft.metric.name", metricName);
            span.SetTag("updraft.metric.value", value);
        }
    }

    /// <summary>Any attribute, when a span is recording (generic, so nothing is boxed when it is not).</summary>
    public static void SetTag<T>(Activity? span, string key, T value)
    {
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag(key, value);
        }
    }

    /// <summary>The RPC failed with <paramref name="code"/>.</summary>
    public static void Fail(Activity? span, StatusCode code, string? message)
    {
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("rpc.grpc.status_code", (int)code);
            span.SetStatus(ActivityStatusCode.Error, message);
        }
    }

    /// <summary>A poll failed: the span is an error with the problem as its description.</summary>
    public static void FailPoll(Activity? span, string? problem)
    {
        if (span is { IsAllDataRequested: true })
        {
            span.SetStatus(ActivityStatusCode.Error, problem);
        }
    }

    /// <summary>Starts the span of one broker poll, as the root of its own trace, or null when off.</summary>
    /// <param name="name">The span's name, e.g. <c>kafka poll</c>.</param>
    /// <param name="system">The <c>messaging.system</c> attribute (kafka, nats).</param>
    /// <param name="what">What is polled (consumer group and cluster, stream and consumer, channel).</param>
    public static Activity? StartPoll(string name, string system, string what)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        // A poller's loop inherits the context of the RPC that created it; its polls belong to no request.
        Activity.Current = null;
        var span = Source.StartActivity(name, ActivityKind.Client);
        if (span is { IsAllDataRequested: true })
        {
            span.SetTag("messaging.system", system);
            span.SetTag("updraft.polled", what);
        }

        return span;
    }
}
