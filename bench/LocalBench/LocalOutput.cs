using System.Globalization;

namespace Updraft.Bench.Local;

/// <summary>
/// The local autoscaler's stdout as it arrives: its replica event lines (<c>2026-12-03T20:41:07.412Z bench/app#1
/// started pid=… port=… (scale 0->1: …)</c>) and its replicas' own lines re-printed (<c>[bench/app#1] …</c>).
/// </summary>
internal sealed class LocalOutput
{
    /// <summary>The replica program's line once Kestrel listens (bench/Backend in <c>replica</c> mode).</summary>
    public const string ListeningWord = "listening-at-unix-us";

    /// <summary>The replica program's line after each request: <c>request-us PATH accepted handler written</c>.</summary>
    public const string RequestWord = "request-us";

    private const string Workload = "bench/app#";
    private const string TimeFormat = "yyyy-MM-dd'T'HH:mm:ss.fff'Z'";
    private const int TimeLength = 24;

    /// <summary>
    /// Event times are printed in whole milliseconds, cut (not rounded): the event happened within the millisecond
    /// after the printed time, so its middle is taken.
    /// </summary>
    private static readonly TimeSpan HalfMillisecond = TimeSpan.FromTicks(TimeSpan.TicksPerMillisecond / 2);

    private readonly Lock _lock = new();
    private readonly List<string> _lines = [];

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _lines.Count;
            }
        }
    }

    public void Add(string line)
    {
        lock (_lock)
        {
            _lines.Add(line);
        }
    }

    /// <summary>The lines from <paramref name="mark"/> on (a <see cref="Count"/> taken earlier).</summary>
    public string[] Since(int mark)
    {
        lock (_lock)
        {
            return [.. _lines.Skip(mark)];
        }
    }

    /// <summary>The last <paramref name="count"/> lines, for an error message.</summary>
    public string Tail(int count)
    {
        lock (_lock)
        {
            return string.Join('\n', _lines.Skip(Math.Max(0, _lines.Count - count)));
        }
    }

    /// <summary>
    /// The first line from <paramref name="mark"/> on that <paramref name="match"/> accepts. A replica that crashed,
    /// failed, or was killed ends the wait with an error, as does <paramref name="timeout"/>.
    /// </summary>
    public async Task<string> WaitForAsync(int mark, Func<string, bool> match, string what, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            foreach (var line in Since(mark))
            {
                if (match(line))
                {
                    return line;
                }

                if (IsFailure(line))
                {
                    throw new InvalidOperationException($"waiting for {what}, the replica failed: {line}");
                }
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"timed out after {timeout.TotalSeconds:0} s waiting for {what}; the local autoscaler's last lines:\n{Tail(20)}");
            }

            await Task.Delay(5, cancellationToken);
        }
    }

    /// <summary>An event line of the benchmark's workload with this word (<c>started</c>, <c>ready</c>, <c>stopped</c>).</summary>
    public static bool IsEvent(string line, string word)
    {
        var parts = line.Split(' ', 4);
        return parts.Length >= 3 && parts[1].StartsWith(Workload, StringComparison.Ordinal) && parts[2] == word;
    }

    /// <summary>The middle of the millisecond an event line names.</summary>
    public static DateTime EventTime(string line) =>
        DateTime.ParseExact(line[..TimeLength], TimeFormat, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal) + HalfMillisecond;

    /// <summary>The replica's own <c>listening-at-unix-us N</c> line, re-printed by the autoscaler.</summary>
    public static bool IsListening(string line) => IsReplicaLine(line, ListeningWord);

    /// <summary>The replica's own <c>request-us PATH …</c> line for a request to <paramref name="path"/>.</summary>
    public static bool IsRequest(string line, string path) => IsReplicaLine(line, RequestWord + " " + path);

    /// <summary>The microsecond the line names last, as a UTC time.</summary>
    public static DateTime ListeningTime(string line) => UnixMicroseconds(line[(line.LastIndexOf(' ') + 1)..]);

    /// <summary>The accepted, handler and written times of a <c>request-us</c> line.</summary>
    public static (DateTime Accepted, DateTime Handler, DateTime Written) RequestTimes(string line)
    {
        var parts = line[(line.IndexOf(RequestWord, StringComparison.Ordinal) + RequestWord.Length)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (UnixMicroseconds(parts[1]), UnixMicroseconds(parts[2]), UnixMicroseconds(parts[3]));
    }

    private static bool IsReplicaLine(string line, string word) =>
        line.StartsWith("[" + Workload, StringComparison.Ordinal) && line.Contains("] " + word + " ", StringComparison.Ordinal);

    private static DateTime UnixMicroseconds(string text) => DateTime.UnixEpoch.AddTicks(long.Parse(text, CultureInfo.InvariantCulture) * 10);

    private static bool IsFailure(string line) =>
        IsEvent(line, "crashed") || IsEvent(line, "failed:") || IsEvent(line, "failed") || IsEvent(line, "killed:");
}
