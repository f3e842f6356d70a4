using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Interceptor.Telemetry;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Tests.Common.Otlp;
using Updraft.Tests.Common.Otlp.Metrics;

namespace Updraft.Interceptor.Tests.Telemetry;

/// <summary>
/// <c>OTEL_EXPORTER_OTLP_METRICS_ENABLED</c> end to end: a real interceptor serves requests and its OpenTelemetry SDK pushes
/// the request metrics with the real OTLP exporter to a receiver in this process, under the add-on's meter, instrument
/// names, units and attributes.
/// </summary>
public sealed class OtlpMetricsTests
{
    private const string Host = "app.example.com";

    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];

    [Theory]
    [InlineData("true", "http/protobuf")]
    [InlineData("false", "http/protobuf")]
    [InlineData("true", "grpc")]
    public async Task Requests_OtlpMetricsOn_ReceiverGetsCountDurationAndConcurrencyPerRoute(string leanForwarding, string protocol)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            if (context.Request.Path == "/slow")
            {
                await release.Task;
            }
        });
        var settings = Settings(receiver, protocol);
        settings["UPDRAFT_LEAN_FORWARDING"] = leanForwarding;
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], ns: "shop"), settings);

        for (var i = 0; i < 5; i++)
        {
            using var response = await interceptor.GetAsync(Host, "/fast");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var post = new HttpRequestMessage(HttpMethod.Post, "/fast") { Content = new StringContent("x") })
        {
            post.Headers.Host = Host;
            using var response = await interceptor.Client.SendAsync(post);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var unrouted = await interceptor.GetAsync("nowhere.example.com", "/"))
        {
            Assert.Equal(HttpStatusCode.NotFound, unrouted.StatusCode);
        }

        var getCount = await receiver.WaitForMetricAsync("interceptor.request.count", point => IsRoute(point, "GET", 200), point => point.Value >= 5, "for 5 GETs");
        Assert.Equal(5, getCount.Value);
        Assert.True(getCount.IsInteger);
        Assert.Equal("sum", getCount.Kind);
        Assert.True(getCount.IsMonotonic);
        Assert.Equal(AggregationTemporality.Cumulative, getCount.Temporality);
        Assert.Equal(InterceptorInstruments.MeterName, getCount.Scope);
        Assert.Equal("updraft-interceptor", getCount.ServiceName);
        Assert.Equal(["code", "method", "route_name", "route_namespace"], getCount.Attributes.Keys.Order(StringComparer.Ordinal));
        var postCount = await receiver.WaitForMetricAsync("interceptor.request.count", point => IsRoute(point, "POST", 200), point => point.Value >= 1, "for the POST");
        Assert.Equal(1, postCount.Value);
        var notFound = await receiver.WaitForMetricAsync("interceptor.request.count", point => Equals(point.Attributes["code"], 404L), point => point.Value >= 1, "for the unrouted request");
        Assert.Equal("", notFound.Attributes["route_name"]);
        Assert.Equal("", notFound.Attributes["route_namespace"]);

        var duration = await receiver.WaitForMetricAsync("interceptor.request.duration", point => IsRoute(point, "GET", 200), point => point.Count >= 5, "with 5 GETs");
        Assert.Equal(5UL, duration.Count);
        Assert.True(duration.Sum > 0);
        Assert.Equal("s", duration.Unit);
        Assert.Equal("histogram", duration.Kind);
        Assert.Equal(DurationBuckets, duration.Bounds);

        var pending = new[] { interceptor.GetAsync(Host, "/slow"), interceptor.GetAsync(Host, "/slow") };
        var inFlight = await receiver.WaitForMetricAsync("interceptor.request.concurrency", IsApp, point => point.Value == 2, "with 2 requests in flight");
        Assert.Equal("sum", inFlight.Kind);
        Assert.False(inFlight.IsMonotonic);
        Assert.Equal(["route_name", "route_namespace"], inFlight.Attributes.Keys.Order(StringComparer.Ordinal));

        release.SetResult();
        foreach (var response in await Task.WhenAll(pending))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }

        await receiver.WaitForMetricAsync("interceptor.request.concurrency", IsApp, point => point.Value == 0, "after the requests completed");
        var total = await receiver.WaitForMetricAsync("interceptor.request.count", point => IsRoute(point, "GET", 200), point => point.Value >= 7, "for 7 GETs");
        Assert.Equal(7, total.Value);
    }

    [Theory]
    [InlineData("http/protobuf")]
    [InlineData("grpc")]
    public async Task MetricsHeaders_SentWithEveryExport(string protocol)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var settings = Settings(receiver, protocol);
        settings["OTEL_EXPORTER_OTLP_METRICS_HEADERS"] = "api-key=s3cret,tenant=a";
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", TestUpstream.FreePort(), hosts: [Host]), settings);

        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(receiver.MetricExports > 0), "a metrics export");
        var headers = receiver.MetricExportHeaders;

        Assert.Equal("s3cret", headers.GetValueOrDefault("api-key"));
        Assert.Equal("a", headers.GetValueOrDefault("tenant"));
    }

    [Fact]
    public async Task Requests_OtlpMetricsOff_ReceiverGetsNothingAndNoInstrumentsExist()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        await using var upstream = await TestUpstream.StartAsync(_ => Task.CompletedTask);
        var settings = Settings(receiver, "http/protobuf");
        settings.Remove("OTEL_EXPORTER_OTLP_METRICS_ENABLED");
        var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), settings);

        using (var response = await interceptor.GetAsync(Host, "/"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Null(interceptor.Services.GetRequiredService<InterceptorMetrics>().Instruments);
        // Stopping the interceptor would flush an SDK that existed; the export interval has passed many times by then.
        await Task.Delay(TimeSpan.FromSeconds(1));
        await interceptor.DisposeAsync();
        Assert.Equal(0, receiver.MetricExports);
        Assert.Empty(receiver.MetricPoints);
    }

    [Fact]
    public async Task Start_BadMetricsProtocol_FailsNamingSettingAndAllowedValues()
    {
        var settings = new Dictionary<string, string?> { ["OTEL_EXPORTER_OTLP_METRICS_ENABLED"] = "true", ["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] = "http/json" };

        var failure = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => TestInterceptor.StartAsync(Routes.InterceptorRoute("app", TestUpstream.FreePort()), settings));

        Assert.Equal("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=\"http/json\" is not supported; use grpc or http/protobuf", Assert.Single(failure.Failures));
    }

    private static bool IsApp(ReceivedMetricPoint point) =>
        Equals(point.Attributes["route_name"], "app") && Equals(point.Attributes["route_namespace"], "shop");

    private static bool IsRoute(ReceivedMetricPoint point, string method, int code) =>
        IsApp(point) && Equals(point.Attributes["method"], method) && Equals(point.Attributes["code"], (long)code);

    private static Dictionary<string, string?> Settings(OtlpReceiver receiver, string protocol)
    {
        var settings = new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_METRICS_ENABLED"] = "true",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "200",
        };
        if (protocol == "grpc")
        {
            settings["OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] = "grpc";
            settings["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = receiver.GrpcEndpoint;
        }
        else
        {
            // The exporter appends /v1/metrics to the base endpoint.
            settings["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.HttpBaseEndpoint;
        }

        return settings;
    }
}
