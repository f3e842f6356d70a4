using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Updraft.Bench.Local;

/// <summary>The JSON results file and the Markdown table.</summary>
internal static class LocalReport
{
    /// <summary>Updraft's share of a cold start (everything but the process's own start-up), at p99.</summary>
    public const double TargetUpdraftShareP99Ms = 50;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static async Task<int> WriteAsync(string repo, bool smoke, int warmUps, List<ColdStart> samples, List<double> alone, string loadBefore, string loadAfter)
    {
        var commit = BenchSupport.ShortCommit(repo);
        List<double> scaler = [.. samples.Select(s => s.ScalerNoticeMs)], start = [.. samples.Select(s => s.ProcessStartMs)],
            toListening = [.. samples.Select(s => s.ToListeningMs)], readiness = [.. samples.Select(s => s.ReadinessMs)],
            forwarding = [.. samples.Select(s => s.ForwardingMs)], toReplica = [.. samples.Select(s => s.ToReplicaMs)],
            replicaRequest = [.. samples.Select(s => s.ReplicaRequestMs)], responseBack = [.. samples.Select(s => s.ResponseBackMs)],
            total = [.. samples.Select(s => s.TotalMs)], share = [.. samples.Select(s => s.UpdraftShareMs)],
            shareWithoutReplica = [.. samples.Select(s => s.UpdraftShareWithoutReplicaRequestMs)],
            warm = [.. samples.Select(s => s.WarmRequestMs)];
        var shareP99 = P(share, 0.99);
        var met = shareP99 < TargetUpdraftShareP99Ms;
        var pushed = samples.Count(s => s.Pushed);

        var results = new Dictionary<string, object>
        {
            ["commit"] = commit,
            ["date"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
            ["loadAverage1mBeforeAfter"] = $"{loadBefore} / {loadAfter}",
            ["smoke"] = smoke,
            ["coldStarts"] = samples.Count,
            ["warmUpsDiscarded"] = warmUps,
            ["workload"] = "one replica at most, pollingInterval 100ms, cooldownPeriod 0s, readiness GET /ready every 5ms; replica: bench/Backend in replica mode (Kestrel, $PORT)",
            ["eventTimeResolutionMs"] = 1,
            ["eventTimeNote"] = "started and ready come from the autoscaler's event lines, printed in whole milliseconds (cut); the middle of that millisecond is used, so each segment bordering on them is within ±0.5 ms; total is exact",
            ["scaleUpsByPush"] = pushed,
            ["scaleUpsByPoll"] = samples.Count - pushed,
            ["segments"] = new Dictionary<string, object>
            {
                ["scalerNotice"] = Summary(scaler),
                ["processStart"] = Summary(start),
                ["processStartToListening"] = Summary(toListening),
                ["readinessDetection"] = Summary(readiness),
                ["forwarding"] = Summary(forwarding),
                ["forwardingReadyToReplicaAccepts"] = Summary(toReplica),
                ["forwardingReplicaRequest"] = Summary(replicaRequest),
                ["forwardingResponseBack"] = Summary(responseBack),
                ["total"] = Summary(total),
                ["updraftShare"] = Summary(share),
                ["updraftShareWithoutReplicaRequest"] = Summary(shareWithoutReplica),
            },
            ["baselines"] = new Dictionary<string, object>
            {
                ["processStartAlone"] = Summary(alone),
                ["warmRequestThroughInterceptor"] = Summary(warm),
            },
            ["ratios"] = new Dictionary<string, double>
            {
                ["processStartP50ToAlone"] = Math.Round(P(start, 0.5) / P(alone, 0.5), 3),
                ["processStartP99ToAlone"] = Math.Round(P(start, 0.99) / P(alone, 0.99), 3),
                ["forwardingP50ToWarmRequest"] = Math.Round(P(forwarding, 0.5) / P(warm, 0.5), 3),
            },
            ["targetUpdraftShareP99Ms"] = TargetUpdraftShareP99Ms,
            ["targetMet"] = met,
            ["samples"] = samples.Select((s, i) => new Dictionary<string, object>
            {
                ["sent"] = s.Sent.ToString("O", CultureInfo.InvariantCulture),
                ["pushed"] = s.Pushed,
                ["scalerNoticeMs"] = s.ScalerNoticeMs,
                ["processStartMs"] = s.ProcessStartMs,
                ["processStartToListeningMs"] = s.ToListeningMs,
                ["readinessMs"] = s.ReadinessMs,
                ["forwardingMs"] = s.ForwardingMs,
                ["readyToReplicaAcceptsMs"] = s.ToReplicaMs,
                ["replicaRequestMs"] = s.ReplicaRequestMs,
                ["responseBackMs"] = s.ResponseBackMs,
                ["totalMs"] = s.TotalMs,
                ["updraftShareMs"] = s.UpdraftShareMs,
                ["updraftShareWithoutReplicaRequestMs"] = s.UpdraftShareWithoutReplicaRequestMs,
                ["warmRequestMs"] = s.WarmRequestMs,
                ["processStartAloneMs"] = Math.Round(alone[i], 3),
            }).ToList(),
        };
        var file = smoke
            ? Path.Combine(Path.GetTempPath(), $"updraft-bench-local-smoke-{commit}.json")
            : Path.Combine(repo, "bench", "results", $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}-local.json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, JsonSerializer.Serialize(results, Indented));

        var table = new StringBuilder();
        table.AppendLine(Invariant($"Local benchmark: {samples.Count} cold starts from zero ({warmUps} discarded before), commit {commit}, {Environment.ProcessorCount} cores, load average {loadBefore} → {loadAfter}"));
        table.AppendLine();
        table.AppendLine("| segment | p50 ms | p90 ms | p99 ms | max ms | same-run baseline p50 / p99 ms | p50 / baseline |");
        table.AppendLine("|---|---:|---:|---:|---:|---|---:|");
        Row("1. scaler notice: request sent → `started`", scaler);
        Row("2. process start-up: `started` → the replica's first answer to `GET /ready` written", start, alone, "the replica program alone, spawn → first answer");
        Row("2'. of 2: `started` → Kestrel listens", toListening);
        Row("3. readiness detection: that answer written → `ready`", readiness);
        Row("4. forwarding: `ready` → response at the client", forwarding, warm, "a warm request through the interceptor (another route, an always-up upstream)");
        Row("4a. `ready` → the interceptor's connection reaches the replica's app", toReplica);
        Row("4b. the replica's work: that connection → response written", replicaRequest);
        Row("4c. response written → the client has it", responseBack);
        Row("total: request sent → response", total);
        Row("**Updraft's share** (total − 2)", share);
        Row("Updraft's share without the replica's work (total − 2 − 4b)", shareWithoutReplica);
        table.AppendLine();
        table.AppendLine(Invariant($"Updraft's share at p99: {shareP99:F1} ms, target < {TargetUpdraftShareP99Ms:F0} ms: {(met ? "met" : "NOT met")}."));
        table.AppendLine(Invariant($"Scale-ups from the StreamIsActive push: {pushed} of {samples.Count} (the rest from a poll)."));
        table.AppendLine("`started` and `ready` are event-line times with 1 ms resolution (the middle of the printed millisecond is used): segments 1–4 are ±0.5 ms at each of those borders; the total is exact.");
        var p99Rank = (int)Math.Ceiling(0.99 * samples.Count);
        table.AppendLine(Invariant($"p99 is the nearest rank: with {samples.Count} samples, the {(p99Rank == samples.Count ? "largest" : $"{p99Rank}th smallest")}."));
        table.AppendLine($"Results: {(smoke ? file : Path.GetRelativePath(repo, file))}");
        Console.WriteLine(table);
        return 0;

        void Row(string what, List<double> values, List<double>? baseline = null, string? baselineName = null)
        {
            var baselineText = baseline is null ? "" : Invariant($"{baselineName}: {P(baseline, 0.5):F1} / {P(baseline, 0.99):F1}");
            var ratio = baseline is null ? "" : Invariant($"{P(values, 0.5) / P(baseline, 0.5):F2}");
            table.AppendLine(Invariant($"| {what} | {P(values, 0.5):F1} | {P(values, 0.9):F1} | {P(values, 0.99):F1} | {values.Max():F1} | {baselineText} | {ratio} |"));
        }
    }

    private static double P(List<double> values, double quantile) => BenchSupport.Percentile(values, quantile);

    private static Dictionary<string, double> Summary(List<double> values) => new()
    {
        ["count"] = values.Count,
        ["p50Ms"] = Math.Round(P(values, 0.50), 3),
        ["p90Ms"] = Math.Round(P(values, 0.90), 3),
        ["p99Ms"] = Math.Round(P(values, 0.99), 3),
        ["maxMs"] = Math.Round(values.Max(), 3),
    };

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
