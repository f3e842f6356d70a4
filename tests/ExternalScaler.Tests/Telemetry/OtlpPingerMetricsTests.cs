using Microsoft.Extensions.DependencyInjection;
using Updraft.ExternalScaler.Telemetry;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Tests.Common.Otlp;
using Updraft.Tests.Common.Otlp.Metrics;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Telemetry;

/// <summary>
/// <c>OTEL_EXPORTER_OTLP_METRICS_ENABLED</c> on the scaler: while it follows a real interceptor and an address where
/// nothing listens, its OpenTelemetry SDK pushes the pinger metrics with the real OTLP exporter to a receiver in this
/// process, under the add-on's meter and instrument names.
/// </summary>
public sealed class OtlpPingerMetricsTests
{
    private static readonly string Routes = RoutesYaml.InterceptorRoute("app", 9, "app.test");

    private static readonly double[] FetchBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5];

    [Theory]
    [InlineData("http/protobuf", "true")]
    [InlineData("http/protobuf", "false")]
    [InlineData("grpc", "true")]
    public async Task PingerMetrics_OtlpMetricsOn_ReceiverGetsEndpointsUnreachableErrorsAndFetchDurations(string protocol, string prometheus)
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var dead = $"127.0.0.1:{FreePort()}";
        var settings = Settings(receiver, protocol);
        settings["OTEL_PROM_EXPORTER_ENABLED"] = prometheus;
        await using var harness = await StartAsync(Routes, interceptors: 1, extraInterceptorAddresses: [dead], settings: settings, waitForCounts: false);

        var endpoints = await receiver.WaitForMetricAsync("scaler.pinger.endpoints", _ => true, point => point.Value == 2, "with both replicas");
        Assert.Equal("gauge", endpoints.Kind);
        Assert.True(endpoints.IsInteger);
        Assert.Empty(endpoints.Attributes);
        Assert.Equal(ScalerInstruments.MeterName, endpoints.Scope);
        Assert.Equal("updraft-external-scaler", endpoints.ServiceName);
        var unreachable = await receiver.WaitForMetricAsync("scaler.pinger.unreachable_pods", _ => true, point => point.Value == 1, "with the dead address");
        Assert.Equal("gauge", unreachable.Kind);

        var errors = await receiver.WaitForMetricAsync("scaler.pinger.fetch.errors", _ => true, point => point.Value >= 1, "for the dead address");
        Assert.Equal("sum", errors.Kind);
        Assert.True(errors.IsMonotonic);
        Assert.Equal(AggregationTemporality.Cumulative, errors.Temporality);
        var laterErrors = await receiver.WaitForMetricAsync("scaler.pinger.fetch.errors", _ => true, point => point.Value > errors.Value, "as the scaler keeps dialling");
        Assert.True(laterErrors.Value > errors.Value);

        var fetches = await receiver.WaitForMetricAsync("scaler.pinger.fetch.duration", _ => true, point => point.Count >= 2, "for the replica and the failed attempts");
        Assert.Equal("histogram", fetches.Kind);
        Assert.Equal("s", fetches.Unit);
        Assert.Equal(FetchBuckets, fetches.Bounds);
        Assert.True(fetches.Sum > 0);
    }

    [Fact]
    public async Task PingerMetrics_OtlpMetricsOff_ReceiverGetsNothingAndNoInstrumentsExist()
    {
        await using var receiver = await OtlpReceiver.StartAsync();
        var settings = Settings(receiver, "http/protobuf");
        settings.Remove("OTEL_EXPORTER_OTLP_METRICS_ENABLED");
        var harness = await StartAsync(Routes, interceptors: 1, extraInterceptorAddresses: [$"127.0.0.1:{FreePort()}"], settings: settings);

        Assert.Null(harness.Services.GetRequiredService<ScalerMetrics>().Instruments);
        // The scaler fetched (the harness waited for counts) and the export interval has passed many times.
        await Task.Delay(TimeSpan.FromSeconds(1));
        await harness.DisposeAsync();
        Assert.Equal(0, receiver.MetricExports);
        Assert.Empty(receiver.MetricPoints);
    }

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
            // Used as it is: the exporter appends nothing to a signal's own endpoint.
            settings["OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"] = receiver.HttpBaseEndpoint + "/v1/metrics";
        }

        return settings;
    }
}
