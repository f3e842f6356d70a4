using Updraft.ExternalScaler.Hosting;
using Updraft.ExternalScaler.Options;
using Updraft.Shared.Hosting;

namespace Updraft.ExternalScaler.Tests.Options;

/// <summary>How the scaler's own settings bind: defaults, and how the two stream limits relate.</summary>
public sealed class ScalerOptionsTests
{
    [Theory]
    // UPDRAFT_SCALER_MAX_STREAMS, UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION, total, per connection
    [InlineData(null, null, 20_000, 10_000)]
    [InlineData("5000", null, 5_000, 5_000)] // a connection's default limit follows a lower total
    [InlineData(null, "500", 20_000, 500)]
    [InlineData("100000", "30000", 100_000, 30_000)]
    [InlineData("7", "7", 7, 7)]
    public void Bind_StreamLimits_DefaultsAndAConnectionNeverAboveTheTotal(string? total, string? perConnection, int expectedTotal, int expectedPerConnection)
    {
        var options = Bind(("UPDRAFT_SCALER_MAX_STREAMS", total), ("UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION", perConnection));

        Assert.Empty(options.BindingProblems);
        Assert.Equal((expectedTotal, expectedPerConnection), (options.MaxStreams, options.MaxStreamsPerConnection));
    }

    [Fact]
    public void Bind_ConnectionLimitAboveTheTotalBothSet_ProblemNamingBoth()
    {
        var options = Bind(("UPDRAFT_SCALER_MAX_STREAMS", "100"), ("UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION", "200"));

        var problem = Assert.Single(options.BindingProblems);
        Assert.Equal("UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION=\"200\" is more than UPDRAFT_SCALER_MAX_STREAMS=\"100\"; use a limit per connection no higher than the total", problem);
    }

    [Theory]
    [InlineData("UPDRAFT_SCALER_MAX_STREAMS", "0", "UPDRAFT_SCALER_MAX_STREAMS=\"0\" is not valid; use a whole number from 1 to 1000000")]
    [InlineData("UPDRAFT_SCALER_MAX_STREAMS", "-5", "UPDRAFT_SCALER_MAX_STREAMS=\"-5\" is not valid; use a whole number from 1 to 1000000")]
    [InlineData("UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION", "lots", "UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION=\"lots\" is not valid; use a whole number from 1 to 1000000")]
    [InlineData("UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION", "1000001", "UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION=\"1000001\" is not valid; use a whole number from 1 to 1000000")]
    public void Build_BadStreamLimit_FailsAtStartNamingTheVariableAndTheAllowedValues(string variable, string value, string expected)
    {
        var failure = Assert.Throws<StartupProblemsException>(() => ScalerApplication.Build([], new Dictionary<string, string?>
        {
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            [variable] = value,
        }));

        Assert.Equal([expected], failure.Problems);
    }

    [Theory]
    [InlineData(null, null, "*", "*")]
    [InlineData("127.0.0.1", null, "127.0.0.1", "127.0.0.1")] // metrics follow the gRPC listener
    [InlineData("*", "localhost", "*", "localhost")] // KEDA reaches gRPC from anywhere, metrics only from the pod
    [InlineData("::1", "127.0.0.1", "::1", "127.0.0.1")]
    public void Bind_BindAddresses_MetricsFollowTheGrpcListenerUnlessSetApart(string? all, string? metrics, string expectedGrpc, string expectedMetrics)
    {
        var options = Bind(("UPDRAFT_BIND_ADDRESS", all), ("UPDRAFT_METRICS_BIND_ADDRESS", metrics));

        Assert.Empty(options.BindingProblems);
        Assert.Equal((expectedGrpc, expectedMetrics), (options.BindAddress, options.MetricsBindAddress));
    }

    [Theory]
    [InlineData("UPDRAFT_BIND_ADDRESS", "scaler.local")]
    [InlineData("UPDRAFT_METRICS_BIND_ADDRESS", "10.0.0.300")]
    public void Bind_BadBindAddress_ProblemNamingTheVariableAndTheAllowedForms(string variable, string value)
    {
        var options = Bind((variable, value));

        Assert.Equal([$"{variable}=\"{value}\" is not valid; use an IP address, localhost, or * for all interfaces"], options.BindingProblems);
    }

    [Theory]
    [InlineData(null, 3600)]
    [InlineData("60m", 3600)]
    [InlineData("30s", 30)]
    [InlineData("1s", 1)]
    [InlineData("720h", 2_592_000)]
    [InlineData("0", 0)] // off
    [InlineData("0s", 0)]
    public void Bind_ResyncPeriod_AddOnDefaultAndZeroTurnsItOff(string? value, int expectedSeconds)
    {
        var options = Bind(("KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD", value));

        Assert.Empty(options.BindingProblems);
        Assert.Equal(TimeSpan.FromSeconds(expectedSeconds), options.ResyncPeriod);
        Assert.Equal(value is not null, options.ResyncPeriodGiven);
    }

    [Theory]
    [InlineData("hourly", "KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD=\"hourly\" is not valid; use a Go duration such as 500ms, 30s, 5m or 1h30m (0s turns it off)")]
    [InlineData("-1m", "KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD=\"-1m\" is not valid; use a Go duration such as 500ms, 30s, 5m or 1h30m (0s turns it off)")]
    [InlineData("500ms", "KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD=\"500ms\" is out of range; use 0 to turn resyncs off, or a Go duration from 1s to 720h0m0s (default 60m)")]
    [InlineData("721h", "KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD=\"721h\" is out of range; use 0 to turn resyncs off, or a Go duration from 1s to 720h0m0s (default 60m)")]
    [InlineData("99999999999h", "KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD=\"99999999999h\" is not valid; use a Go duration such as 500ms, 30s, 5m or 1h30m (0s turns it off)")]
    public void Bind_BadResyncPeriod_ProblemNamingTheVariableAndTheAllowedValues(string value, string expected)
    {
        var options = Bind(("KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD", value));

        Assert.Equal([expected], options.BindingProblems);
        Assert.Equal(TimeSpan.FromMinutes(60), options.ResyncPeriod);
    }

    [Fact]
    public void Build_ResyncPeriodInStandaloneMode_FailsAtStartSayingItOnlyAppliesToKubernetesMode()
    {
        var failure = Assert.Throws<StartupProblemsException>(() => ScalerApplication.Build([], new Dictionary<string, string?>
        {
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_MODE"] = "standalone",
            ["KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD"] = "60m",
        }));

        Assert.Equal(
            ["KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD applies only in Kubernetes mode (it rebuilds the routes from the cluster's InterceptorRoutes and HTTPScaledObjects), and this scaler runs in standalone mode; unset it, or set UPDRAFT_MODE=kubernetes"],
            failure.Problems);
    }

    private static ScalerOptions Bind(params (string Name, string? Value)[] settings)
    {
        var options = new ScalerOptions();
        ScalerOptions.Bind(name => settings.FirstOrDefault(s => s.Name == name).Value, options);
        return options;
    }
}
