using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using Updraft.Bench;

namespace Updraft.Microbenchmarks;

/// <summary>
/// Allocations per proxied request across the whole process, which BenchmarkDotNet's memory diagnoser cannot see
/// (it counts the benchmark thread only, while Kestrel and YARP work on thread-pool threads):
/// <c>GC.GetTotalAllocatedBytes(precise: true)</c> around N proxied requests, minus the same for N direct requests
/// (the client's and the upstream's share), divided by N; the median of several rounds. A second, separate pass
/// samples the GC's AllocationTick events (one per ~100 KB allocated) to attribute the difference to types.
/// Target: at most 2 KB per proxied request. Measured twice: with <see cref="HttpClient"/> and Kestrel as the peers
/// (what a real exchange costs, including the peers' work for the headers the interceptor adds), and with raw-socket
/// peers that allocate nothing per request, which leaves the interceptor's own bytes (lean-path target: 256 B).
/// </summary>
internal static class ProcessAllocations
{
    public const int TargetBytes = 2048;

    /// <summary>The lean path's target, for the interceptor's own allocations (measured with the raw peers).</summary>
    public const int LeanTargetBytes = 256;

    private const int WarmupRequests = 3_000;
    private const int RequestsPerRound = 5_000;
    private const int RoundCount = 5;
    private const int ProfiledRequests = 20_000;

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <param name="repository">The checkout; results go to its bench/results/.</param>
    /// <param name="settings">
    /// Extra interceptor settings, for what-if runs (<c>allocations --set KEY=VALUE</c>); such runs print their
    /// results but write no file, so the recorded results are always of the default configuration.
    /// </param>
    public static async Task RunAsync(string repository, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var experiment = settings is { Count: > 0 };
        Console.WriteLine($"Process-wide allocations per proxied request ({RoundCount} rounds of {RequestsPerRound} requests each way)" +
            (experiment ? $", with {string.Join(", ", settings!.Select(setting => $"{setting.Key}={setting.Value}"))}" : "") + "...");
        Rounds exchange;
        Dictionary<string, double> types;
        await using (var rig = await HotPathRig.StartAsync(settings))
        {
            exchange = await MeasureAsync(rig);
            types = await ProfileAsync(rig);
        }

        Rounds own;
        Dictionary<string, double> ownTypes;
        await using (var rig = await HotPathRig.StartAsync(settings, rawPeers: true))
        {
            own = await MeasureAsync(rig);
            ownTypes = await ProfileAsync(rig);
        }

        var perRequest = Median(exchange.Difference);
        var ownPerRequest = Median(own.Difference);
        var results = new Dictionary<string, object>
        {
            ["commit"] = BenchSupport.ShortCommit(repository),
            ["date"] = DateTime.UtcNow.ToString("O"),
            ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC",
            ["requestsPerRound"] = RequestsPerRound,
            ["rounds"] = RoundCount,
            ["interceptorBytesPerRequest"] = Summary(exchange.Difference),
            ["interceptorBytesPerRequestByRound"] = exchange.Difference.Select(bytes => Math.Round(bytes)).ToArray(),
            ["processBytesPerProxiedRequest"] = Math.Round(Median(exchange.Proxied)),
            ["processBytesPerDirectRequest"] = Math.Round(Median(exchange.Direct)),
            ["proxiedRoundTripMicroseconds"] = Math.Round(Median(exchange.Microseconds), 1),
            ["targetBytes"] = TargetBytes,
            ["targetMet"] = perRequest <= TargetBytes,
            ["sampledTypesBytesPerRequest"] = types,
            ["interceptorOwnBytesPerRequest"] = Summary(own.Difference),
            ["interceptorOwnBytesPerRequestByRound"] = own.Difference.Select(bytes => Math.Round(bytes)).ToArray(),
            ["rawPeersBytesPerDirectRequest"] = Math.Round(Median(own.Direct)),
            ["leanTargetBytes"] = LeanTargetBytes,
            ["leanTargetMet"] = ownPerRequest <= LeanTargetBytes,
            ["sampledOwnTypesBytesPerRequest"] = ownTypes,
        };

        var directory = Path.Combine(repository, "bench", "results");
        var file = Path.Combine(directory, $"{DateTime.UtcNow:yyyy-MM-dd}-{results["commit"]}-micro-allocations.json");
        if (!experiment)
        {
            Directory.CreateDirectory(directory);
            await File.WriteAllTextAsync(file, JsonSerializer.Serialize(results, Indented) + "\n");
        }

        var report = new StringBuilder();
        report.AppendLine($"Interceptor allocations per proxied request (whole process, proxied minus direct, HttpClient and Kestrel as peers): median {perRequest:F0} B " +
            $"(rounds: {Join(exchange.Difference)}); target <= {TargetBytes} B: {(perRequest <= TargetBytes ? "met" : "MISSED")}");
        report.AppendLine($"  process bytes per request: proxied {Median(exchange.Proxied):F0} B, direct {Median(exchange.Direct):F0} B; proxied round trip {Median(exchange.Microseconds):F1} us");
        AppendTypes(report, types);
        report.AppendLine($"The interceptor's own allocations per request (raw-socket peers that allocate nothing): median {ownPerRequest:F0} B " +
            $"(rounds: {Join(own.Difference)}; direct exchange {Median(own.Direct):F0} B); lean-path target <= {LeanTargetBytes} B: {(ownPerRequest <= LeanTargetBytes ? "met" : "MISSED")}");
        AppendTypes(report, ownTypes);

        report.AppendLine(experiment ? "  (a what-if run: no file written)" : $"  written to {Path.GetRelativePath(repository, file)}");
        Console.Write(report);
    }

    /// <summary>Bytes per request, each way, over the rounds (after a warm-up).</summary>
    private sealed record Rounds(List<double> Proxied, List<double> Direct, List<double> Difference, List<double> Microseconds);

    private static async Task<Rounds> MeasureAsync(HotPathRig rig)
    {
        await rig.RunDirectAsync(WarmupRequests);
        await rig.RunProxiedAsync(WarmupRequests);
        var rounds = new Rounds([], [], [], []);
        for (var round = 0; round < RoundCount; round++)
        {
            var (directBytes, _) = await MeasureAsync(rig.RunDirectAsync, RequestsPerRound);
            var (proxiedBytes, elapsed) = await MeasureAsync(rig.RunProxiedAsync, RequestsPerRound);
            rounds.Direct.Add(directBytes / (double)RequestsPerRound);
            rounds.Proxied.Add(proxiedBytes / (double)RequestsPerRound);
            rounds.Difference.Add((proxiedBytes - directBytes) / (double)RequestsPerRound);
            rounds.Microseconds.Add(elapsed.TotalMicroseconds / RequestsPerRound);
        }

        return rounds;
    }

    private static async Task<(long Bytes, TimeSpan Elapsed)> MeasureAsync(Func<int, Task> run, int count)
    {
        var started = Stopwatch.GetTimestamp();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await run(count);
        var after = GC.GetTotalAllocatedBytes(precise: true);
        return (after - before, Stopwatch.GetElapsedTime(started));
    }

    private static Dictionary<string, double> Summary(List<double> values) => new()
    {
        ["median"] = Math.Round(Median(values)),
        ["min"] = Math.Round(values.Min()),
        ["max"] = Math.Round(values.Max()),
    };

    private static string Join(List<double> values) =>
        string.Join(", ", values.Select(bytes => bytes.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)));

    private static void AppendTypes(StringBuilder report, Dictionary<string, double> types)
    {
        report.AppendLine("  sampled types (AllocationTick, approximate, proxied minus direct, B/request):");
        foreach (var (type, bytes) in types)
        {
            report.AppendLine($"    {bytes,8:F0}  {type}");
        }
    }

    /// <summary>Approximate bytes per request by type, proxied minus direct, largest first (top 25).</summary>
    private static async Task<Dictionary<string, double>> ProfileAsync(HotPathRig rig)
    {
        using var listener = new AllocationSampler();
        listener.Reset();
        await rig.RunDirectAsync(ProfiledRequests);
        var direct = listener.Reset();
        await rig.RunProxiedAsync(ProfiledRequests);
        var proxied = listener.Reset();

        return proxied.Keys.Union(direct.Keys)
            .Select(type => (Type: type, Bytes: (proxied.GetValueOrDefault(type) - direct.GetValueOrDefault(type)) / (double)ProfiledRequests))
            .Where(entry => entry.Bytes > 0)
            .OrderByDescending(entry => entry.Bytes)
            .Take(25)
            .ToDictionary(entry => entry.Type, entry => Math.Round(entry.Bytes));
    }

    /// <summary>Sums the GC's AllocationTick samples by type name.</summary>
    private sealed class AllocationSampler : EventListener
    {
        private readonly Lock _gate = new();
        private Dictionary<string, long> _bytes = [];

        public Dictionary<string, long> Reset()
        {
            lock (_gate)
            {
                var taken = _bytes;
                _bytes = [];
                return taken;
            }
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventName?.StartsWith("GCAllocationTick", StringComparison.Ordinal) != true || eventData.PayloadNames is null)
            {
                return;
            }

            var type = Payload(eventData, "TypeName") as string ?? "?";
            var amount = Payload(eventData, "AllocationAmount64") is ulong large ? (long)large : Convert.ToInt64(Payload(eventData, "AllocationAmount") ?? 0L, System.Globalization.CultureInfo.InvariantCulture);
            lock (_gate)
            {
                _bytes[type] = _bytes.GetValueOrDefault(type) + amount;
            }
        }

        private static object? Payload(EventWrittenEventArgs eventData, string name)
        {
            var index = eventData.PayloadNames!.IndexOf(name);
            return index >= 0 ? eventData.Payload![index] : null;
        }
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
