using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

/// <summary>
/// A child process of this benchmark (the scaler, nats-server) with its output kept in memory, stopped by its process
/// id when disposed.
/// </summary>
internal sealed class ChildProcess : IDisposable
{
    private readonly ConcurrentQueue<string> _output = new();

    private ChildProcess(string file, IEnumerable<string> arguments, string workingDirectory, Dictionary<string, string> environment)
    {
        var start = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }

        Process = Process.Start(start) ?? throw new InvalidOperationException($"{file} did not start");
        Process.OutputDataReceived += (_, line) => Keep(line.Data);
        Process.ErrorDataReceived += (_, line) => Keep(line.Data);
        Process.BeginOutputReadLine();
        Process.BeginErrorReadLine();
    }

    public Process Process { get; }

    /// <summary>The scaler's build output, run with <c>dotnet</c>.</summary>
    public static ChildProcess StartDotnet(string repo, string dll, Dictionary<string, string> environment)
    {
        var path = Path.Combine(repo, dll);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"build the solution first ({dll} is missing)", path);
        }

        return new ChildProcess("dotnet", [path], repo, environment);
    }

    public static ChildProcess Start(string file, IEnumerable<string> arguments, string workingDirectory) => new(file, arguments, workingDirectory, []);

    /// <summary>Output lines containing <paramref name="text"/>.</summary>
    public int CountLines(string text) => _output.Count(line => line.Contains(text, StringComparison.Ordinal));

    public string Output() => string.Join('\n', _output.TakeLast(40));

    /// <summary>The process's thread count (<c>/proc/&lt;pid&gt;/status</c>).</summary>
    public int Threads() => File.ReadLines($"/proc/{Process.Id}/status")
        .Where(line => line.StartsWith("Threads:", StringComparison.Ordinal))
        .Select(line => int.Parse(line["Threads:".Length..].Trim(), CultureInfo.InvariantCulture))
        .FirstOrDefault();

    /// <summary>The process's threads by name (<c>/proc/&lt;pid&gt;/task/*/comm</c>), trailing digits dropped (<c>rdk:broker</c>).</summary>
    public Dictionary<string, int> ThreadNames()
    {
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var task in Directory.EnumerateDirectories($"/proc/{Process.Id}/task"))
        {
            try
            {
                var name = File.ReadAllText(Path.Combine(task, "comm")).Trim().TrimEnd("0123456789".ToCharArray());
                names[name] = names.GetValueOrDefault(name) + 1;
            }
            catch (IOException)
            {
                // the thread ended meanwhile
            }
        }

        return names;
    }

    /// <summary>The process's established TCP connections to any of <paramref name="remotePorts"/> on loopback.</summary>
    public int ConnectionsTo(IReadOnlySet<int> remotePorts)
    {
        var sockets = new HashSet<string>(StringComparer.Ordinal);
        foreach (var fd in Directory.EnumerateFiles($"/proc/{Process.Id}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith("socket:[", StringComparison.Ordinal))
                {
                    sockets.Add(target["socket:[".Length..^1]);
                }
            }
            catch (IOException)
            {
                // closed meanwhile
            }
        }

        // /proc/net/tcp and tcp6 (.NET sockets are dual-mode IPv6): "sl local rem st tx:rx tr:when retrnsmt uid timeout
        // inode ..."; rem is "0100007F:1F90" (or its IPv4-mapped IPv6 form), st 01 = ESTABLISHED.
        var count = 0;
        foreach (var line in File.ReadLines($"/proc/{Process.Id}/net/tcp").Skip(1).Concat(File.ReadLines($"/proc/{Process.Id}/net/tcp6").Skip(1)))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 9 && fields[3] == "01" && sockets.Contains(fields[9])
                && remotePorts.Contains(int.Parse(fields[2][(fields[2].IndexOf(':', StringComparison.Ordinal) + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture)))
            {
                count++;
            }
        }

        return count;
    }

    public void Dispose()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            Process.WaitForExit(10_000);
        }

        Process.Dispose();
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }
}
