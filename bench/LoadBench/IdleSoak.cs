using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Updraft.Bench.Load;

/// <summary>One idle sample of one interceptor, <see cref="Seconds"/> after the idle phase started.</summary>
internal sealed record IdleSample(double Seconds, double RssMiB, double RssAnonMiB, double RssFileMiB, double GcCommittedMiB, long FullCollections);

/// <summary>
/// <c>./updraft.sh soak --idle</c> (bench/README.md, "Soak"): what an interceptor that has stopped getting traffic holds
/// over time. Two interceptors with the chart's settings side by side, one as shipped and one with
/// <c>UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL=0s</c> (the baseline: the GC left to itself), each loaded with wrk for 10 s and
/// then left idle for <c>--minutes</c> but for what a cluster still sends an idle pod: a readiness and a liveness probe
/// every 10 s and a Prometheus scrape every 15 s. With <c>--aot</c> (the image's build) the shipped one's RSS must stay
/// within the 60 MB idle target for the whole second half.
/// </summary>
internal static class IdleSoak
{
    private const double IdleTargetMiB = 60;
    private const string Shipped = "shipped";
    private const string Baseline = "release-off";

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static readonly JsonSerializerOptions CamelCase = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };

    private sealed record Idler(string Name, Target Target, int AdminPort, int MetricsPort, List<IdleSample> Samples, List<string> FailedCalls);

    /// <param name="starter">Starts the backend and the interceptors.</param>
    /// <param name="build">The Native AOT publish with <c>--aot</c>; null for the JIT build.</param>
    public static int Run(string repo, string work, Targets starter, InterceptorBuild? build, string commit, Stopwatch clock, double minutes, bool smoke, string? outFile, Action<string> log)
    {
        var nativeAot = build is not null;
        var backend = starter.StartBackend();
        Idler Start(string name, string? releaseInterval)
        {
            int admin = BenchSupport.FreePort(), metrics = BenchSupport.FreePort();
            var settings = new Dictionary<string, string>
            {
                ["DOTNET_GCgen0size"] = "0x4000000", // the chart's setting
                ["KEDA_HTTP_ADMIN_PORT"] = Invariant(admin),
                ["OTEL_PROM_EXPORTER_ENABLED"] = "true",
                ["OTEL_PROM_EXPORTER_PORT"] = Invariant(metrics),
            };
            if (releaseInterval is not null)
            {
                settings["UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL"] = releaseInterval;
            }

            return new Idler(name, starter.StartInterceptor(name, name, backend.Port, routes: 1, settings, build), admin, metrics, [], []);
        }

        Idler[] idlers = [Start(Shipped, null), Start(Baseline, "0s")];

        // Traffic first, so that each GC has spent some of its first generation before the traffic stops.
        var script = LoadTools.WriteWrkScript(work);
        foreach (var idler in idlers)
        {
            var run = LoadTools.Wrk(script, $"http://127.0.0.1:{idler.Target.Port}{Targets.Path}", Targets.Host, 2, 64, smoke ? 2 : 10);
            log(Invariant($"{idler.Name}: {run.RequestsPerSecond:F0} req/s under wrk; now idle but for probes and scrapes"));
        }

        var idleStart = Stopwatch.GetTimestamp();
        double Elapsed() => Stopwatch.GetElapsedTime(idleStart).TotalSeconds;
        for (var second = 0; second <= minutes * 60; second++)
        {
            Native.SleepUntil(Native.Now() + (long)(Math.Max(0, second - Elapsed()) * 1e9));
            foreach (var idler in idlers)
            {
                if (second % 10 == 0)
                {
                    Call(idler, $"http://127.0.0.1:{idler.AdminPort}/readyz");
                    Call(idler, $"http://127.0.0.1:{idler.AdminPort}/livez");
                }

                if (second % 15 == 0)
                {
                    var metrics = Call(idler, $"http://127.0.0.1:{idler.MetricsPort}/metrics");
                    if (second % 30 == 0 && metrics is not null)
                    {
                        var process = idler.Target.Process;
                        idler.Samples.Add(new IdleSample(
                            Math.Round(Elapsed(), 1), process.StatusMiB("VmRSS"), process.StatusMiB("RssAnon"), process.StatusMiB("RssFile"),
                            Math.Round(Series(metrics, "dotnet_gc_last_collection_memory_committed_size_bytes") / (1024 * 1024), 1),
                            (long)Series(metrics, "dotnet_collection_count_total{generation=\"2\"}")));
                    }
                }
            }

            if (second % 300 == 0)
            {
                log(string.Join("   ", idlers.Select(i => i.Samples.LastOrDefault() is { } s ? Invariant($"{i.Name}: RSS {s.RssMiB:F1} MiB (anonymous {s.RssAnonMiB:F1})") : i.Name)));
            }
        }

        var shipped = idlers[0];
        var secondHalf = shipped.Samples.Where(s => s.Seconds >= minutes * 30).ToList();
        var highest = secondHalf.Count > 0 ? secondHalf.Max(s => s.RssMiB) : double.NaN;
        var failedCalls = idlers.Sum(i => i.FailedCalls.Count);
        var withinTarget = highest <= IdleTargetMiB / 1.048576; // 60 MB in MiB
        var passed = failedCalls == 0 && (!nativeAot || withinTarget);

        var markdown = Markdown(commit, nativeAot, minutes, idlers, highest, withinTarget, clock.Elapsed);
        var json = new JsonObject
        {
            ["commit"] = commit,
            ["date"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["cores"] = Environment.ProcessorCount,
            ["build"] = nativeAot ? "native-aot" : "jit",
            ["minutes"] = minutes,
            ["highestRssMiBSecondHalf"] = Math.Round(highest, 1),
            ["targetMB"] = IdleTargetMiB,
            ["targetJudged"] = nativeAot,
            ["failedCalls"] = new JsonArray([.. idlers.SelectMany(i => i.FailedCalls.Select(f => (JsonNode?)$"{i.Name}: {f}"))]),
            ["passed"] = passed,
            ["samples"] = new JsonObject(idlers.Select(i => KeyValuePair.Create(i.Name, JsonSerializer.SerializeToNode(i.Samples, CamelCase)))),
        };
        var file = outFile is not null
            ? Path.GetFullPath(outFile)
            : smoke
                ? Path.Combine(Path.GetTempPath(), $"updraft-idle-soak-smoke-{commit}.json")
                : Path.Combine(repo, "bench", "results", $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}-idle{(nativeAot ? "-aot" : "")}.json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, json.ToJsonString(Indented));
        Console.WriteLine();
        Console.WriteLine(markdown);
        Console.WriteLine($"Results: {file} ({clock.Elapsed.TotalSeconds:F0} s)");
        return passed ? 0 : 1;
    }

    private static string Markdown(string commit, bool nativeAot, double minutes, Idler[] idlers, double highest, bool withinTarget, TimeSpan elapsed)
    {
        var md = new StringBuilder();
        void Line(FormattableString text) => md.AppendLine(Invariant(text));
        Line($"Idle soak, commit {commit}, {Environment.ProcessorCount} cores, {elapsed.TotalMinutes:F1} min in all. Two interceptors ({(nativeAot ? "Native AOT, the image's build" : "JIT")}, DOTNET_GCgen0size=0x4000000, 1 route): `{Shipped}` as built, `{Baseline}` with UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL=0s. Each had 10 s of wrk, then {minutes} min of probes (/readyz, /livez every 10 s) and scrapes (/metrics every 15 s).");
        md.AppendLine();
        md.AppendLine("| min | " + string.Join(" | ", idlers.Select(i => $"{i.Name} RSS MiB | anonymous | GC committed | full GCs")) + " |");
        md.AppendLine("|---:|" + string.Concat(Enumerable.Repeat("---:|---:|---:|---:|", idlers.Length)));
        var count = idlers.Min(i => i.Samples.Count);
        for (var n = 0; n < count; n++)
        {
            var first = idlers[0].Samples[n];
            if (n != count - 1 && Math.Round(first.Seconds) % 300 >= 30)
            {
                continue; // every 5 minutes, and the last
            }

            md.Append(Invariant($"| {first.Seconds / 60:F1} |"));
            foreach (var s in idlers.Select(i => i.Samples[n]))
            {
                md.Append(Invariant($" {s.RssMiB:F1} | {s.RssAnonMiB:F1} | {s.GcCommittedMiB:F1} | {s.FullCollections} |"));
            }

            md.AppendLine();
        }

        md.AppendLine();
        Line($"- highest RSS of `{Shipped}` over the second half: {highest:F1} MiB; target 60 MB ({IdleTargetMiB / 1.048576:F1} MiB): {(nativeAot ? withinTarget ? "met" : "**not met**" : "not judged (the target is the image's build: --aot)")}");
        foreach (var idler in idlers.Where(i => i.FailedCalls.Count > 0))
        {
            Line($"- {idler.Name}: {idler.FailedCalls.Count} probe or scrape calls failed (**must be 0**), first: {idler.FailedCalls[0]}");
        }

        return md.ToString();
    }

    /// <summary>GETs a probe or the metrics page; a failure is recorded, not thrown, so a long run reports it at the end.</summary>
    private static string? Call(Idler idler, string url)
    {
        try
        {
            using var response = Http.GetAsync(new Uri(url)).GetAwaiter().GetResult();
            var body = response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
            if (response.IsSuccessStatusCode)
            {
                return body;
            }

            idler.FailedCalls.Add(Invariant($"{url}: {(int)response.StatusCode}"));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            idler.FailedCalls.Add($"{url}: {e.Message}");
        }

        return null;
    }

    private static double Series(string metrics, string series) => metrics.Split('\n')
        .Where(l => l.StartsWith(series + " ", StringComparison.Ordinal))
        .Select(l => double.Parse(l[(series.Length + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture))
        .FirstOrDefault();

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
