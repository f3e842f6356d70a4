using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Updraft.Bench.Load;

/// <summary>
/// A process this benchmark started: its output goes to a log file in the run's temp directory, and it is stopped by
/// its process id when disposed, on Ctrl-C and on exit (<see cref="StopAll"/>).
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private static readonly ConcurrentDictionary<int, ChildProcess> Running = new();

    private readonly Process _process;
    private readonly StreamWriter _log;

    private ChildProcess(string name, Process process, StreamWriter log, string logPath)
    {
        Name = name;
        _process = process;
        _log = log;
        LogPath = logPath;
    }

    public string Name { get; }

    public int Id => _process.Id;

    public string LogPath { get; }

    public bool HasExited => _process.HasExited;

    public static ChildProcess Start(string name, string file, IEnumerable<string> arguments, string logDirectory, IDictionary<string, string>? environment = null)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        var logPath = Path.Combine(logDirectory, $"{name}.log");
        var log = new StreamWriter(logPath) { AutoFlush = true };
        var process = new Process { StartInfo = start };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var child = new ChildProcess(name, process, log, logPath);
        Running[process.Id] = child;
        return child;
    }

    /// <summary>Stops every child that is still running (Ctrl-C, SIGTERM, normal exit).</summary>
    public static void StopAll()
    {
        foreach (var child in Running.Values)
        {
            child.Dispose();
        }
    }

    /// <summary>Runs a tool to completion (bounded by <paramref name="timeout"/>) and returns its standard output.</summary>
    public static string Run(string file, IEnumerable<string> arguments, TimeSpan timeout) => RunToExit(file, arguments, timeout).Output;

    /// <summary>
    /// Runs a tool to completion and returns its exit code and its standard output and error; past
    /// <paramref name="timeout"/> it is killed with everything it started, and a <see cref="TimeoutException"/> says so.
    /// </summary>
    public static (int ExitCode, string Output) RunToExit(string file, IEnumerable<string> arguments, TimeSpan timeout, string? workingDirectory = null)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = workingDirectory ?? "" };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(5_000);
            throw new TimeoutException($"{file} {string.Join(' ', start.ArgumentList)} did not finish within {timeout.TotalSeconds:F0} s");
        }

        process.WaitForExit();
        return (process.ExitCode, output.Result + error.Result);
    }

    /// <summary>User + system CPU time of the process so far, from /proc/&lt;pid&gt;/stat.</summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{Id}/stat");
        // Fields after the command name, which is in parentheses and may contain spaces: state is field 3, utime 14, stime 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        return ticks / (double)ClockTicks.Value;
    }

    /// <summary>A value in kB from /proc/&lt;pid&gt;/status (VmRSS, VmHWM = peak resident set), in MiB.</summary>
    public double StatusMiB(string field)
    {
        foreach (var line in File.ReadLines($"/proc/{Id}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                var kilobytes = line[(field.Length + 1)..].Trim().Split(' ')[0];
                return Math.Round(long.Parse(kilobytes, CultureInfo.InvariantCulture) / 1024.0, 1);
            }
        }

        throw new InvalidOperationException($"/proc/{Id}/status has no {field}");
    }

    public string LogTail(int lines = 20)
    {
        try
        {
            return string.Join(Environment.NewLine, File.ReadLines(LogPath).TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    public void Dispose()
    {
        if (!Running.TryRemove(Id, out _))
        {
            return;
        }

        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        lock (_log)
        {
            _log.Dispose();
        }
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            try
            {
                log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private static class ClockTicks
    {
        public static readonly long Value = Native.ClockTicks();
    }
}
