using System.Diagnostics;
using Grpc.Core;
using Updraft.ExternalScaler.Hosting;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using Updraft.Shared.Hosting;
using Updraft.Tests.Common.Otlp;
using SpanStatus = Updraft.Tests.Common.Otlp.Status;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Telemetry;

/// <summary>The scaler's spans, exported by the real OTLP exporter to a receiver in this process.</summary>
public sealed class ScalerTracingTests
{
    private const string Host = "app.example.com";

    [Theory]
    [InlineData("grpc")]
    [InlineData("http/protobuf")]
    public async Task GetMetrics_TracingOn_SpanContinuesCallersTraceWithTheValue(string protocol)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var harness = await StartAsync(RoutesYaml.InterceptorRoute("app", FreePort(), Host), settings: Settings(receiver, protocol));
        var (traceId, callerSpanId, metadata) = CallerContext();

        var values = await harness.Client.GetMetricsAsync(
            new GetMetricsRequest { ScaledObjectRef = Ref("so", ("interceptorRoute", "app")), MetricName = "http_app_concurrency" }, metadata);

        Assert.Equal(0, Assert.Single(values.MetricValues).MetricValueFloat);
        var span = await receiver.WaitForSpanAsync(s => s.TraceId == traceId && s.Name == "externalscaler.ExternalScaler/GetMetrics", "for GetMetrics");
        Assert.Equal(callerSpanId, span.ParentSpanId);
        Assert.Equal(Span.Types.SpanKind.Server, span.Kind);
        Assert.Equal("updraft-external-scaler", span.ServiceName);
        Assert.Equal("default/so", span.Attributes["updraft.scaled_object"]);
        Assert.Equal("grpc", span.Attributes["rpc.system"]);
        Assert.Equal("http_app_concurrency", span.Attributes["updraft.metric.name"]);
        Assert.Equal(0.0, span.Attributes["updraft.metric.value"]);
        Assert.NotEqual(SpanStatus.Types.StatusCode.Error, span.Status);
    }

    [Fact]
    public async Task GetMetrics_UnknownRoute_SpanIsAnErrorWithTheGrpcStatus()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var harness = await StartAsync(RoutesYaml.InterceptorRoute("app", FreePort(), Host), settings: Settings(receiver, "grpc"));
        var (traceId, _, metadata) = CallerContext();

        var failure = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.GetMetricsAsync(
            new GetMetricsRequest { ScaledObjectRef = Ref("so", ("interceptorRoute", "missing")), MetricName = "http_missing_concurrency" }, metadata));

        Assert.Equal(StatusCode.NotFound, failure.StatusCode);
        var span = await receiver.WaitForSpanAsync(s => s.TraceId == traceId, "for the failed GetMetrics");
        Assert.Equal(SpanStatus.Types.StatusCode.Error, span.Status);
        Assert.Equal((long)StatusCode.NotFound, span.Attributes["rpc.grpc.status_code"]);
    }

    [Fact]
    public async Task StreamIsActive_StreamCloses_OneSpanForTheStreamWithTheAnswersSent()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var harness = await StartAsync(RoutesYaml.InterceptorRoute("app", FreePort(), Host), settings: Settings(receiver, "grpc"));
        var (traceId, callerSpanId, metadata) = CallerContext();

        using (var closing = new CancellationTokenSource())
        {
            using var call = harness.Client.StreamIsActive(Ref("so", ("interceptorRoute", "app")), metadata, cancellationToken: closing.Token);
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.False(call.ResponseStream.Current.Result);
            await closing.CancelAsync();
        }

        var span = await receiver.WaitForSpanAsync(s => s.TraceId == traceId && s.Name == "externalscaler.ExternalScaler/StreamIsActive", "for the stream");
        Assert.Equal(callerSpanId, span.ParentSpanId);
        Assert.Equal(1L, span.Attributes["updraft.stream.sends"]);
        Assert.Equal(false, span.Attributes["updraft.active"]);
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "zipkin", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=\"zipkin\" is not supported; use console, grpc or http/protobuf")]
    [InlineData("OTEL_TRACES_SAMPLER", "xray", "OTEL_TRACES_SAMPLER=\"xray\" is not supported; use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio")]
    [InlineData("OTEL_EXPORTER_OTLP_ENDPOINT", "4317", "OTEL_EXPORTER_OTLP_ENDPOINT=\"4317\" is not valid; use an absolute http:// or https:// URL, e.g. http://otel-collector:4317")]
    public void Build_BadOpenTelemetrySetting_FailsAtStartNamingTheVariableAndTheAllowedValues(string variable, string value, string expected)
    {
        var failure = Assert.Throws<StartupProblemsException>(() => ScalerApplication.Build([], new Dictionary<string, string?>
        {
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["OTEL_EXPORTER_OTLP_TRACES_ENABLED"] = "true",
            [variable] = value,
        }));

        Assert.Equal([expected], failure.Problems);
    }

    private static Dictionary<string, string?> Settings(OtlpReceiver receiver, string protocol) => new()
    {
        ["OTEL_EXPORTER_OTLP_TRACES_ENABLED"] = "true",
        ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = protocol,
        ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = protocol == "grpc" ? receiver.GrpcEndpoint : receiver.HttpBaseEndpoint + "/v1/traces",
        ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
    };

    /// <summary>A caller's trace context, as KEDA would send it if it traced its calls.</summary>
    private static (string TraceId, string SpanId, Metadata Metadata) CallerContext()
    {
        var traceId = ActivityTraceId.CreateRandom().ToHexString();
        var spanId = ActivitySpanId.CreateRandom().ToHexString();
        return (traceId, spanId, new Metadata { { "traceparent", $"00-{traceId}-{spanId}-01" } });
    }
}
