using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Updraft.Tests.Common;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Chart.Tests.Infrastructure;

/// <summary>The result of one helm or kubectl run.</summary>
internal sealed record ToolResult(int ExitCode, string Stdout, string Stderr)
{
    public string Output => Stdout + Stderr;

    public ToolResult EnsureSuccess(string what)
    {
        Assert.True(ExitCode == 0, $"{what} failed (exit code {ExitCode}):\n{Output}");
        return this;
    }
}

/// <summary>
/// helm v4 and kubectl as <c>tests/kube/helm.sh install</c> cached them, run with their own temporary HOME (no user
/// config, no repositories) against <c>charts/updraft</c>. Without the binaries the tests fail with the command that
/// installs them, rather than skip.
/// </summary>
internal static class Helm
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromSeconds(120);
    private static readonly Lazy<(string Helm, string Kubectl)> Paths = new(FindTools);
    private static readonly string Home = Directory.CreateTempSubdirectory("updraft-helm-home-").FullName;

    public static string Chart => Path.Combine(Repository.Root(), "charts", "updraft");

    public static Task<ToolResult> RunAsync(params string[] args) => RunToolAsync(Paths.Value.Helm, args);

    public static Task<ToolResult> KubectlAsync(params string[] args) => RunToolAsync(Paths.Value.Kubectl, args);

    /// <summary><c>helm template</c> of the chart with <paramref name="values"/> (each a <c>--set</c> argument); fails the test on an error.</summary>
    public static async Task<List<JsonObject>> TemplateAsync(IEnumerable<string> values, params string[] extra)
    {
        var args = new List<string> { "template", "updraft", Chart, "--namespace", "updraft" };
        args.AddRange(SetArguments(values));
        args.AddRange(extra);
        var result = (await RunAsync([.. args])).EnsureSuccess("helm " + string.Join(' ', args));
        return RealApiServer.YamlToJson(result.Stdout);
    }

    public static IEnumerable<string> SetArguments(IEnumerable<string> values)
    {
        foreach (var value in values)
        {
            yield return "--set";
            yield return value;
        }
    }

    private static (string Helm, string Kubectl) FindTools()
    {
        var cache = Path.GetDirectoryName(Path.GetDirectoryName(RealApiServer.CachedBinary()))!;
        var directory = Path.Combine(cache, "helm-v4.1.4-kubectl-v1.34.5");
        var helm = Path.Combine(directory, "helm");
        var kubectl = Path.Combine(directory, "kubectl");
        if (!File.Exists(helm) || !File.Exists(kubectl))
        {
            throw new InvalidOperationException(
                $"helm and kubectl are not installed ({directory}). Run `tests/kube/helm.sh install` once (`./updraft.sh test` does it).");
        }

        return (helm, kubectl);
    }

    private static async Task<ToolResult> RunToolAsync(string tool, string[] args)
    {
        var start = new ProcessStartInfo(tool)
        {
            WorkingDirectory = Repository.Root(),
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["HOME"] = Home;
        start.Environment["HELM_CACHE_HOME"] = Path.Combine(Home, "cache");
        start.Environment["HELM_CONFIG_HOME"] = Path.Combine(Home, "config");
        start.Environment["HELM_DATA_HOME"] = Path.Combine(Home, "data");
        start.Environment.Remove("KUBECONFIG");
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + tool);
        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        process.OutputDataReceived += (_, e) => Append(stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Append(stderr, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var timeout = new CancellationTokenSource(RunTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(tool)} {string.Join(' ', args)} did not finish within {RunTimeout.TotalSeconds:0} s");
        }

        process.WaitForExit();
        lock (stdout)
        {
            lock (stderr)
            {
                return new ToolResult(process.ExitCode, stdout.ToString(), stderr.ToString());
            }
        }
    }

    private static void Append(StringBuilder builder, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (builder)
        {
            builder.AppendLine(line);
        }
    }
}
