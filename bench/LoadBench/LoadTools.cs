using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Updraft.Bench.Load;

/// <summary>One wrk run: closed loop, a fixed number of keep-alive connections, as fast as the target answers.</summary>
internal sealed record WrkRun(double RequestsPerSecond, long Requests, long Errors, double P50Ms, double P99Ms, double P999Ms);

/// <summary>One h2load run over h2c.</summary>
internal sealed record H2LoadRun(double RequestsPerSecond, long Succeeded, long Failed);

/// <summary>Runs wrk and h2load and reads their results.</summary>
internal static partial class LoadTools
{
    private const string WrkMarker = "UPDRAFT-WRK ";

    // wrk's done() hook: the summary as one JSON line, so nothing depends on wrk's human-readable layout.
    private const string WrkScript = """
        done = function(summary, latency, requests)
          local e = summary.errors
          io.write(string.format(
            'UPDRAFT-WRK {"requests":%d,"durationUs":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"status":%d,"p50Us":%d,"p99Us":%d,"p999Us":%d}\n',
            summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
            latency:percentile(50), latency:percentile(99), latency:percentile(99.9)))
        end
        """;

    /// <param name="postBytes">0: GET; otherwise every request is a POST with a body of this many bytes.</param>
    public static string WriteWrkScript(string directory, int postBytes = 0)
    {
        var path = Path.Combine(directory, "report.lua");
        var post = postBytes > 0
            ? string.Create(CultureInfo.InvariantCulture, $"wrk.method = \"POST\"\nwrk.body = string.rep(\"x\", {postBytes})\nwrk.headers[\"Content-Type\"] = \"application/octet-stream\"\n")
            : "";
        File.WriteAllText(path, post + WrkScript);
        return path;
    }

    public static WrkRun Wrk(string script, string url, string host, int threads, int connections, int seconds)
    {
        var output = ChildProcess.Run("wrk", [
            "-t", Invariant(threads), "-c", Invariant(connections), "-d", $"{Invariant(seconds)}s", "--timeout", "5s",
            "-H", $"Host: {host}", "-s", script, url], TimeSpan.FromSeconds(seconds + 60));
        var line = output.Split('\n').FirstOrDefault(l => l.StartsWith(WrkMarker, StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"wrk printed no summary:{Environment.NewLine}{output}");
        using var json = JsonDocument.Parse(line[WrkMarker.Length..]);
        var root = json.RootElement;
        long Get(string name) => root.GetProperty(name).GetInt64();
        var requests = Get("requests");
        var errors = Get("connect") + Get("read") + Get("write") + Get("timeout") + Get("status");
        return new WrkRun(
            Math.Round(requests / (Get("durationUs") / 1e6), 0),
            requests,
            errors,
            Get("p50Us") / 1000.0,
            Get("p99Us") / 1000.0,
            Get("p999Us") / 1000.0);
    }

    /// <summary>h2load with prior knowledge (h2c) for a fixed duration after a warm-up second.</summary>
    /// <param name="bodyFile">When set, every request is a POST of this file's bytes.</param>
    public static H2LoadRun H2Load(string url, string host, int threads, int connections, int streams, int seconds, string? bodyFile = null)
    {
        var output = ChildProcess.Run("h2load", [
            "-t", Invariant(threads), "-c", Invariant(connections), "-m", Invariant(streams),
            "-D", Invariant(seconds), "--warm-up-time=1", "-H", $":authority: {host}", .. Body(bodyFile), url], TimeSpan.FromSeconds(seconds + 60));
        return ParseH2Load(output);
    }

    /// <summary>True when the target answers h2c at all: a few requests over one connection, bounded by a timeout.</summary>
    public static bool SupportsH2c(string url, string host, string? bodyFile = null)
    {
        try
        {
            var output = ChildProcess.Run("h2load", ["-n", "10", "-c", "1", "-H", $":authority: {host}", .. Body(bodyFile), url], TimeSpan.FromSeconds(20));
            var run = ParseH2Load(output);
            return run.Succeeded == 10;
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            return false;
        }
    }

    public static string Version(string file, string argument)
    {
        try
        {
            var output = ChildProcess.Run(Find(file), [argument], TimeSpan.FromSeconds(10));
            return output.Split('\n').FirstOrDefault(l => l.Trim().Length > 0)?.Trim() ?? "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "missing";
        }
    }

    /// <summary>The full path of a tool: PATH first, then the sbin directories (nginx and haproxy live in /usr/sbin, which a non-root PATH may lack).</summary>
    public static string Find(string tool)
    {
        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/local/sbin", "/usr/sbin", "/sbin"]);
        return directories.Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists) ?? tool;
    }

    private static string[] Body(string? bodyFile) => bodyFile is null ? [] : ["-d", bodyFile];

    private static H2LoadRun ParseH2Load(string output)
    {
        // "finished in 5.00s, 61234.50 req/s, 2.10MB/s" and "requests: 10 total, 10 started, 10 done, 10 succeeded, 0 failed, ..."
        var finished = FinishedLine().Match(output);
        var requests = RequestsLine().Match(output);
        if (!finished.Success || !requests.Success)
        {
            throw new InvalidOperationException($"h2load printed no summary:{Environment.NewLine}{output}");
        }

        return new H2LoadRun(
            Math.Round(double.Parse(finished.Groups[1].Value, CultureInfo.InvariantCulture), 0),
            long.Parse(requests.Groups[1].Value, CultureInfo.InvariantCulture),
            long.Parse(requests.Groups[2].Value, CultureInfo.InvariantCulture));
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"finished in [0-9.]+\w*, ([0-9.]+) req/s")]
    private static partial Regex FinishedLine();

    [GeneratedRegex(@"requests: \d+ total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed")]
    private static partial Regex RequestsLine();
}
