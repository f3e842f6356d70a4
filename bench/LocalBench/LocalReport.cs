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
            readiness = [.. samples.Select(s => s.ReadinessMs)], forwarding = [.. samples.Select(s => s.ForwardingMs)],
            total = [.. samples.Select(s => s.TotalMs)], share = [.. samples.Select(s => s.UpdraftShareMs)],
            warm = [.. samples.Select(s => s.WarmRequestMs)], toReplica = [.. samples.Select(s => s.ToReplicaMs)],
            firstRequest = [.. samples.Select(s => s.FirstRequestMs)], responseBack = [.. samples.Select(s => s.ResponseBackMs)],
            shareWithoutFirst = [.. samples.Select(s => s.UpdraftShareWithoutFirstRequestMs)],
            shareLowerBound = [.. samples.Select(s => s.UpdraftShareLowerBoundMs)],
            acceptedToHandler = [.. samples.Select(s => s.AcceptedToHandlerMs)],
            applicationStarted = [.. samples.Select(s => s.ListeningToApplicationStartedMs)],
            firstConnection = [.. samples.Select(s => s.ReadyToFirstConnectionMs)];
        var shareP99 = P(share, 0.99);
        var met = shareP99 < TargetUpdraftShareP99Ms;
        var shareWithoutFirstP99 = P(shareWithoutFirst, 0.99);
        var metWithoutFirst = shareWithoutFirstP99 < TargetUpdraftShareP99Ms;
        var pushed = samples.Count(s => s.Pushed);
        var readyFirst = samples.Count(s => s.ReadyBeforeListening);

        var results = new Dictionary<string, object>
        {
            ["commit"] = commit,
            ["date"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
            ["loadAverage1mBeforeAfter"] = $"{loadBefore} / {loadAfter}",
            ["smoke"] = smoke,
            ["coldStarts"] = samples.Count,
            ["warmUpsDiscarded"] = warmUps,
            ["workload"] = "one replica at most, pollingInterval 100ms, cooldownPeriod 0s, TCP readiness every 5ms; replica: bench/Backend in replica mode (Kestrel, $PORT)",
            ["eventTimeResolutionMs"] = 1,
            ["eventTimeNote"] = "started and ready come from the autoscaler's event lines, printed in whole milliseconds (cut); the middle of that millisecond is used, so each segment bordering on them is within ±0.5 ms; total is exact",
            ["scaleUpsByPush"] = pushed,
            ["scaleUpsByPoll"] = samples.Count - pushed,
            ["readyBeforeListeningLine"] = readyFirst,
            ["readyBeforeListeningNote"] = "samples where the readiness check connected before the replica's listening line (the port accepts into the kernel's backlog once bound, before the host logs it); there the ready moment counts as the listening moment, moving at most one check period (5 ms) from Updraft's share to the process start-up",
            ["segments"] = new Dictionary<string, object>
            {
                ["scalerNotice"] = Summary(scaler),
                ["processStart"] = Summary(start),
                ["readinessDetection"] = Summary(readiness),
                ["forwarding"] = Summary(forwarding),
                ["forwardingReadyToReplicaAccepts"] = Summary(toReplica),
                ["forwardingReplicaFirstRequest"] = Summary(firstRequest),
                ["forwardingResponseBack"] = Summary(responseBack),
                ["replicaAcceptedToHandler"] = Summary(acceptedToHandler),
                ["replicaListeningToApplicationStarted"] = Summary(applicationStarted),
                ["readyToReplicaFirstConnection"] = Summary(firstConnection),
                ["total"] = Summary(total),
                ["updraftShare"] = Summary(share),
                ["updraftShareWithoutReplicaFirstRequest"] = Summary(shareWithoutFirst),
                ["updraftShareWithoutReplicaFirstRequestAndReadyToAccepted"] = Summary(shareLowerBound),
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
            ["targetMetWithoutReplicaFirstRequest"] = metWithoutFirst,
            ["samples"] = samples.Select((s, i) => new Dictionary<string, object>
            {
                ["sent"] = s.Sent.ToString("O", CultureInfo.InvariantCulture),
                ["pushed"] = s.Pushed,
                ["scalerNoticeMs"] = s.ScalerNoticeMs,
                ["processStartMs"] = s.ProcessStartMs,
                ["readinessMs"] = s.ReadinessMs,
                ["listeningLineToReadyMs"] = s.ListeningLineToReadyMs,
                ["forwardingMs"] = s.ForwardingMs,
                ["readyToReplicaAcceptsMs"] = s.ToReplicaMs,
                ["replicaAcceptedToHandlerMs"] = s.AcceptedToHandlerMs,
                ["replicaListeningToApplicationStartedMs"] = s.ListeningToApplicationStartedMs,
                ["readyToReplicaFirstConnectionMs"] = s.ReadyToFirstConnectionMs,
                ["replicaFirstRequestMs"] = s.FirstRequestMs,
                ["responseBackMs"] = s.ResponseBackMs,
                ["totalMs"] = s.TotalMs,
                ["updraftShareMs"] = s.UpdraftShareMs,
                ["updraftShareWithoutReplicaFirstRequestMs"] = s.UpdraftShareWithoutFirstRequestMs,
                ["updraftShareWithoutReplicaFirstRequestAndReadyToAcceptedMs"] = s.UpdraftShareLowerBoundMs,
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
        Row("2. process start-up: `started` → the replica listens", start, alone, "the replica program alone, spawn → listening");
        Row("3. readiness detection: listening → `ready`", readiness);
        Row("4. forwarding: `ready` → response at the client", forwarding, warm, "a warm request through the interceptor (another route, an always-up upstream)");
        Row("4a. `ready` → the replica accepts the interceptor's connection", toReplica);
        Row("4b. the replica's first request: accepted → response written (the app's own)", firstRequest);
        Row("4c. response written → the client has it", responseBack);
        Row("total: request sent → response", total);
        Row("**Updraft's share** (total − 2)", share);
        Row("Updraft's share without the app's first request (total − 2 − 4b)", shareWithoutFirst);
        Row("… and without 4a (1 + 3 + 4c: a lower bound, 4a mixes the replica's cold intake with the interceptor's connect)", shareLowerBound);
        table.AppendLine();
        table.AppendLine(Invariant($"Updraft's share at p99: {shareP99:F1} ms, target < {TargetUpdraftShareP99Ms:F0} ms: {(met ? "met" : "NOT met")}; without the app's own first request (4b): {shareWithoutFirstP99:F1} ms, {(metWithoutFirst ? "met" : "NOT met")}."));
        table.AppendLine(Invariant($"In the replica, p50 / p99: listening → ApplicationStarted {P(applicationStarted, 0.5):F1} / {P(applicationStarted, 0.99):F1} ms; of 4b, accepted → the request at the handler {P(acceptedToHandler, 0.5):F1} / {P(acceptedToHandler, 0.99):F1} ms; `ready` → its first connection (usually the readiness check's) reaches the app {P(firstConnection, 0.5):F1} / {P(firstConnection, 0.99):F1} ms."));
        table.AppendLine(Invariant($"The readiness check connected before the replica's listening line in {readyFirst} of {samples.Count} cold starts (the port accepts once bound, a little before the host logs it): there 3 counts as 0 and 2 ends at `ready`."));
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
