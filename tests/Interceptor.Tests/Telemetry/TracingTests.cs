using System.Diagnostics;
using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.Tests.ColdStart;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Tests.Common.Otlp;

namespace Updraft.Interceptor.Tests.Telemetry;

/// <summary>
/// Tracing end to end over real sockets: a client span (this test's own source) sends its <c>traceparent</c>, the
/// interceptor continues the trace with its proxy span and exports it with the real OTLP exporter to a receiver in this
/// process, and the Kestrel upstream records the trace context it received.
/// </summary>
public sealed class TracingTests
{
    private const string Host = "app.example.com";
    private const string Key = "default/app";
    private const string ClientTraceState = "client=abc,other=1";

    private static readonly ActivitySource ClientSource = new("Updraft.Tests.Client");

    static TracingTests()
    {
        // Only this test's source: the interceptor's own listener comes from its OpenTelemetry SDK.
        ActivitySource.AddActivityListener(new ActivityListener
        {
            ShouldListenTo = source => ReferenceEquals(source, ClientSource),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        });
    }

    [Theory]
    [InlineData("true", "grpc")]
    [InlineData("true", "http/protobuf")]
    [InlineData("false", "grpc")]
    [InlineData("false", "http/protobuf")]
    public async Task Forward_TracingOn_UpstreamSeesClientTraceContinuedByProxySpan(string leanForwarding, string protocol)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var received = new TraceHeaders();
        await using var upstream = await TestUpstream.StartAsync(context => received.Record(context));
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Settings(receiver, protocol, leanForwarding));

        using var client = ClientSource.StartActivity("client call", ActivityKind.Client)!;
        client.TraceStateString = ClientTraceState;
        using var response = await SendAsync(interceptor, client);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var upstreamParent = AssertContinues(received, client);
        Assert.Equal(ClientTraceState, Assert.Single(received.TraceStates));

        var proxy = await receiver.WaitForSpanAsync(span => span.TraceId == client.TraceId.ToHexString() && span.Kind == Span.Types.SpanKind.Server, "for the proxy span");
        Assert.Equal(upstreamParent, proxy.SpanId);
        Assert.Equal(client.SpanId.ToHexString(), proxy.ParentSpanId);
        Assert.Equal("GET", proxy.Name);
        Assert.Equal("updraft-interceptor", proxy.ServiceName);
        Assert.Equal(Key, proxy.Attributes["updraft.route"]);
        Assert.Equal(200L, proxy.Attributes["http.response.status_code"]);
        Assert.Equal("/traced", proxy.Attributes["url.path"]);
        Assert.False(proxy.Attributes.ContainsKey("updraft.cold_start"));
    }

    [Theory]
    [InlineData("true")]
    [InlineData("false")]
    public async Task Forward_TracingOnWithoutClientTrace_UpstreamGetsProxySpanAsRoot(string leanForwarding)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var received = new TraceHeaders();
        await using var upstream = await TestUpstream.StartAsync(context => received.Record(context));
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Settings(receiver, "grpc", leanForwarding));

        using var response = await interceptor.GetAsync(Host, "/root");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var traceParent = Assert.Single(received.TraceParents);
        Assert.Empty(received.TraceStates);
        var parts = traceParent.Split('-');
        var proxy = await receiver.WaitForSpanAsync(span => span.TraceId == parts[1], "for the proxy span");
        Assert.Equal(parts[2], proxy.SpanId);
        Assert.Equal("", proxy.ParentSpanId);
    }

    [Theory]
    [InlineData("true")]
    [InlineData("false")]
    public async Task Forward_TracingOff_ClientTraceHeadersPassUntouchedAndNothingListens(string leanForwarding)
    {
        var received = new TraceHeaders();
        await using var upstream = await TestUpstream.StartAsync(context => received.Record(context));
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            new Dictionary<string, string?> { ["UPDRAFT_LEAN_FORWARDING"] = leanForwarding });

        using var client = ClientSource.StartActivity("client call", ActivityKind.Client)!;
        client.TraceStateString = ClientTraceState;
        using var response = await SendAsync(interceptor, client);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(client.Id, Assert.Single(received.TraceParents));
        Assert.Equal(ClientTraceState, Assert.Single(received.TraceStates));
        Assert.Null(interceptor.Services.GetService<OpenTelemetry.Trace.TracerProvider>());
        Assert.False(interceptor.Services.GetRequiredService<Updraft.Interceptor.Telemetry.ProxyTracing>().Enabled);
    }

    [Fact]
    public async Task Hold_TracingOn_HoldSpanUnderProxySpanWithHoldTimeAndOutcome()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var port = TestUpstream.FreePort();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host]), Settings(receiver, "grpc", leanForwarding: null));
        using var client = ClientSource.StartActivity("client call", ActivityKind.Client)!;
        var pending = SendAsync(interceptor, client);

        await HoldQueueTests.WaitForWaitersAsync(interceptor, port, 1);
        var received = new TraceHeaders();
        await using var upstream = await TestUpstream.StartOnPortAsync(port, context => received.Record(context));
        using var response = await pending;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var upstreamParent = AssertContinues(received, client);
        var traceId = client.TraceId.ToHexString();
        var proxy = await receiver.WaitForSpanAsync(span => span.TraceId == traceId && span.Kind == Span.Types.SpanKind.Server, "for the proxy span");
        var hold = await receiver.WaitForSpanAsync(span => span.TraceId == traceId && span.Name == "cold start hold", "for the hold span");
        Assert.Equal(upstreamParent, proxy.SpanId);
        Assert.Equal(true, proxy.Attributes["updraft.cold_start"]);
        Assert.Equal(proxy.SpanId, hold.ParentSpanId);
        Assert.Equal(Span.Types.SpanKind.Internal, hold.Kind);
        Assert.Equal(Key, hold.Attributes["updraft.route"]);
        Assert.Equal("ready", hold.Attributes["updraft.cold_start.outcome"]);
        Assert.True((double)hold.Attributes["updraft.cold_start.hold_ms"]! > 0);
        Assert.NotEqual(Status.Types.StatusCode.Error, hold.Status);
    }

    [Fact]
    public async Task Hold_ReadinessTimeoutPasses_HoldSpanOutcomeTimeoutAndProxySpanError()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var port = TestUpstream.FreePort();
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: "timeouts: {readiness: 1s}"), Settings(receiver, "http/protobuf", leanForwarding: null));
        using var client = ClientSource.StartActivity("client call", ActivityKind.Client)!;

        using var response = await SendAsync(interceptor, client);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        var traceId = client.TraceId.ToHexString();
        var hold = await receiver.WaitForSpanAsync(span => span.TraceId == traceId && span.Name == "cold start hold", "for the hold span");
        var proxy = await receiver.WaitForSpanAsync(span => span.TraceId == traceId && span.Kind == Span.Types.SpanKind.Server, "for the proxy span");
        Assert.Equal("timeout", hold.Attributes["updraft.cold_start.outcome"]);
        Assert.True((double)hold.Attributes["updraft.cold_start.hold_ms"]! >= 900);
        Assert.Equal(Status.Types.StatusCode.Error, hold.Status);
        Assert.Equal(504L, proxy.Attributes["http.response.status_code"]);
        Assert.Equal(Status.Types.StatusCode.Error, proxy.Status);
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "console, grpc or http/protobuf")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENABLED", "yes", "true or false")]
    [InlineData("OTEL_EXPORTER_OTLP_METRICS_ENABLED", "on", "true or false")]
    [InlineData("OTEL_TRACES_SAMPLER", "jaeger_remote", "parentbased_traceidratio")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4317", "http:// or https://")]
    [InlineData("OTEL_EXPORTER_OTLP_HEADERS", "api-key", "name=value")]
    public async Task Start_BadOpenTelemetrySetting_FailsNamingSettingAndAllowedValues(string variable, string value, string allowed)
    {
        var settings = new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_TRACES_ENABLED"] = "true", [variable] = value };

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => TestInterceptor.StartAsync(Routes.InterceptorRoute("app", TestUpstream.FreePort()), settings));

        var message = Assert.Single(failure.Failures);
        Assert.Contains(variable, message, StringComparison.Ordinal);
        Assert.Contains(allowed, message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_BadSamplerArgument_FailsNamingBoth()
    {
        var settings = new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_TRACES_ENABLED"] = "true",
            ["OTEL_TRACES_SAMPLER"] = "parentbased_traceidratio",
            ["OTEL_TRACES_SAMPLER_ARG"] = "1.5",
        };

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => TestInterceptor.StartAsync(Routes.InterceptorRoute("app", TestUpstream.FreePort()), settings));

        var message = Assert.Single(failure.Failures);
        Assert.Contains("OTEL_TRACES_SAMPLER_ARG=\"1.5\"", message, StringComparison.Ordinal);
        Assert.Contains("from 0 to 1", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forward_SamplerAlwaysOff_UpstreamGetsUnsampledProxyContextAndNothingIsExported()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var received = new TraceHeaders();
        await using var upstream = await TestUpstream.StartAsync(context => received.Record(context));
        var settings = Settings(receiver, "grpc", leanForwarding: null);
        settings["OTEL_TRACES_SAMPLER"] = "always_off";
        var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), settings);

        using var client = ClientSource.StartActivity("client call", ActivityKind.Client)!;
        using var response = await SendAsync(interceptor, client);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        // The SDK still propagates the context of a span it does not record, marked not sampled.
        var parts = Assert.Single(received.TraceParents).Split('-');
        Assert.Equal(client.TraceId.ToHexString(), parts[1]);
        Assert.False(IsSampled(parts[3]), $"flags {parts[3]}: sampled");
        // Stopping the interceptor shuts its SDK down, which exports whatever it still holds.
        await interceptor.DisposeAsync();
        Assert.DoesNotContain(receiver.Spans, span => span.TraceId == client.TraceId.ToHexString());
    }

    private static Dictionary<string, string?> Settings(OtlpReceiver receiver, string protocol, string? leanForwarding)
    {
        var settings = new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_TRACES_ENABLED"] = "true",
            ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = protocol,
            // Export each batch soon after the span ends (the SDK's default waits 5 s).
            ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
        };
        if (protocol == "grpc")
        {
            settings["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = receiver.GrpcEndpoint;
        }
        else
        {
            settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.HttpBaseEndpoint;
        }

        if (leanForwarding is not null)
        {
            settings["UPDRAFT_LEAN_FORWARDING"] = leanForwarding;
        }

        return settings;
    }

    private static async Task<HttpResponseMessage> SendAsync(TestInterceptor interceptor, Activity client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/traced");
        request.Headers.Host = Host;
        request.Headers.TryAddWithoutValidation("traceparent", client.Id);
        if (client.TraceStateString is { } state)
        {
            request.Headers.TryAddWithoutValidation("tracestate", state);
        }

        // This client propagates nothing itself: the headers above are the client's whole trace context.
        using var http = interceptor.NewClient(new SocketsHttpHandler { UseProxy = false, ActivityHeadersPropagator = null });
        return await http.SendAsync(request);
    }

    /// <summary>The upstream got exactly one <c>traceparent</c>: the client's trace, a parent that is not the client's span.</summary>
    /// <returns>The parent span id the upstream received.</returns>
    private static string AssertContinues(TraceHeaders received, Activity client)
    {
        var parts = Assert.Single(received.TraceParents).Split('-');
        Assert.Equal(4, parts.Length);
        Assert.Equal("00", parts[0]);
        Assert.Equal(client.TraceId.ToHexString(), parts[1]);
        Assert.NotEqual(client.SpanId.ToHexString(), parts[2]);
        Assert.True(IsSampled(parts[3]), $"flags {parts[3]}: not sampled");
        return parts[2];
    }

    // W3C trace flags: bit 0 is "sampled" (.NET also sets bit 1, "random trace id", on ids it makes).
    private static bool IsSampled(string flags) => (Convert.ToInt32(flags, 16) & 1) == 1;

    /// <summary>What the upstream received: every <c>traceparent</c> and <c>tracestate</c> line of the last request.</summary>
    private sealed class TraceHeaders
    {
        public string[] TraceParents { get; private set; } = [];

        public string[] TraceStates { get; private set; } = [];

        public Task Record(HttpContext context)
        {
            TraceParents = [.. context.Request.Headers["traceparent"].Select(v => v ?? "")];
            TraceStates = [.. context.Request.Headers["tracestate"].Select(v => v ?? "")];
            return context.Response.WriteAsync("ok");
        }
    }
}
