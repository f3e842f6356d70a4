using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Updraft.Bench.Load;

/// <summary>A runtime or transport setting tried on the interceptor: extra environment variables for its process.</summary>
internal sealed record SettingsVariant(string Name, string Label, IReadOnlyDictionary<string, string> Settings);

/// <summary>
/// <c>./updraft.sh bench settings</c>: the same interceptor build started once per settings variant, each in its own
/// process in front of the same backend, with HAProxy and the backend itself as the in-run references; wrk throughput
/// passes interleaved over all of them. Answers "which settings should the chart use" with ratios from one run.
/// </summary>
internal static class SettingsComparison
{
    private const string DefaultName = "default";

    public static readonly SettingsVariant[] Variants =
    [
        new(DefaultName, "defaults (lean HTTP/1.1 path, UPDRAFT_INLINE_IO on, server GC with DATAS)", new Dictionary<string, string>()),
        new("yarp-path", "UPDRAFT_LEAN_FORWARDING=false (every request through YARP)", new Dictionary<string, string> { ["UPDRAFT_LEAN_FORWARDING"] = "false" }),
        new("inline-io-off", "UPDRAFT_INLINE_IO=false", new Dictionary<string, string> { ["UPDRAFT_INLINE_IO"] = "false" }),
        new("kestrel-inline-only", "Kestrel inline, runtime completions dispatched (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0)", new Dictionary<string, string> { ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "0" }),
        new("socket-threads-1", "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT=1", new Dictionary<string, string> { ["DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT"] = "1" }),
        new("spin-limit-0", "DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0", new Dictionary<string, string> { ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0" }),
        new("workstation-gc", "DOTNET_gcServer=0", new Dictionary<string, string> { ["DOTNET_gcServer"] = "0" }),
        new("gen0-64mib", "DOTNET_GCgen0size=0x4000000", new Dictionary<string, string> { ["DOTNET_GCgen0size"] = "0x4000000" }),
        new("datas-off", "DOTNET_GCDynamicAdaptationMode=0", new Dictionary<string, string> { ["DOTNET_GCDynamicAdaptationMode"] = "0" }),
        new("w-xor-x-off", "DOTNET_EnableWriteXorExecute=0 (JIT code mapped once, not twice)", new Dictionary<string, string> { ["DOTNET_EnableWriteXorExecute"] = "0" }),
        new("metrics-on", "OTEL_PROM_EXPORTER_ENABLED=true (the default; the other rows run without the /metrics listener)", new Dictionary<string, string> { ["OTEL_PROM_EXPORTER_ENABLED"] = "true", ["OTEL_PROM_EXPORTER_PORT"] = "0" }),
    ];

    /// <summary>
    /// Tracing on for every request (100% sampling), exported over OTLP/HTTP to the backend, which accepts the spans as a
    /// collector would: the cost of tracing in the interceptor, not the collector's.
    /// </summary>
    private static SettingsVariant Tracing(int backendPort) => new(
        "tracing-100",
        "OTEL_EXPORTER_OTLP_TRACES_ENABLED=true, OTEL_TRACES_SAMPLER=always_on, OTLP/HTTP to a collector that accepts every span",
        new Dictionary<string, string>
        {
            ["OTEL_EXPORTER_OTLP_TRACES_ENABLED"] = "true",
            ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"] = "http/protobuf",
            ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = $"http://127.0.0.1:{backendPort.ToString(CultureInfo.InvariantCulture)}/v1/traces",
            ["OTEL_TRACES_SAMPLER"] = "always_on",
        });

    /// <summary>Throughput: wrk repetitions; latency: constant-rate repetitions at <see cref="RateFraction"/> of the direct maximum.</summary>
    private sealed record Pass(int WarmupSeconds, int Reps, int Seconds, int Threads, int Connections, int LatencyReps, double LatencySeconds);

    /// <summary>10% of direct: below every proxy's maximum on two shared cores, so latencies are the proxy's, not queueing.</summary>
    private const double RateFraction = 0.10;

    private static readonly Pass Full = new(2, 4, 5, 2, 64, 2, 5);

    private static readonly Pass Smoke = new(0, 1, 1, 2, 64, 1, 0.5);

    private sealed class Runs
    {
        public List<double> Rps { get; } = [];

        public List<double> CpuMicrosPerRequest { get; } = [];

        public List<long> Latencies { get; } = [];

        public long LatencyErrors { get; set; }
    }

    public static int Run(string repo, string work, string configuration, bool smoke, string? outFile, Action<string> log)
    {
        var pass = smoke ? Smoke : Full;
        var clock = Stopwatch.StartNew();
        var commit = BenchSupport.ShortCommit(repo);
        var starter = new Targets(repo, work, configuration);
        var direct = starter.StartBackend();
        var targets = new List<Target> { direct, starter.StartHaproxy(direct.Port) };
        var settings = new Dictionary<string, IReadOnlyDictionary<string, string>>();
        foreach (var variant in Variants.Append(Tracing(direct.Port)))
        {
            targets.Add(starter.StartInterceptor(variant.Name, variant.Label, direct.Port, routes: 1, variant.Settings));
            settings[variant.Name] = variant.Settings;
        }

        var idleRss = targets.ToDictionary(t => t.Name, t => t.Process.StatusMiB("VmRSS"));
        var runs = targets.ToDictionary(t => t.Name, _ => new Runs());
        var script = LoadTools.WriteWrkScript(work);
        string Url(Target t) => $"http://127.0.0.1:{t.Port}{Targets.Path}";
        if (pass.WarmupSeconds > 0)
        {
            foreach (var target in targets)
            {
                LoadTools.Wrk(script, Url(target), Targets.Host, pass.Threads, pass.Connections, pass.WarmupSeconds);
            }
        }

        for (var rep = 0; rep < pass.Reps; rep++)
        {
            foreach (var target in Targets.InTurn(targets, rep))
            {
                var cpuBefore = target.Process.CpuSeconds();
                var run = LoadTools.Wrk(script, Url(target), Targets.Host, pass.Threads, pass.Connections, pass.Seconds);
                var cpu = target.Process.CpuSeconds() - cpuBefore;
                runs[target.Name].Rps.Add(run.RequestsPerSecond);
                runs[target.Name].CpuMicrosPerRequest.Add(run.Requests > 0 ? cpu * 1e6 / run.Requests : 0);
                log(string.Create(CultureInfo.InvariantCulture, $"settings {rep + 1}/{pass.Reps} {target.Name,-20} {run.RequestsPerSecond,9:F0} req/s  errors {run.Errors}"));
            }
        }

        var median = runs.ToDictionary(r => r.Key, r => Report.Median(r.Value.Rps));
        var rate = Math.Round(median[direct.Name] * RateFraction);
        var request = Encoding.ASCII.GetBytes($"GET {Targets.Path} HTTP/1.1\r\nHost: {Targets.Host}\r\n\r\n");
        for (var rep = 0; rep < pass.LatencyReps; rep++)
        {
            foreach (var target in Targets.InTurn(targets, rep))
            {
                var run = ConstantRateClient.Run(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, target.Port), request, rate, 1, pass.LatencySeconds, pass.Connections);
                runs[target.Name].Latencies.AddRange(run.Latencies);
                runs[target.Name].LatencyErrors += run.Errors + run.NotSent;
                log(string.Create(CultureInfo.InvariantCulture, $"latency {rep + 1}/{pass.LatencyReps} at {rate:F0} req/s {target.Name,-20} achieved {run.AchievedRate,7:F0}  errors {run.Errors}"));
            }
        }

        double LatencyMs(string name, double quantile)
        {
            var sorted = runs[name].Latencies.Order().ToArray();
            return sorted.Length == 0 ? 0 : Report.Percentile(sorted, quantile) / 1e6;
        }

        var rows = targets.Select(t => new
        {
            name = t.Name,
            label = t.Label,
            settings = settings.GetValueOrDefault(t.Name),
            runsRps = runs[t.Name].Rps,
            medianRps = median[t.Name],
            ratioToDefault = median[t.Name] / median[DefaultName],
            ratioToDirect = median[t.Name] / median[direct.Name],
            ratioToHaproxy = median[t.Name] / median["haproxy"],
            cpuMicrosPerRequest = Report.Median(runs[t.Name].CpuMicrosPerRequest),
            idleRssMiB = idleRss[t.Name],
            peakRssMiB = t.Process.StatusMiB("VmHWM"),
            latencyRate = rate,
            latencyP50Ms = LatencyMs(t.Name, 0.50),
            latencyP99Ms = LatencyMs(t.Name, 0.99),
            latencyP999Ms = LatencyMs(t.Name, 0.999),
            latencyErrors = runs[t.Name].LatencyErrors,
        }).ToList();
        var json = JsonSerializer.Serialize(new
        {
            benchmark = "interceptor settings",
            commit,
            date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            smoke,
            cores = Environment.ProcessorCount,
            pass,
            wrk = LoadTools.Version("wrk", "-v"),
            targets = rows,
        }, Report.JsonOptions);

        var markdown = new StringBuilder();
        markdown.AppendLine(CultureInfo.InvariantCulture, $"Interceptor settings, commit {commit}, {Environment.ProcessorCount} cores, {clock.Elapsed.TotalMinutes:F1} min: wrk -t{pass.Threads} -c{pass.Connections}, HTTP/1.1 keep-alive, median of {pass.Reps} × {pass.Seconds} s, interleaved; one route; CPU: the target process's user+system time per request. Latency: open-loop constant rate at {rate:F0} req/s ({RateFraction:P0} of direct), {pass.LatencyReps} × {pass.LatencySeconds} s pooled, from each request's scheduled send time, ms.");
        markdown.AppendLine();
        markdown.AppendLine("| variant | settings | req/s | × default | × direct | × HAProxy | CPU µs/req | RSS idle / peak MiB | p50 | p99 | p99.9 |");
        markdown.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows)
        {
            markdown.AppendLine(CultureInfo.InvariantCulture, $"| {row.name} | {row.label} | {row.medianRps:F0} | {row.ratioToDefault:F2} | {row.ratioToDirect:F2} | {row.ratioToHaproxy:F2} | {row.cpuMicrosPerRequest:F1} | {row.idleRssMiB:F0} / {row.peakRssMiB:F0} | {row.latencyP50Ms:F3} | {row.latencyP99Ms:F3} | {row.latencyP999Ms:F3} |");
        }

        var file = outFile ?? (smoke
            ? Path.Combine(Path.GetTempPath(), $"updraft-bench-settings-smoke-{commit}.json")
            : Path.Combine(repo, "bench", "results", $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}-settings.json"));
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, json);
        Console.WriteLine();
        Console.WriteLine(markdown.ToString());
        Console.WriteLine($"Results: {file} ({clock.Elapsed.TotalSeconds:F0} s)");
        return 0;
    }
}
