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
    private static readonly string[] ClearedPrefixes = ["KEDA_", "KEDAHTTP_", "UPDRAFT_", "KUBECONFIG", "KUBERNETES_", "ASPNETCORE_", "DOTNET_ENVIRONMENT"];

    private readonly Process _process;
    private readonly List<string> _output = [];

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

        foreach (var key in info.Environment.Keys.Where(k => ClearedPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal))).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in settings)
        {
            info.Environment[key] = value;
        }

        info.Environment["UPDRAFT_LOG_LEVEL"] = "info";
        var process = new Process { StartInfo = info };
        var result = new OperatorProcess(process);
        process.OutputDataReceived += (_, e) => result.Add(e.Data);
        process.ErrorDataReceived += (_, e) => result.Add(e.Data);
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

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }
    }

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
