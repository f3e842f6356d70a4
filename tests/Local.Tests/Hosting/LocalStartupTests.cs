using System.Diagnostics;
using Updraft.Local.Hosting;
using Updraft.Shared.Hosting;
using Updraft.Tests.Common;

namespace Updraft.Local.Tests.Hosting;

/// <summary>Bad settings and routes files stop the local autoscaler at start-up, each with a message naming what to fix.</summary>
public sealed class LocalStartupTests : IDisposable
{
    private const string Workload = """
        apiVersion: local.updraft.dev/v1alpha1
        kind: LocalWorkload
        metadata: {name: app, namespace: dev}
        spec:
          command: [bash, -c, "exec sleep 600"]

        """;

    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("local-startup-");

    private string RoutesFile(string yaml)
    {
        var path = Path.Combine(_directory.FullName, "routes.yaml");
        File.WriteAllText(path, yaml);
        return path;
    }

    private static IReadOnlyList<string> Problems(Dictionary<string, string?> settings) =>
        Assert.Throws<StartupProblemsException>(() => LocalApplication.Build([], settings)).Problems;

    [Fact]
    public void Build_NoRoutesFile_NamesTheSetting() =>
        Assert.Equal(["UPDRAFT_ROUTES_FILE (--routes) is required: the routes file with the LocalWorkload documents to run"], Problems([]));

    [Fact]
    public void Build_RoutesFileMissing_SaysItIsNotAFile()
    {
        var missing = Path.Combine(_directory.FullName, "nope.yaml");

        Assert.Equal([$"UPDRAFT_ROUTES_FILE=\"{missing}\" (--routes) is not a file"], Problems(new() { ["UPDRAFT_ROUTES_FILE"] = missing }));
    }

    [Theory]
    [InlineData("UPDRAFT_LOCAL_SCALER", "scaler", "UPDRAFT_LOCAL_SCALER=\"scaler\" (--scaler) is not a valid scaler address; use host:port (IPv6 as [addr]:port)")]
    [InlineData("UPDRAFT_LOCAL_SCALER", "[::1:9091", "UPDRAFT_LOCAL_SCALER=\"[::1:9091\" (--scaler) is not a valid scaler address; use host:port (IPv6 as [addr]:port)")]
    [InlineData("UPDRAFT_LOCAL_PORT", "70000", "UPDRAFT_LOCAL_PORT=\"70000\" is not a valid port; use a number from 1 to 65535, or 0 to pick a free port")]
    [InlineData("UPDRAFT_BIND_ADDRESS", "everywhere", "UPDRAFT_BIND_ADDRESS=\"everywhere\" is not valid; use an IP address, localhost, or * for all interfaces")]
    public void Build_BadSetting_NamesItAndWhatIsAllowed(string name, string value, string expected) =>
        Assert.Equal([expected], Problems(new() { ["UPDRAFT_ROUTES_FILE"] = RoutesFile(Workload), [name] = value }));

    [Fact]
    public void Build_RoutesFileWithProblems_OneLinePerProblem()
    {
        var file = RoutesFile(Workload.Replace("command: [bash, -c, \"exec sleep 600\"]", "command: []\n  maxReplicaCount: 0", StringComparison.Ordinal));

        var problems = Problems(new() { ["UPDRAFT_ROUTES_FILE"] = file });

        Assert.Equal(2, problems.Count);
        Assert.All(problems, p => Assert.StartsWith(file + ": document 1 (LocalWorkload dev/app): spec.", p, StringComparison.Ordinal));
    }

    [Fact]
    public void Build_RoutesFileWithoutWorkloads_SaysThereIsNothingToRun()
    {
        var file = RoutesFile("""
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {name: app, namespace: dev}
            spec:
              target: {service: 127.0.0.1, port: 8080}
              scalingMetric: {concurrency: {targetValue: 10}}

            """);

        Assert.Equal([$"{file} declares no LocalWorkload: nothing to run (see README, \"Local scale-to-zero\")"], Problems(new() { ["UPDRAFT_ROUTES_FILE"] = file }));
    }

    [Fact]
    public async Task Process_BadSetting_ExitsWithCodeTwoAndOneLine()
    {
        var configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!)!;
        var dll = Path.Combine(Repository.Root(), "src", "Local", "bin", configuration, "net10.0", "Updraft.Local.dll");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { dll, "--routes", RoutesFile(Workload), "--scaler", "nowhere" })
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        var output = process.StandardOutput.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);

        Assert.Equal(2, process.ExitCode);
        Assert.Equal("updraft-local: UPDRAFT_LOCAL_SCALER=\"nowhere\" (--scaler) is not a valid scaler address; use host:port (IPv6 as [addr]:port)\n", await error);
        Assert.Equal("", await output);
    }

    public void Dispose() => _directory.Delete(recursive: true);
}
