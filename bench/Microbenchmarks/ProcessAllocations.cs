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
/// Target: at most 2 KB per proxied request.
/// </summary>
internal static class ProcessAllocations
{
    public const int TargetBytes = 2048;

    private const int WarmupRequests = 3_000;
    private const int RequestsPerRound = 5_000;
    private const int Rounds = 5;
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
        Console.WriteLine($"Process-wide allocations per proxied request ({Rounds} rounds of {RequestsPerRound} requests each way)" +
            (experiment ? $", with {string.Join(", ", settings!.Select(setting => $"{setting.Key}={setting.Value}"))}" : "") + "...");
        await using var rig = await HotPathRig.StartAsync(settings);
        await RepeatAsync(rig.DirectAsync, WarmupRequests);
        await RepeatAsync(rig.ProxiedAsync, WarmupRequests);

        var proxied = new List<double>();
        var direct = new List<double>();
        var difference = new List<double>();
        var proxiedMicroseconds = new List<double>();
        for (var round = 0; round < Rounds; round++)
        {
            var (directBytes, _) = await MeasureAsync(rig.DirectAsync, RequestsPerRound);
            var (proxiedBytes, elapsed) = await MeasureAsync(rig.ProxiedAsync, RequestsPerRound);
            direct.Add(directBytes / (double)RequestsPerRound);
            proxied.Add(proxiedBytes / (double)RequestsPerRound);
            difference.Add((proxiedBytes - directBytes) / (double)RequestsPerRound);
            proxiedMicroseconds.Add(elapsed.TotalMicroseconds / RequestsPerRound);
        }

        var types = await ProfileAsync(rig);
        var perRequest = Median(difference);
        var results = new Dictionary<string, object>
        {
            ["commit"] = BenchSupport.ShortCommit(repository),
            ["date"] = DateTime.UtcNow.ToString("O"),
            ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")} GC",
            ["requestsPerRound"] = RequestsPerRound,
            ["rounds"] = Rounds,
            ["interceptorBytesPerRequest"] = new Dictionary<string, double>
            {
                ["median"] = Math.Round(perRequest),
                ["min"] = Math.Round(difference.Min()),
                ["max"] = Math.Round(difference.Max()),
            },
            ["interceptorBytesPerRequestByRound"] = difference.Select(bytes => Math.Round(bytes)).ToArray(),
            ["processBytesPerProxiedRequest"] = Math.Round(Median(proxied)),
            ["processBytesPerDirectRequest"] = Math.Round(Median(direct)),
            ["proxiedRoundTripMicroseconds"] = Math.Round(Median(proxiedMicroseconds), 1),
            ["targetBytes"] = TargetBytes,
            ["targetMet"] = perRequest <= TargetBytes,
            ["sampledTypesBytesPerRequest"] = types,
        };

        var directory = Path.Combine(repository, "bench", "results");
        var file = Path.Combine(directory, $"{DateTime.UtcNow:yyyy-MM-dd}-{results["commit"]}-micro-allocations.json");
        if (!experiment)
        {
            Directory.CreateDirectory(directory);
            await File.WriteAllTextAsync(file, JsonSerializer.Serialize(results, Indented) + "\n");
        }

        var report = new StringBuilder();
        report.AppendLine($"Interceptor allocations per proxied request (whole process, proxied minus direct): median {perRequest:F0} B " +
            $"(rounds: {string.Join(", ", difference.Select(bytes => bytes.ToString("F0", System.Globalization.CultureInfo.InvariantCulture)))}); target <= {TargetBytes} B: {(perRequest <= TargetBytes ? "met" : "MISSED")}");
        report.AppendLine($"  process bytes per request: proxied {Median(proxied):F0} B, direct {Median(direct):F0} B; proxied round trip {Median(proxiedMicroseconds):F1} us");
        report.AppendLine("  sampled types (AllocationTick, approximate, proxied minus direct, B/request):");
        foreach (var (type, bytes) in types)
        {
            report.AppendLine($"    {bytes,8:F0}  {type}");
        }

        report.AppendLine(experiment ? "  (a what-if run: no file written)" : $"  written to {Path.GetRelativePath(repository, file)}");
        Console.Write(report);
    }

    private static async Task RepeatAsync(Func<Task<int>> request, int count)
    {
        for (var i = 0; i < count; i++)
        {
            await request();
        }
    }

    private static async Task<(long Bytes, TimeSpan Elapsed)> MeasureAsync(Func<Task<int>> request, int count)
    {
        var started = Stopwatch.GetTimestamp();
        var before = GC.GetTotalAllocatedBytes(precise: true);
        await RepeatAsync(request, count);
        var after = GC.GetTotalAllocatedBytes(precise: true);
        return (after - before, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>Approximate bytes per request by type, proxied minus direct, largest first (top 25).</summary>
    private static async Task<Dictionary<string, double>> ProfileAsync(HotPathRig rig)
    {
        using var listener = new AllocationSampler();
        listener.Reset();
        await RepeatAsync(rig.DirectAsync, ProfiledRequests);
        var direct = listener.Reset();
        await RepeatAsync(rig.ProxiedAsync, ProfiledRequests);
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
