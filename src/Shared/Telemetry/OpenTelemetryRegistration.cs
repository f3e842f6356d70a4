using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Updraft.Shared.Telemetry;

/// <summary>
/// Registers the OpenTelemetry SDK when the settings ask for it, and nothing at all otherwise: with tracing off no
/// <see cref="System.Diagnostics.ActivityListener"/> exists, so the components' <c>StartActivity</c> calls return null.
/// </summary>
public static class OpenTelemetryRegistration
{
    /// <summary>.NET's runtime meter, exported by OTLP next to the component's own when <c>OTEL_EXPORTER_OTLP_METRICS_ENABLED</c> is on.</summary>
    public const string RuntimeMeter = "System.Runtime";

    /// <param name="services">The application's services.</param>
    /// <param name="settings">The parsed switches.</param>
    /// <param name="serviceName">The resource's <c>service.name</c> unless <c>OTEL_SERVICE_NAME</c> names another.</param>
    /// <param name="meter">The name of the component's own meter, pushed over OTLP when metrics are on.</param>
    /// <param name="activitySources">The names of the component's activity sources.</param>
    public static void AddUpdraftOpenTelemetry(this IServiceCollection services, OpenTelemetrySettings settings, string serviceName, string meter, params string[] activitySources)
    {
        if (!settings.TracesEnabled && !settings.MetricsEnabled)
        {
            return;
        }

        var builder = services.AddOpenTelemetry().ConfigureResource(resource => resource.AddService(settings.ServiceName ?? serviceName));
        if (settings.TracesEnabled)
        {
            builder.WithTracing(tracing =>
            {
                tracing.AddSource(activitySources).SetSampler(CreateSampler(settings));
                switch (settings.Export)
                {
                    case TraceExport.Console:
                        tracing.AddConsoleExporter();
                        break;
                    default:
                        tracing.AddOtlpExporter(otlp => ConfigureTraceExporter(otlp, settings));
                        break;
                }
            });
        }

        if (settings.MetricsEnabled)
        {
            // The SDK reads OTEL_METRIC_EXPORT_INTERVAL (and _TIMEOUT) for its periodic reader itself.
            builder.WithMetrics(metrics => metrics.AddMeter(meter, RuntimeMeter).AddOtlpExporter(otlp => ConfigureMetricExporter(otlp, settings)));
        }
    }

    private static void ConfigureTraceExporter(OtlpExporterOptions otlp, OpenTelemetrySettings settings)
    {
        otlp.Protocol = settings.Export == TraceExport.Grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
        // Otherwise the exporter takes OTEL_EXPORTER_OTLP_ENDPOINT (adding /v1/traces for HTTP) and _HEADERS itself.
        if (settings.TracesEndpoint is { } endpoint)
        {
            otlp.Endpoint = endpoint;
        }

        if (settings.TracesHeaders is { } headers)
        {
            otlp.Headers = headers;
        }
    }

    private static void ConfigureMetricExporter(OtlpExporterOptions otlp, OpenTelemetrySettings settings)
    {
        // The add-on pushes with OTLP/HTTP; the SDK's own default would be gRPC.
        otlp.Protocol = settings.MetricsProtocol;
        if (settings.MetricsEndpoint is { } endpoint)
        {
            otlp.Endpoint = endpoint;
        }

        if (settings.MetricsHeaders is { } headers)
        {
            otlp.Headers = headers;
        }
    }

    public static Sampler CreateSampler(OpenTelemetrySettings settings) => settings.Sampling switch
    {
        TraceSampling.AlwaysOn => new AlwaysOnSampler(),
        TraceSampling.AlwaysOff => new AlwaysOffSampler(),
        TraceSampling.TraceIdRatio => new TraceIdRatioBasedSampler(settings.SamplingRatio),
        TraceSampling.ParentBasedAlwaysOn => new ParentBasedSampler(new AlwaysOnSampler()),
        TraceSampling.ParentBasedAlwaysOff => new ParentBasedSampler(new AlwaysOffSampler()),
        _ => new ParentBasedSampler(new TraceIdRatioBasedSampler(settings.SamplingRatio)),
    };
}
