using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Updraft.Bench.Load;

/// <summary>How long and how hard each pass runs.</summary>
internal sealed record Plan(
    int WarmupSeconds,
    int WrkThreads,
    int Connections,
    int ThroughputReps,
    int WrkSeconds,
    int LatencyReps,
    double[] RateFractions,
    double RateWarmupSeconds,
    double RateSeconds,
    int H2Reps,
    int H2Connections,
    int H2Streams,
    int H2Seconds)
{
    /// <summary>
    /// About 7 minutes with six targets. Rates: 50% of the direct maximum (the issue's point; on a 2-core box every
    /// proxy saturates there, see bench/README.md) and 10% (below every proxy's maximum: the added-latency point).
    /// </summary>
    public static readonly Plan Full = new(3, 2, 64, 3, 8, 2, [0.50, 0.10], 1, 6, 2, 16, 8, 5);

    /// <summary>A few seconds per target: checks the wiring and the output, the numbers mean nothing.</summary>
    public static readonly Plan Smoke = new(0, 2, 64, 1, 1, 1, [0.50, 0.10], 0.2, 0.5, 1, 16, 8, 1);
}

/// <summary>
/// CPU seconds of the measured process, of the backend and of this process (the constant-rate client) over one
/// measurement, and how busy the whole machine was (0..1).
/// </summary>
internal sealed record CpuSample(double ProcessSeconds, double BackendSeconds, double ClientSeconds, double WallSeconds, double MachineBusy, long Requests);

internal sealed class TargetResults
{
    public List<WrkRun> Throughput { get; } = [];

    public List<CpuSample> ThroughputCpu { get; } = [];

    public Dictionary<string, List<RateRun>> Latency { get; } = [];

    public Dictionary<string, List<CpuSample>> LatencyCpu { get; } = [];

    public List<H2LoadRun> H2c { get; } = [];

    public double IdleWorkingSetMiB { get; set; }

    public double PeakWorkingSetMiB { get; set; }
}

/// <summary>The run's JSON document and its Markdown tables: ratios to direct and to the best peer.</summary>
internal sealed record Report(string Json, string Markdown)
{
    /// <summary>A target that answered less than this share of the offered rate could not keep up: its latencies are queueing.</summary>
    private const double SaturatedBelow = 0.97;

    internal static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <param name="postBytes">0: every request was a GET; otherwise a POST with a body of this many bytes.</param>
    public static Report Build(string commit, bool smoke, Plan plan, Dictionary<string, string> tools, List<Target> targets, Dictionary<string, TargetResults> results, double directMax, TimeSpan elapsed, int postBytes = 0)
    {
        var direct = targets[0];
        var peers = targets.Where(t => t.IsPeer).ToList();
        double Rps(Target t) => Median(results[t.Name].Throughput.Select(r => r.RequestsPerSecond));
        double? H2(Target t) => results[t.Name].H2c.Count > 0 ? Median(results[t.Name].H2c.Select(r => r.RequestsPerSecond)) : null;
        var bestPeerRps = peers.Max(Rps);
        var bestPeerH2 = peers.Select(H2).Max();
        long P(Target t, string key, double q) => Percentile(Pool(results[t.Name].Latency[key]), q);

        var json = new Dictionary<string, object?>
        {
            ["commit"] = commit,
            ["date"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["mode"] = smoke ? "smoke" : "full",
            ["machine"] = new { cores = Environment.ProcessorCount, os = Environment.OSVersion.ToString() },
            ["tools"] = tools,
            ["plan"] = plan,
            ["request"] = new { method = postBytes > 0 ? "POST" : "GET", host = Targets.Host, path = Targets.Path, bodyBytes = postBytes },
            ["directMaxRps"] = directMax,
            ["elapsedSeconds"] = Math.Round(elapsed.TotalSeconds),
        };
        var perTarget = new Dictionary<string, object?>();
        foreach (var target in targets)
        {
            var r = results[target.Name];
            var rps = Rps(target);
            var h2 = H2(target);
            var requests = r.ThroughputCpu.Sum(c => c.Requests);
            var latency = new Dictionary<string, object?>();
            foreach (var (key, runs) in r.Latency)
            {
                var pooled = Pool(runs);
                var service = runs.SelectMany(x => x.ServiceTimes).Order().ToArray();
                var cpu = r.LatencyCpu[key];
                var cores = cpu.Sum(c => c.ProcessSeconds) / cpu.Sum(c => c.WallSeconds);
                latency[key] = new Dictionary<string, object?>
                {
                    ["rate"] = runs[0].Rate,
                    ["achievedRate"] = Math.Round(runs.Average(x => x.AchievedRate)),
                    ["saturated"] = runs.Any(x => x.AchievedRate < SaturatedBelow * x.Rate || x.NotSent > 0),
                    ["samples"] = pooled.Length,
                    ["p50Ms"] = Ms(Percentile(pooled, 0.50)),
                    ["p99Ms"] = Ms(Percentile(pooled, 0.99)),
                    ["p999Ms"] = Ms(Percentile(pooled, 0.999)),
                    ["maxMs"] = Ms(pooled.Length > 0 ? pooled[^1] : 0),
                    ["runsP50Ms"] = runs.Select(x => Ms(Percentile(x.Latencies, 0.50))).ToArray(),
                    ["runsP99Ms"] = runs.Select(x => Ms(Percentile(x.Latencies, 0.99))).ToArray(),
                    ["serviceTimeP50Ms"] = Ms(Percentile(service, 0.50)),
                    ["serviceTimeP99Ms"] = Ms(Percentile(service, 0.99)),
                    ["errors"] = runs.Sum(x => x.Errors),
                    ["notSent"] = runs.Sum(x => x.NotSent),
                    ["p99RatioToDirect"] = Ratio(P(target, key, 0.99), P(direct, key, 0.99)),
                    ["p99RatioToBestPeer"] = target == direct ? null : Ratio(P(target, key, 0.99), peers.Min(p => P(p, key, 0.99))),
                    ["processCpuCores"] = Math.Round(cores, 3),
                    ["processCpuUsPerRequest"] = Math.Round(cores * 1e6 / Math.Max(1, runs.Average(x => x.AchievedRate)), 1),
                    ["clientCpuCores"] = Math.Round(cpu.Sum(c => c.ClientSeconds) / cpu.Sum(c => c.WallSeconds), 3),
                    ["machineBusy"] = Math.Round(cpu.Average(c => c.MachineBusy), 3),
                };
            }

            perTarget[target.Name] = new Dictionary<string, object?>
            {
                ["label"] = target.Label,
                ["peer"] = target.IsPeer,
                ["throughput"] = new Dictionary<string, object?>
                {
                    ["runsRps"] = r.Throughput.Select(x => x.RequestsPerSecond).ToArray(),
                    ["medianRps"] = rps,
                    ["ratioToDirect"] = Ratio(rps, Rps(direct)),
                    ["ratioToBestPeer"] = target == direct ? null : Ratio(rps, bestPeerRps),
                    ["wrkP50Ms"] = Median(r.Throughput.Select(x => x.P50Ms)),
                    ["wrkP99Ms"] = Median(r.Throughput.Select(x => x.P99Ms)),
                    ["errors"] = r.Throughput.Sum(x => x.Errors),
                    ["processCpuUsPerRequest"] = Math.Round(r.ThroughputCpu.Sum(c => c.ProcessSeconds) * 1e6 / requests, 1),
                    ["backendCpuUsPerRequest"] = target == direct ? null : Math.Round(r.ThroughputCpu.Sum(c => c.BackendSeconds) * 1e6 / requests, 1),
                    ["machineBusy"] = Math.Round(r.ThroughputCpu.Average(c => c.MachineBusy), 3),
                },
                ["latency"] = latency,
                ["h2c"] = h2 is null ? new Dictionary<string, object?> { ["supported"] = false } : new Dictionary<string, object?>
                {
                    ["supported"] = true,
                    ["runsRps"] = r.H2c.Select(x => x.RequestsPerSecond).ToArray(),
                    ["medianRps"] = h2,
                    ["ratioToDirect"] = H2(direct) is double d ? Ratio(h2.Value, d) : null,
                    ["ratioToBestPeer"] = target == direct || bestPeerH2 is null ? null : Ratio(h2.Value, bestPeerH2.Value),
                    ["failed"] = r.H2c.Sum(x => x.Failed),
                },
                ["memory"] = new { idleRssMiB = r.IdleWorkingSetMiB, peakWorkingSetMiB = r.PeakWorkingSetMiB },
            };
        }

        json["targets"] = perTarget;

        var md = new StringBuilder();
        void Line(FormattableString text) => md.AppendLine(text.ToString(CultureInfo.InvariantCulture));
        Line($"Load benchmark{(smoke ? " (SMOKE: numbers mean nothing)" : "")}, commit {commit}, {Environment.ProcessorCount} cores, {elapsed.TotalMinutes:F1} min. Request: {(postBytes > 0 ? $"POST {Targets.Path} with a {postBytes}-byte body" : $"GET {Targets.Path}")}, Host {Targets.Host}, 2-byte answer.");
        md.AppendLine();
        Line($"Throughput: wrk -t{plan.WrkThreads} -c{plan.Connections}, HTTP/1.1 keep-alive, median of {plan.ThroughputReps} × {plan.WrkSeconds} s. h2c: h2load -c{plan.H2Connections} -m{plan.H2Streams}, median of {plan.H2Reps} × {plan.H2Seconds} s. CPU: the target process's user+system time per request.");
        md.AppendLine();
        md.AppendLine("| target | req/s | × direct | × best peer | CPU µs/req | h2c req/s | h2c × direct | h2c × best peer | RSS idle / peak MiB |");
        md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var target in targets)
        {
            var t = (Dictionary<string, object?>)perTarget[target.Name]!;
            var th = (Dictionary<string, object?>)t["throughput"]!;
            var h2 = (Dictionary<string, object?>)t["h2c"]! is { } d && (bool)d["supported"]! ? d : null;
            var r = results[target.Name];
            Line($"| {target.Label} | {th["medianRps"]:F0} | {Num(th["ratioToDirect"])} | {Num(th["ratioToBestPeer"])} | {th["processCpuUsPerRequest"]:F1} | {(h2 is null ? "n/a" : $"{h2["medianRps"]:F0}")} | {Num(h2?["ratioToDirect"])} | {Num(h2?["ratioToBestPeer"])} | {r.IdleWorkingSetMiB:F0} / {r.PeakWorkingSetMiB:F0} |");
        }

        foreach (var fraction in plan.RateFractions)
        {
            var key = FractionKey(fraction);
            var rate = results[direct.Name].Latency[key][0].Rate;
            md.AppendLine();
            Line($"Latency at {rate:F0} req/s ({key} of the direct maximum): open-loop constant rate over {plan.Connections} connections, measured from each request's scheduled send time, pooled over {plan.LatencyReps} × {plan.RateSeconds:0.#} s; ms. Saturated: the target answered less than {SaturatedBelow:P0} of the offered rate, so its latencies are queueing time.");
            md.AppendLine();
            md.AppendLine("| target | achieved req/s | p50 | p99 | p99.9 | p99 × direct | p99 × best peer | CPU cores | errors |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var target in targets)
            {
                var l = (Dictionary<string, object?>)((Dictionary<string, object?>)((Dictionary<string, object?>)perTarget[target.Name]!)["latency"]!)[key]!;
                Line($"| {target.Label} | {l["achievedRate"]:F0}{((bool)l["saturated"]! ? " (saturated)" : "")} | {l["p50Ms"]:F3} | {l["p99Ms"]:F3} | {l["p999Ms"]:F3} | {Num(l["p99RatioToDirect"])} | {Num(l["p99RatioToBestPeer"])} | {l["processCpuCores"]:F2} | {l["errors"]} |");
            }
        }

        return new Report(JsonSerializer.Serialize(json, JsonOptions), md.ToString());
    }

    public static long Percentile(long[] sorted, double quantile) =>
        sorted.Length == 0 ? 0 : sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? 0 : sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    public static string FractionKey(double fraction) => fraction.ToString("P0", CultureInfo.InvariantCulture).Replace(" ", "", StringComparison.Ordinal);

    private static long[] Pool(List<RateRun> runs) => [.. runs.SelectMany(r => r.Latencies).Order()];

    private static double Ms(long nanoseconds) => Math.Round(nanoseconds / 1e6, 3);

    private static double? Ratio(double value, double baseline) => baseline > 0 ? Math.Round(value / baseline, 2) : null;

    private static string Num(object? value) => value is double d ? d.ToString("F2", CultureInfo.InvariantCulture) : "—";
}
