using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Updraft.Bench.Load;

/// <summary>One target at one rate, its repetitions pooled; latencies in ms, CPU in µs per request answered.</summary>
internal sealed record LowLoadSummary(
    string Target, string Label, double AchievedRate, bool Saturated, long Errors, long NotSent, long Requests,
    double P50Ms, double P99Ms, double P999Ms, double? P99AddedMs,
    double CpuUsPerRequest, double? CpuRatioToHaproxy, double BackendCpuUsPerRequest,
    double CpuCores, double ClientCpuCores, double MachineBusy, double JitCpuSeconds, bool? MeetsTarget);

/// <summary>The low-load run's JSON document (every repetition) and its Markdown tables, one per rate.</summary>
internal sealed record LowLoadReport(string Json, string Markdown)
{
    // The issue's targets for the interceptor at low load: 100 and 1,000 req/s, open loop.
    private const double CpuRatioTarget = 1.2;
    private const double AddedP99TargetMs = 0.5;
    private const double TargetRatesUpTo = 1_000;

    /// <summary>As the load benchmark: a target that answered less than this share of the offered rate could not keep up.</summary>
    private const double SaturatedBelow = 0.97;

    private const string Haproxy = "haproxy";

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static LowLoadReport Build(
        string commit, bool smoke, LowLoadPlan plan, Dictionary<string, string> tools, List<Target> targets,
        Dictionary<string, IReadOnlyDictionary<string, string>> settings, List<LowLoadRun> runs, TimeSpan elapsed)
    {
        var direct = targets[0];
        var tickMs = 1000.0 / Native.ClockTicks();
        var md = new StringBuilder();
        void Line(FormattableString text) => md.AppendLine(text.ToString(CultureInfo.InvariantCulture));
        Line($"Low load{(smoke ? " (SMOKE: numbers mean nothing)" : "")}, commit {commit}, {Environment.ProcessorCount} cores, {elapsed.TotalMinutes:F1} min. Request: GET {Targets.Path}, Host {Targets.Host}, 2-byte answer. Target for the interceptor at 100 and 1,000 req/s: CPU per request ≤ {CpuRatioTarget:F1}× HAProxy's and p99 ≤ direct's + {AddedP99TargetMs:F1} ms (last column).");

        var rates = new List<object>();
        foreach (var rate in plan.Rates)
        {
            var at = runs.Where(r => r.Rate == rate).ToList();
            var pooled = targets.ToDictionary(t => t.Name, t => Pool(at.Where(r => r.Target == t.Name)));
            var directP99 = Ms(Report.Percentile(pooled[direct.Name], 0.99));
            var haproxyCpu = CpuPerRequest(at.Where(r => r.Target == Haproxy).ToList(), r => r.ProcessCpuSeconds);
            var resolution = 2 * tickMs * 1000 / (rate.Rate * rate.Seconds);
            var rows = new List<object>();
            md.AppendLine();
            Line($"At {rate.Rate:N0} req/s: open loop over {rate.Connections} connections, {plan.Repetitions} × {rate.Seconds:0.#} s pooled (each after {plan.WarmupSeconds:0.#} s at the rate), targets interleaved. Latency: ms from each request's scheduled send time; added: p99 − direct's p99. CPU: the process's user+system time over the measured windows per request answered (/proc counts it in {tickMs:F0} ms ticks: at most ±{resolution:0.0#} µs/req here).");
            md.AppendLine();
            md.AppendLine("| target | achieved req/s | errors | p50 | p99 | p99.9 | p99 added | CPU µs/req | × HAProxy | backend CPU µs/req | target met |");
            md.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            foreach (var target in targets)
            {
                var mine = at.Where(r => r.Target == target.Name).ToList();
                var latencies = pooled[target.Name];
                var p99 = Ms(Report.Percentile(latencies, 0.99));
                var cpu = CpuPerRequest(mine, r => r.ProcessCpuSeconds);
                var wall = mine.Sum(r => r.WallSeconds);
                double? added = target == direct ? null : Math.Round(p99 - directP99, 3);
                double? ratio = haproxyCpu > 0 ? Math.Round(cpu / haproxyCpu, 2) : null;
                var saturated = mine.Any(r => r.Load.AchievedRate < SaturatedBelow * rate.Rate || r.Load.NotSent > 0);
                var errors = mine.Sum(r => r.Load.Errors);
                bool? meets = target.Name.StartsWith("interceptor", StringComparison.Ordinal) && rate.Rate <= TargetRatesUpTo
                    ? !saturated && errors == 0 && ratio <= CpuRatioTarget && added <= AddedP99TargetMs
                    : null;
                var summary = new LowLoadSummary(
                    target.Name, target.Label, Math.Round(mine.Average(r => r.Load.AchievedRate), 1), saturated, errors, mine.Sum(r => r.Load.NotSent), mine.Sum(r => r.Requests),
                    Ms(Report.Percentile(latencies, 0.50)), p99, Ms(Report.Percentile(latencies, 0.999)), added,
                    cpu, ratio, CpuPerRequest(mine, r => r.BackendCpuSeconds),
                    Math.Round(mine.Sum(r => r.ProcessCpuSeconds) / wall, 3), Math.Round(mine.Sum(r => r.ClientCpuSeconds) / wall, 3), Math.Round(mine.Average(r => r.MachineBusy), 3),
                    Math.Round(mine.Sum(r => r.JitCpuSeconds), 2), meets);
                rows.Add(new { summary, settings = settings.GetValueOrDefault(target.Name), runs = mine.Select(RunJson).ToArray() });
                Line($"| {target.Label} | {summary.AchievedRate:F0}{(saturated ? " (saturated)" : "")} | {errors + summary.NotSent} | {summary.P50Ms:F3} | {p99:F3} | {summary.P999Ms:F3} | {(added is double a ? a.ToString("+0.000;−0.000", CultureInfo.InvariantCulture) : "—")} | {cpu:F1} | {(ratio is double x ? x.ToString("F2", CultureInfo.InvariantCulture) : "—")} | {summary.BackendCpuUsPerRequest:F1} | {(meets is bool m ? m ? "yes" : "**no**" : "—")} |");
            }

            // Listed when a window's JIT exceeds what settling allows (one tick).
            var jit = targets.Where(t => at.Any(r => r.Target == t.Name && Math.Round(r.JitCpuSeconds * Native.ClockTicks()) > 1))
                .Select(t => (t.Label, Seconds: at.Where(r => r.Target == t.Name).Sum(r => r.JitCpuSeconds))).ToList();
            if (jit.Count > 0)
            {
                md.AppendLine();
                Line($"Tiered JIT compilation ran in the measured windows of: {string.Join("; ", jit.Select(j => string.Create(CultureInfo.InvariantCulture, $"{j.Label} {j.Seconds * 1e3:F0} ms")))} (included in their CPU; the settling before each window could not keep it out).");
            }

            rates.Add(new
            {
                rate = rate.Rate,
                connections = rate.Connections,
                windowSeconds = rate.Seconds,
                warmupSeconds = plan.WarmupSeconds,
                repetitions = plan.Repetitions,
                cpuResolutionUsPerRequest = Math.Round(resolution, 2),
                directP99Ms = directP99,
                targets = rows,
            });
        }

        var json = JsonSerializer.Serialize(new
        {
            benchmark = "low load",
            commit,
            date = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            mode = smoke ? "smoke" : "full",
            machine = new { cores = Environment.ProcessorCount, os = Environment.OSVersion.ToString() },
            tools,
            plan,
            settling = new { afterFirstWarmup = LowLoadPlan.FirstSettle, beforeEachWindow = LowLoadPlan.WindowSettle },
            request = new { host = Targets.Host, path = Targets.Path },
            targetLimits = new { cpuRatioToHaproxy = CpuRatioTarget, p99AddedMs = AddedP99TargetMs, ratesUpTo = TargetRatesUpTo },
            elapsedSeconds = Math.Round(elapsed.TotalSeconds),
            rates,
        }, Options);
        return new LowLoadReport(json, md.ToString());
    }

    private static object RunJson(LowLoadRun run) => new
    {
        repetition = run.Repetition + 1,
        achievedRate = Math.Round(run.Load.AchievedRate, 1),
        requests = run.Requests,
        errors = run.Load.Errors,
        notSent = run.Load.NotSent,
        p50Ms = Ms(Report.Percentile(run.Load.Latencies, 0.50)),
        p99Ms = Ms(Report.Percentile(run.Load.Latencies, 0.99)),
        p999Ms = Ms(Report.Percentile(run.Load.Latencies, 0.999)),
        maxMs = Ms(run.Load.Latencies.Length > 0 ? run.Load.Latencies[^1] : 0),
        serviceTimeP50Ms = Ms(Report.Percentile(run.Load.ServiceTimes, 0.50)),
        serviceTimeP99Ms = Ms(Report.Percentile(run.Load.ServiceTimes, 0.99)),
        processCpuSeconds = Math.Round(run.ProcessCpuSeconds, 3),
        backendCpuSeconds = Math.Round(run.BackendCpuSeconds, 3),
        clientCpuSeconds = Math.Round(run.ClientCpuSeconds, 3),
        wallSeconds = Math.Round(run.WallSeconds, 3),
        cpuUsPerRequest = CpuPerRequest([run], r => r.ProcessCpuSeconds),
        backendCpuUsPerRequest = CpuPerRequest([run], r => r.BackendCpuSeconds),
        machineBusy = Math.Round(run.MachineBusy, 3),
        jitCpuSeconds = Math.Round(run.JitCpuSeconds, 2),
        settleRounds = run.SettleRounds,
    };

    private static double CpuPerRequest(List<LowLoadRun> runs, Func<LowLoadRun, double> seconds)
    {
        var requests = runs.Sum(r => r.Requests);
        return requests > 0 ? Math.Round(runs.Sum(seconds) * 1e6 / requests, 1) : 0;
    }

    private static long[] Pool(IEnumerable<LowLoadRun> runs) => [.. runs.SelectMany(r => r.Load.Latencies).Order()];

    private static double Ms(long nanoseconds) => Math.Round(nanoseconds / 1e6, 3);
}
