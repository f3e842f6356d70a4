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

    private static ScalerOptions Bind(params (string Name, string? Value)[] settings)
    {
        var options = new ScalerOptions();
        ScalerOptions.Bind(name => settings.FirstOrDefault(s => s.Name == name).Value, options);
        return options;
    }
}
