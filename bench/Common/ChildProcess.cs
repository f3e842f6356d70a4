using System.Collections.Concurrent;

namespace Updraft.Bench;

/// <summary>A child process of this benchmark, stopped by its process id when disposed.</summary>
internal sealed class ChildProcess : IDisposable
{
    /// <summary>The most output lines kept when capturing (older ones are dropped, still counted).</summary>
    private const int KeptLines = 20_000;

    private readonly ConcurrentQueue<string> _output = new();
    private long _outputLines;

    private ChildProcess(System.Diagnostics.Process process) => Process = process;

    public System.Diagnostics.Process Process { get; }

    /// <summary>Lines written to stdout and stderr so far (only when started with <c>captureOutput</c>).</summary>
    public long OutputLines => Interlocked.Read(ref _outputLines);

    /// <param name="repo">The checkout; the process runs there.</param>
    /// <param name="dll">The build output to run with <c>dotnet</c>, relative to <paramref name="repo"/>.</param>
    /// <param name="environment">Variables set on top of this process's environment.</param>
    /// <param name="captureOutput">Keep stdout and stderr in memory (<see cref="Output"/>) instead of passing them through to the console.</param>
    /// <param name="lineReceived">With <paramref name="captureOutput"/>: called with each line as it arrives, on a reader thread.</param>
    /// <param name="arguments">Given to the program after the dll.</param>
    public static ChildProcess Start(string repo, string dll, Dictionary<string, string> environment, bool captureOutput = false, Action<string>? lineReceived = null, IReadOnlyList<string>? arguments = null)
    {
        var path = Path.Combine(repo, dll);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"build the solution first ({dll} is missing)", path);
        }

        var start = new System.Diagnostics.ProcessStartInfo("dotnet")
        {
            ArgumentList = { path },
            WorkingDirectory = repo,
            UseShellExecute = false,
            RedirectStandardOutput = captureOutput,
            RedirectStandardError = captureOutput,
        };
        foreach (var argument in arguments ?? [])
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        var child = new ChildProcess(System.Diagnostics.Process.Start(start)!);
        if (captureOutput)
        {
            child.Process.OutputDataReceived += (_, line) => child.Keep(line.Data, lineReceived);
            child.Process.ErrorDataReceived += (_, line) => child.Keep(line.Data, lineReceived);
            child.Process.BeginOutputReadLine();
            child.Process.BeginErrorReadLine();
        }

        return child;
    }

    /// <summary>The captured output lines still kept (the last <c>20,000</c>).</summary>
    public IReadOnlyList<string> Output() => [.. _output];

    /// <summary>Kept output lines containing <paramref name="text"/>.</summary>
    public int CountLines(string text) => _output.Count(line => line.Contains(text, StringComparison.Ordinal));

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(10_000);
        }

        Process.Dispose();
    }

    private void Keep(string? line, Action<string>? lineReceived)
    {
        if (line is null)
        {
            return;
        }

        lineReceived?.Invoke(line);
        Interlocked.Increment(ref _outputLines);
        _output.Enqueue(line);
        while (_output.Count > KeptLines && _output.TryDequeue(out _))
        {
        }
    }
}
