using System.Globalization;
using OpenTelemetry.Exporter;
using Updraft.Shared.Settings;

namespace Updraft.Shared.Telemetry;

/// <summary>Where spans go when tracing is on (<c>OTEL_EXPORTER_OTLP_TRACES_PROTOCOL</c>).</summary>
public enum TraceExport
{
    /// <summary><c>console</c>: written to standard output (the add-on's default).</summary>
    Console,

    /// <summary><c>grpc</c>: OTLP over gRPC.</summary>
    Grpc,

    /// <summary><c>http/protobuf</c>: OTLP over HTTP, protobuf bodies.</summary>
    HttpProtobuf,
}

/// <summary>The standard samplers (<c>OTEL_TRACES_SAMPLER</c>) that the OpenTelemetry .NET SDK provides.</summary>
public enum TraceSampling
{
    AlwaysOn,
    AlwaysOff,
    TraceIdRatio,
    ParentBasedAlwaysOn,
    ParentBasedAlwaysOff,
    ParentBasedTraceIdRatio,
}

/// <summary>
/// The add-on's OpenTelemetry switches, shared by the interceptor and the scaler: tracing on or off, where spans go,
/// sampling, and OTLP metric push. Endpoints and headers are the SDK's to read (<c>OTEL_EXPORTER_OTLP_ENDPOINT</c>,
/// <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, ...); they are only checked here, so a
/// typo fails start-up instead of silently sending nowhere.
/// </summary>
/// <param name="TracesEndpoint"><c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>: used as it is, as the specification says (the
/// exporter applies it only when given in code).</param>
/// <param name="TracesHeaders"><c>OTEL_EXPORTER_OTLP_TRACES_HEADERS</c>, likewise.</param>
/// <param name="ServiceName"><c>OTEL_SERVICE_NAME</c>: in place of the component's own name.</param>
/// <param name="MetricsProtocol"><c>OTEL_EXPORTER_OTLP_METRICS_PROTOCOL</c>: OTLP/HTTP (the add-on's only one) unless set to grpc.</param>
/// <param name="MetricsEndpoint"><c>OTEL_EXPORTER_OTLP_METRICS_ENDPOINT</c>: used as it is, like the traces endpoint.</param>
/// <param name="MetricsHeaders"><c>OTEL_EXPORTER_OTLP_METRICS_HEADERS</c>, likewise.</param>
public sealed record OpenTelemetrySettings(
    bool TracesEnabled,
    TraceExport Export,
    TraceSampling Sampling,
    double SamplingRatio,
    bool MetricsEnabled,
    Uri? TracesEndpoint = null,
    string? TracesHeaders = null,
    string? ServiceName = null,
    OtlpExportProtocol MetricsProtocol = OtlpExportProtocol.HttpProtobuf,
    Uri? MetricsEndpoint = null,
    string? MetricsHeaders = null)
{
    public const string ServiceNameVariable = "OTEL_SERVICE_NAME";
    public const string TracesEndpointVariable = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    public const string TracesHeadersVariable = "OTEL_EXPORTER_OTLP_TRACES_HEADERS";
    public const string TracesEnabledVariable = "OTEL_EXPORTER_OTLP_TRACES_ENABLED";
    public const string TracesProtocolVariable = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL";
    public const string MetricsEnabledVariable = "OTEL_EXPORTER_OTLP_METRICS_ENABLED";
    public const string MetricsProtocolVariable = "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL";
    public const string MetricsEndpointVariable = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
    public const string MetricsHeadersVariable = "OTEL_EXPORTER_OTLP_METRICS_HEADERS";
    public const string SamplerVariable = "OTEL_TRACES_SAMPLER";
    public const string SamplerArgumentVariable = "OTEL_TRACES_SAMPLER_ARG";

    private const string AllowedProtocols = "console, grpc or http/protobuf";
    private const string AllowedSamplers = "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio";

    private const string AllowedMetricsProtocols = "grpc or http/protobuf";

    private static readonly string[] EndpointVariables = ["OTEL_EXPORTER_OTLP_ENDPOINT", TracesEndpointVariable, MetricsEndpointVariable];
    private static readonly string[] HeaderVariables = ["OTEL_EXPORTER_OTLP_HEADERS", TracesHeadersVariable, MetricsHeadersVariable];

    /// <summary>Everything off: what an unset environment gives.</summary>
    public static OpenTelemetrySettings Off { get; } = new(false, TraceExport.Console, TraceSampling.ParentBasedAlwaysOn, 1.0, false);

    /// <summary>A one-line description for the start-up log.</summary>
    public string Describe() =>
        $"export {ProtocolName(Export)}, sampler {SamplerName(Sampling)}"
        + (Sampling is TraceSampling.TraceIdRatio or TraceSampling.ParentBasedTraceIdRatio ? $" {SamplingRatio.ToString(CultureInfo.InvariantCulture)}" : "");

    /// <summary>Reads the settings; each bad value adds a problem naming the variable and what is allowed.</summary>
    public static OpenTelemetrySettings Read(SettingReader reader, List<string> problems)
    {
        var tracesEnabled = reader.Boolean(TracesEnabledVariable, false);
        var metricsEnabled = reader.Boolean(MetricsEnabledVariable, false);

        var export = TraceExport.Console;
        if (reader.Text(TracesProtocolVariable) is { } protocol)
        {
            switch (protocol.ToLowerInvariant())
            {
                case "console":
                    export = TraceExport.Console;
                    break;
                case "grpc":
                    export = TraceExport.Grpc;
                    break;
                case "http/protobuf":
                    export = TraceExport.HttpProtobuf;
                    break;
                default:
                    problems.Add($"{TracesProtocolVariable}=\"{protocol}\" is not supported; use {AllowedProtocols}");
                    break;
            }
        }

        var metricsProtocol = OtlpExportProtocol.HttpProtobuf;
        if (reader.Text(MetricsProtocolVariable) is { } metricsProtocolText)
        {
            switch (metricsProtocolText.ToLowerInvariant())
            {
                case "grpc":
                    metricsProtocol = OtlpExportProtocol.Grpc;
                    break;
                case "http/protobuf":
                    break;
                default:
                    problems.Add($"{MetricsProtocolVariable}=\"{metricsProtocolText}\" is not supported; use {AllowedMetricsProtocols}");
                    break;
            }
        }

        var sampling = TraceSampling.ParentBasedAlwaysOn;
        if (reader.Text(SamplerVariable) is { } sampler)
        {
            if (ParseSampler(sampler) is { } parsed)
            {
                sampling = parsed;
            }
            else
            {
                problems.Add($"{SamplerVariable}=\"{sampler}\" is not supported; use {AllowedSamplers}");
            }
        }

        // The specification: the argument means something only to the ratio samplers, and is ignored by the others.
        var ratio = 1.0;
        if (sampling is TraceSampling.TraceIdRatio or TraceSampling.ParentBasedTraceIdRatio && reader.Text(SamplerArgumentVariable) is { } argument)
        {
            if (double.TryParse(argument, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value) && value is >= 0 and <= 1)
            {
                ratio = value;
            }
            else
            {
                problems.Add($"{SamplerArgumentVariable}=\"{argument}\" is not valid for {SamplerVariable}={SamplerName(sampling)}; use a sampling ratio from 0 to 1, e.g. 0.25");
            }
        }

        foreach (var name in EndpointVariables)
        {
            if (reader.Text(name) is { } endpoint
                && !(Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)))
            {
                problems.Add($"{name}=\"{endpoint}\" is not valid; use an absolute http:// or https:// URL, e.g. http://otel-collector:4317");
            }
        }

        foreach (var name in HeaderVariables)
        {
            if (reader.Text(name) is { } headers && !AreHeaders(headers))
            {
                problems.Add($"{name} is not valid; use comma-separated name=value pairs, e.g. api-key=secret,tenant=a");
            }
        }

        return new OpenTelemetrySettings(
            tracesEnabled,
            export,
            sampling,
            ratio,
            metricsEnabled,
            ReadEndpoint(reader, TracesEndpointVariable),
            reader.Text(TracesHeadersVariable),
            reader.Text(ServiceNameVariable),
            metricsProtocol,
            ReadEndpoint(reader, MetricsEndpointVariable),
            reader.Text(MetricsHeadersVariable));
    }

    private static Uri? ReadEndpoint(SettingReader reader, string variable) =>
        reader.Text(variable) is { } text && Uri.TryCreate(text, UriKind.Absolute, out var endpoint) ? endpoint : null;

    private static TraceSampling? ParseSampler(string text) => text.ToLowerInvariant() switch
    {
        "always_on" => TraceSampling.AlwaysOn,
        "always_off" => TraceSampling.AlwaysOff,
        "traceidratio" => TraceSampling.TraceIdRatio,
        "parentbased_always_on" => TraceSampling.ParentBasedAlwaysOn,
        "parentbased_always_off" => TraceSampling.ParentBasedAlwaysOff,
        "parentbased_traceidratio" => TraceSampling.ParentBasedTraceIdRatio,
        _ => null,
    };

    public static string SamplerName(TraceSampling sampling) => sampling switch
    {
        TraceSampling.AlwaysOn => "always_on",
        TraceSampling.AlwaysOff => "always_off",
        TraceSampling.TraceIdRatio => "traceidratio",
        TraceSampling.ParentBasedAlwaysOn => "parentbased_always_on",
        TraceSampling.ParentBasedAlwaysOff => "parentbased_always_off",
        _ => "parentbased_traceidratio",
    };

    public static string ProtocolName(TraceExport export) => export switch
    {
        TraceExport.Console => "console",
        TraceExport.Grpc => "grpc",
        _ => "http/protobuf",
    };

    // The OTLP form (W3C baggage-like): name=value pairs separated by commas; values may be percent-encoded.
    private static bool AreHeaders(string text)
    {
        foreach (var pair in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0 || pair[..equals].Trim().Length == 0)
            {
                return false;
            }
        }

        return true;
    }
}
