using System.Text.RegularExpressions;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Updraft.ExternalScaler.Hosting;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using Updraft.Shared.Hosting;
using Updraft.Tests.Common;
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

    private const string ScalerProgram = "Updraft.ExternalScaler.dll";

    // The scaler as users run it (a child process): both files took it down (stack overflow, exit 134; gigabytes for
    // the alias bomb) before it could say why.
    [Theory]
    [InlineData("brackets")]
    [InlineData("alias bomb")]
    public async Task Start_HostileRoutesFile_ExitsWith2AndOneLineNamingTheLimit(string hostile)
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", hostile == "brackets" ? HostileYaml.NestedBrackets : HostileYaml.AliasBomb(port: 1));

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, ["--routes", "routes.yaml"], new() { ["KEDA_HTTP_SCALER_PORT"] = "0" }, ScalerProgram);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal([$"updraft-scaler: routes.yaml: {(hostile == "brackets" ? HostileYaml.NestedBracketsProblem : HostileYaml.AliasBombProblem)}"], result.StderrLines);
    }

    [Fact]
    public async Task Start_GrpcPortInUse_ExitsWith2SayingWhichSettingsMoveIt_WithoutACrashOnTheWayOut()
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        var port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", RoutesYaml.InterceptorRoute("app", 1, "app.example.com"));

        var result = await InterceptorProcess.RunToExitAsync(
            directory.Path,
            ["--routes", "routes.yaml"],
            new() { ["KEDA_HTTP_SCALER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture), ["OTEL_PROM_EXPORTER_PORT"] = "0" },
            ScalerProgram);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith("updraft-scaler: ", line, StringComparison.Ordinal);
        Assert.Contains("Choose free ports with KEDA_HTTP_SCALER_PORT", line, StringComparison.Ordinal);
        // The loops that had started (the routes file watch, the count polling) stop before the host is disposed.
        Assert.DoesNotContain(result.StdoutLines, l => l.Contains("crit", StringComparison.OrdinalIgnoreCase) || l.Contains("Unhandled", StringComparison.Ordinal) || l.Contains("ObjectDisposedException", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Reload_HostileFilesThenEmptyFile_KeepsTheRouteUntilWarningItIsGone()
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", RoutesYaml.InterceptorRoute("app", 1, "app.example.com"));
        await using var scaler = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"], new() { ["KEDA_HTTP_SCALER_PORT"] = "0" }, ScalerProgram);
        await scaler.WaitForStdoutAsync(new Regex("Loaded 1 routes from routes.yaml"));

        directory.Write("routes.yaml", HostileYaml.NestedBrackets);
        await scaler.WaitForStdoutAsync(new Regex(Regex.Escape("was not applied; the previous routes stay in force: " + HostileYaml.NestedBracketsProblem)));
        directory.Write("routes.yaml", HostileYaml.AliasBomb(port: 1));
        await scaler.WaitForStdoutAsync(new Regex(Regex.Escape("was not applied; the previous routes stay in force: " + HostileYaml.AliasBombProblem)));
        directory.Write("routes.yaml", "");
        var warning = await scaler.WaitForStdoutAsync(new Regex("now has no routes"));

        // "it had 1": the route stayed in force through both hostile versions.
        Assert.Contains("warn: ", warning, StringComparison.Ordinal);
        Assert.EndsWith("Routes file routes.yaml now has no routes (it had 1); HTTP triggers get NotFound until routes are added", warning, StringComparison.Ordinal);
        Assert.False(scaler.HasExited);
        Assert.Empty(scaler.StderrLines);
    }
}
