using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Updraft.ExternalScaler.Hosting;
using Updraft.Protos.ExternalScaler;
using Updraft.Shared.Hosting;
using Scaler = Updraft.Protos.ExternalScaler.ExternalScaler;

namespace Updraft.ExternalScaler.Tests.Hosting;

/// <summary>How the scaler starts: without routes (backlog sources only), and with bad settings.</summary>
public sealed class ScalerStartupTests
{
    private static Dictionary<string, string?> Settings(params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    [Fact]
    public async Task Start_NoRoutesFileNoInterceptors_ReadyAndHttpTriggersNameTheMissingRoute()
    {
        await using var scaler = ScalerApplication.Build([], Settings());
        await scaler.StartAsync();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{ScalerApplication.BoundPorts(scaler)[0]}");
        var reference = new ScaledObjectRef { Name = "so", Namespace = "default", ScalerMetadata = { ["interceptorRoute"] = "app" } };

        var ready = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest { Service = ScalerApplication.ReadinessService });
        var spec = await new Scaler.ExternalScalerClient(channel).GetMetricSpecAsync(reference);
        var missing = await Assert.ThrowsAsync<RpcException>(async () =>
            await new Scaler.ExternalScalerClient(channel).GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference }));

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, ready.Status);
        Assert.Equal("http_app_concurrency", spec.MetricSpecs.Single().MetricName);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Contains("default/app", missing.Status.Detail, StringComparison.Ordinal);
        await scaler.StopAsync();
    }

    [Theory]
    [InlineData("KEDA_HTTP_QUEUE_TICK_DURATION", "abc", "KEDA_HTTP_QUEUE_TICK_DURATION=\"abc\" is not valid")]
    [InlineData("KEDA_HTTP_SCALER_PORT", "70000", "KEDA_HTTP_SCALER_PORT=\"70000\" is not a valid port")]
    [InlineData("UPDRAFT_INTERCEPTORS", "nohost", "UPDRAFT_INTERCEPTORS: \"nohost\" is not a valid interceptor admin address")]
    [InlineData("UPDRAFT_BIND_ADDRESS", "not-an-ip", "UPDRAFT_BIND_ADDRESS=\"not-an-ip\" is not valid")]
    public void Build_BadSetting_FailsNamingTheVariableAndTheAllowedForm(string variable, string value, string expected)
    {
        var failure = Assert.Throws<StartupProblemsException>(() => ScalerApplication.Build([], Settings((variable, value))));

        Assert.Contains(failure.Problems, problem => problem.StartsWith(expected, StringComparison.Ordinal) && problem.Contains("use ", StringComparison.Ordinal));
    }
}
