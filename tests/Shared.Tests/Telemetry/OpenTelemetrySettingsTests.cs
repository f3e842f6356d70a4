using OpenTelemetry.Exporter;
using Updraft.Shared.Settings;
using Updraft.Shared.Telemetry;

namespace Updraft.Shared.Tests.Telemetry;

public sealed class OpenTelemetrySettingsTests
{
    [Fact]
    public void Read_NothingSet_EverythingOffWithTheAddOnsDefaults()
    {
        var (settings, problems) = Read();

        Assert.Empty(problems);
        Assert.Equal(OpenTelemetrySettings.Off, settings);
        Assert.Equal(TraceExport.Console, settings.Export);
        Assert.Equal(TraceSampling.ParentBasedAlwaysOn, settings.Sampling);
        Assert.Equal(OtlpExportProtocol.HttpProtobuf, settings.MetricsProtocol);
    }

    [Theory]
    [InlineData("http/protobuf", OtlpExportProtocol.HttpProtobuf)]
    [InlineData("grpc", OtlpExportProtocol.Grpc)]
    [InlineData("gRPC", OtlpExportProtocol.Grpc)]
    public void Read_MetricsProtocol_Parsed(string value, OtlpExportProtocol expected)
    {
        var (settings, problems) = Read(("OTEL_EXPORTER_OTLP_METRICS_ENABLED", "true"), ("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", value));

        Assert.Empty(problems);
        Assert.True(settings.MetricsEnabled);
        Assert.Equal(expected, settings.MetricsProtocol);
    }

    [Theory]
    [InlineData("console", TraceExport.Console)]
    [InlineData("grpc", TraceExport.Grpc)]
    [InlineData("http/protobuf", TraceExport.HttpProtobuf)]
    [InlineData("GRPC", TraceExport.Grpc)]
    public void Read_Protocol_Parsed(string value, TraceExport expected)
    {
        var (settings, problems) = Read(("OTEL_EXPORTER_OTLP_TRACES_ENABLED", "true"), ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", value));

        Assert.Empty(problems);
        Assert.True(settings.TracesEnabled);
        Assert.Equal(expected, settings.Export);
    }

    [Theory]
    [InlineData("always_on", null, TraceSampling.AlwaysOn, 1.0)]
    [InlineData("always_off", "0.5", TraceSampling.AlwaysOff, 1.0)] // the argument means nothing to this sampler
    [InlineData("traceidratio", "0.25", TraceSampling.TraceIdRatio, 0.25)]
    [InlineData("parentbased_traceidratio", null, TraceSampling.ParentBasedTraceIdRatio, 1.0)]
    [InlineData("parentbased_traceidratio", "0", TraceSampling.ParentBasedTraceIdRatio, 0.0)]
    [InlineData("parentbased_always_off", null, TraceSampling.ParentBasedAlwaysOff, 1.0)]
    public void Read_Sampler_Parsed(string sampler, string? argument, TraceSampling expected, double ratio)
    {
        var (settings, problems) = Read(("OTEL_TRACES_SAMPLER", sampler), ("OTEL_TRACES_SAMPLER_ARG", argument));

        Assert.Empty(problems);
        Assert.Equal((expected, ratio), (settings.Sampling, settings.SamplingRatio));
    }

    [Theory]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL=\"http/json\" is not supported; use console, grpc or http/protobuf")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENABLED", "yes", "OTEL_EXPORTER_OTLP_TRACES_ENABLED=\"yes\" is not valid; use true or false")]
    [InlineData("OTEL_EXPORTER_OTLP_METRICS_ENABLED", "2", "OTEL_EXPORTER_OTLP_METRICS_ENABLED=\"2\" is not valid; use true or false")]
    [InlineData("OTEL_TRACES_SAMPLER", "parentbased_jaeger_remote", "OTEL_TRACES_SAMPLER=\"parentbased_jaeger_remote\" is not supported; use always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "ftp://collector", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"ftp://collector\" is not valid; use an absolute http:// or https:// URL, e.g. http://otel-collector:4317")]
    [InlineData("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "/v1/metrics", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT=\"/v1/metrics\" is not valid; use an absolute http:// or https:// URL, e.g. http://otel-collector:4317")]
    [InlineData("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "console", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL=\"console\" is not supported; use grpc or http/protobuf")]
    [InlineData("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "tenant", "OTEL_EXPORTER_OTLP_METRICS_HEADERS is not valid; use comma-separated name=value pairs, e.g. api-key=secret,tenant=a")]
    [InlineData("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "a=1,=2", "OTEL_EXPORTER_OTLP_TRACES_HEADERS is not valid; use comma-separated name=value pairs, e.g. api-key=secret,tenant=a")]
    public void Read_BadValue_OneProblemNamingTheVariableAndWhatIsAllowed(string variable, string value, string expected)
    {
        var (_, problems) = Read((variable, value));

        Assert.Equal([expected], problems);
    }

    [Theory]
    [InlineData("1.5")]
    [InlineData("-0.1")]
    [InlineData("half")]
    public void Read_RatioOutOfRange_ProblemNamesBothVariables(string argument)
    {
        var (settings, problems) = Read(("OTEL_TRACES_SAMPLER", "traceidratio"), ("OTEL_TRACES_SAMPLER_ARG", argument));

        Assert.Equal([$"OTEL_TRACES_SAMPLER_ARG=\"{argument}\" is not valid for OTEL_TRACES_SAMPLER=traceidratio; use a sampling ratio from 0 to 1, e.g. 0.25"], problems);
        Assert.Equal(1.0, settings.SamplingRatio);
    }

    [Fact]
    public void Read_TracesEndpointAndHeaders_KeptAsGiven()
    {
        var (settings, problems) = Read(("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://collector:4318/custom/traces"), ("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "api-key=s3cret"));

        Assert.Empty(problems);
        Assert.Equal(new Uri("https://collector:4318/custom/traces"), settings.TracesEndpoint);
        Assert.Equal("api-key=s3cret", settings.TracesHeaders);
    }

    [Fact]
    public void Read_MetricsEndpointAndHeaders_KeptAsGiven()
    {
        var (settings, problems) = Read(("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://collector:4318/custom/metrics"), ("OTEL_EXPORTER_OTLP_METRICS_HEADERS", "tenant=a"));

        Assert.Empty(problems);
        Assert.Equal(new Uri("http://collector:4318/custom/metrics"), settings.MetricsEndpoint);
        Assert.Equal("tenant=a", settings.MetricsHeaders);
        Assert.Null(settings.TracesEndpoint);
    }

    private static (OpenTelemetrySettings Settings, List<string> Problems) Read(params (string Name, string? Value)[] values)
    {
        var problems = new List<string>();
        var map = values.ToDictionary(v => v.Name, v => v.Value);
        var settings = OpenTelemetrySettings.Read(new SettingReader(name => map.GetValueOrDefault(name), problems), problems);
        return (settings, problems);
    }
}
