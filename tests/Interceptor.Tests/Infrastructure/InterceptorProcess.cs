using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>A temporary directory, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("updraft-startup-").FullName;

    public void Write(string name, string content) => File.WriteAllText(System.IO.Path.Combine(Path, name), content);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// <c>dotnet Updraft.Interceptor.dll</c> (copied next to the test assembly by the project reference) with only the
/// given settings: every port 0, loopback only. Killed by its process id on dispose if it is still running.
/// </summary>
internal sealed partial class InterceptorProcess : IAsyncDisposable
{
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(60);
    // The test process itself runs with inline socket completions (inline-io.runsettings); the child decides its own.
    private static readonly string[] ClearedPrefixes = ["KEDA_", "UPDRAFT_", "OTEL_", "ASPNETCORE_", "DOTNET_ENVIRONMENT", "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"];

    private readonly Process _process;
    private readonly List<string> _stdout = [];
    private readonly List<string> _stderr = [];

    private InterceptorProcess(Process process)
    {
        _process = process;
    }

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> StdoutLines => Snapshot(_stdout);

    public IReadOnlyList<string> StderrLines
    {
        get
        {
            lock (_stderr)
            {
                return [.. _stderr];
            }
        }
    }

    /// <param name="program">Another Updraft binary copied next to the tests (the scaler) to run the same way.</param>
    public static InterceptorProcess Start(string workingDirectory, string[] args, Dictionary<string, string>? settings = null, string program = "Updraft.Interceptor.dll")
    {
        var dll = Path.Combine(AppContext.BaseDirectory, program);
        Assert.True(File.Exists(dll), $"{dll} is missing");
        var info = new ProcessStartInfo(DotnetHost())
        {
            WorkingDirectory = workingDirectory,
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

        info.Environment["KEDA_HTTP_PROXY_PORT"] = "0";
        info.Environment["KEDA_HTTP_ADMIN_PORT"] = "0";
        info.Environment["OTEL_PROM_EXPORTER_PORT"] = "0";
        info.Environment["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1";
        info.Environment["UPDRAFT_LOG_LEVEL"] = "Information";
        foreach (var (key, value) in settings ?? [])
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        var result = new InterceptorProcess(process);
        process.OutputDataReceived += (_, e) => Add(result._stdout, e.Data);
        process.ErrorDataReceived += (_, e) => Add(result._stderr, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>Runs the interceptor until it exits (at most a minute) and returns its exit code and output lines.</summary>
    public static async Task<(int ExitCode, IReadOnlyList<string> StderrLines, IReadOnlyList<string> StdoutLines)> RunToExitAsync(string workingDirectory, string[] args, Dictionary<string, string>? settings = null, string program = "Updraft.Interceptor.dll")
    {
        await using var process = Start(workingDirectory, args, settings, program);
        using var timeout = new CancellationTokenSource(ExitTimeout);
        try
        {
            await process._process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"The interceptor did not exit within {ExitTimeout}; stdout: {string.Join("\n", Snapshot(process._stdout))}");
        }

        return (process._process.ExitCode, process.StderrLines, process.StdoutLines);
    }

    /// <summary>Sends SIGTERM, as the kubelet does before it kills a pod.</summary>
    public void Terminate()
    {
        using var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    /// <summary>Sends SIGKILL (a crash or an OOM kill: no drain, no goodbye) and waits for the exit.</summary>
    public async Task KillAsync()
    {
        using (var kill = Process.Start("kill", ["-KILL", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
            Assert.Equal(0, kill.ExitCode);
        }

        await WaitForExitAsync();
    }

    /// <summary>Waits (at most a minute) for the process to exit and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        using var timeout = new CancellationTokenSource(ExitTimeout);
        await _process.WaitForExitAsync(timeout.Token);
        return _process.ExitCode;
    }

    /// <summary>Waits for the start-up log line and returns the bound proxy and admin ports.</summary>
    public async Task<(int Proxy, int Admin)> WaitForPortsAsync()
    {
        var line = await WaitForStdoutAsync(ListeningLine());
        var match = ListeningLine().Match(line);
        return (int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Waits (20 s cap) for a stdout line matching <paramref name="pattern"/> and returns it.</summary>
    public async Task<string> WaitForStdoutAsync(Regex pattern)
    {
        string? found = null;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((found = Snapshot(_stdout).FirstOrDefault(pattern.IsMatch)) is null && !_process.HasExited)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until the interceptor logs a line matching {pattern}.");
            }

            await Task.Delay(20);
        }

        if (found is null)
        {
            Assert.Fail($"The interceptor exited ({_process.ExitCode}) before logging {pattern}: {string.Join("\n", Snapshot(_stderr))}");
        }

        return found;
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var timeout = new CancellationTokenSource(ExitTimeout);
                await _process.WaitForExitAsync(timeout.Token);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
        finally
        {
            _process.Dispose();
        }
    }

    // The dotnet host that runs the tests (the CLI sets DOTNET_HOST_PATH), else the one on PATH.
    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
        {
            return host;
        }

        return Environment.ProcessPath is { } current && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }

    private static List<string> Snapshot(List<string> lines)
    {
        lock (lines)
        {
            return [.. lines];
        }
    }

    private static void Add(List<string> lines, string? line)
    {
        if (string.IsNullOrEmpty(line))
        {
            return;
        }

        lock (lines)
        {
            lines.Add(line);
        }
    }

    [GeneratedRegex(@"Interceptor listening: proxy port ([0-9]+), admin port ([0-9]+)")]
    private static partial Regex ListeningLine();
}
