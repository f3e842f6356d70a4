using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;

namespace Updraft.Operator.Tests.Infrastructure;

/// <summary>
/// <c>dotnet Updraft.Operator.dll</c> (copied next to the test assembly by the project reference) with only the given
/// settings and a clean environment. Killed by its process id on dispose if it is still running.
/// </summary>
internal sealed partial class OperatorProcess : IAsyncDisposable
{
    /// <summary>What the operator logs once start-up is over (Log.Started, event 5001).</summary>
    public const string StartedText = "Operator started: ";

    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);
    private static readonly string[] ClearedPrefixes = ["KEDA_", "KEDAHTTP_", "UPDRAFT_", "KUBECONFIG", "KUBERNETES_", "ASPNETCORE_", "DOTNET_ENVIRONMENT", "OTEL_"];

    private readonly Process _process;
    private readonly List<string> _output = [];
    private readonly List<string> _stderr = [];

    private OperatorProcess(Process process)
    {
        _process = process;
    }

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything it wrote so far, stdout and stderr.</summary>
    public IReadOnlyList<string> Output
    {
        get
        {
            lock (_output)
            {
                return [.. _output];
            }
        }
    }

    /// <summary>Only what it wrote to stderr.</summary>
    public IReadOnlyList<string> StderrLines
    {
        get
        {
            lock (_output)
            {
                return [.. _stderr];
            }
        }
    }

    /// <summary>Drops the test host's KEDA, Updraft, Kubernetes and telemetry settings from a child's environment.</summary>
    public static void CleanEnvironment(IDictionary<string, string?> environment)
    {
        foreach (var key in environment.Keys.Where(k => ClearedPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal))).ToList())
        {
            environment.Remove(key);
        }
    }

    /// <param name="settings">Set (a null value removes the variable).</param>
    /// <param name="args">Command-line arguments.</param>
    public static OperatorProcess Start(IReadOnlyDictionary<string, string?> settings, params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Updraft.Operator.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing");
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        CleanEnvironment(info.Environment);
        info.Environment["UPDRAFT_LOG_LEVEL"] = "info";
        foreach (var (key, value) in settings)
        {
            if (value is null)
            {
                info.Environment.Remove(key);
            }
            else
            {
                info.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = info };
        var result = new OperatorProcess(process);
        process.OutputDataReceived += (_, e) => result.Add(e.Data, stderr: false);
        process.ErrorDataReceived += (_, e) => result.Add(e.Data, stderr: true);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>Waits for the start-up line and returns the metrics port.</summary>
    public async Task<int> WaitForMetricsPortAsync()
    {
        var line = await WaitForLineAsync(StartedLine(), TimeSpan.FromSeconds(30));
        return int.Parse(StartedLine().Match(line).Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public bool Logged(string text) => Output.Any(line => line.Contains(text, StringComparison.Ordinal));

    /// <summary>Waits (bounded) for a line matching <paramref name="pattern"/>.</summary>
    public async Task<string> WaitForLineAsync(Regex pattern, TimeSpan timeout)
    {
        var elapsed = Stopwatch.StartNew();
        while (true)
        {
            if (Output.FirstOrDefault(pattern.IsMatch) is { } found)
            {
                return found;
            }

            if (_process.HasExited)
            {
                Assert.Fail($"The operator exited ({_process.ExitCode}) before logging {pattern}: {string.Join("\n", Output)}");
            }

            if (elapsed.Elapsed > timeout)
            {
                Assert.Fail($"The operator did not log {pattern} within {timeout.TotalSeconds:0} s: {string.Join("\n", Output)}");
            }

            await Task.Delay(20);
        }
    }

    /// <summary>SIGKILL: no chance to release the lease.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM, as the kubelet sends before it kills a pod.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cancel.Token);
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
                await _process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (InvalidOperationException)
        {
        }
        finally
        {
            _process.Dispose();
        }
    }

    /// <summary>
    /// Runs the operator until it exits (bounded) with valid defaults (a namespace, a readable kubeconfig, ports 0 on
    /// loopback, a HOME of its own so no kubeconfig of the machine is found) and then <paramref name="settings"/>;
    /// fails if it starts instead.
    /// </summary>
    public static async Task<(int ExitCode, IReadOnlyList<string> StderrLines)> RunToExitAsync(string[] args, Dictionary<string, string?> settings)
    {
        var home = Directory.CreateTempSubdirectory("updraft-operator-home-").FullName;
        try
        {
            var kubeconfig = Path.Combine(home, "kubeconfig");
            await File.WriteAllTextAsync(kubeconfig, UnusedKubeconfig);
            var all = new Dictionary<string, string?>
            {
                ["HOME"] = home,
                ["KEDA_HTTP_OPERATOR_NAMESPACE"] = "updraft-system",
                ["UPDRAFT_KUBECONFIG"] = kubeconfig,
                ["UPDRAFT_OPERATOR_METRICS_BIND_ADDRESS"] = "127.0.0.1:0",
                ["UPDRAFT_OPERATOR_HEALTH_PROBE_BIND_ADDRESS"] = "127.0.0.1:0",
            };
            foreach (var (key, value) in settings)
            {
                all[key] = value;
            }

            await using var process = Start(all, args);
            var elapsed = Stopwatch.StartNew();
            while (!process.HasExited)
            {
                Assert.False(process.Logged(StartedText), $"The operator started instead of stopping at start-up: {string.Join("\n", process.Output)}");
                Assert.True(elapsed.Elapsed < ExitTimeout, $"The operator did not exit within {ExitTimeout}: {string.Join("\n", process.Output)}");
                await Task.Delay(20);
            }

            var code = await process.WaitForExitAsync(ExitTimeout);
            return (code, process.StderrLines);
        }
        finally
        {
            Directory.Delete(home, recursive: true);
        }
    }

    private void Add(string? line, bool stderr)
    {
        if (string.IsNullOrEmpty(line))
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
            if (stderr)
            {
                _stderr.Add(line);
            }
        }
    }

    /// <summary>A well-formed kubeconfig for a server that is never contacted (start-up fails before).</summary>
    private const string UnusedKubeconfig = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: test
          cluster:
            server: https://127.0.0.1:1
        users:
        - name: test
          user:
            token: test
        contexts:
        - name: test
          context:
            cluster: test
            user: test
        current-context: test
        """;

    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
        {
            return host;
        }

        return Environment.ProcessPath is { } current && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }

    [GeneratedRegex(@"Operator started: .* metrics port (\d+),")]
    private static partial Regex StartedLine();
}
