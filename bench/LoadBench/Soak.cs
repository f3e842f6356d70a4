using System.Buffers.Text;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Updraft.Bench.Load;

/// <summary>One sample of the interceptor process and of the load so far, <see cref="Seconds"/> after the soak started.</summary>
/// <see cref="RssAnonMiB"/> and <see cref="RssFileMiB"/> split the RSS into anonymous memory (heaps, stacks) and mapped
/// files (code); <see cref="GcCommittedMiB"/> is what the GC held committed at its last collection.
internal sealed record SoakSample(
    double Seconds, double RssMiB, double RssAnonMiB, double RssFileMiB, double GcCommittedMiB, int Threads, int Handles, double GcHeapMiB,
    long Sent, long Answered, long Reloads, long ReloadErrors, int UpstreamRestarts);

/// <summary>
/// A least-squares slope per hour over the second half of the run, and the limit it must stay within; a series without
/// a limit is shown to explain the others and not judged.
/// </summary>
internal sealed record SoakSlope(string Series, string Unit, double PerHour, double? Limit)
{
    public bool Flat => Limit is not { } limit || Math.Abs(PerHour) <= limit;
}

/// <summary>
/// <c>./updraft.sh soak</c> (bench/README.md, "Soak"): the interceptor (Release, chart settings, one route) in front of
/// the bench backend at half of its measured maximum for <c>--minutes</c>, with a routes file rewrite every second and
/// an upstream restart (kill by pid, start again on the same port) every minute. Samples RSS, threads, handles and the
/// GC heap every 10 s; the series must be flat after warm-up, every request sent must get a status, and the route's
/// <c>/queue</c> counters must match what was sent.
/// </summary>
internal static class Soak
{
    // Growth limits over the second half of the run (after warm-up); bench/README.md "Soak" explains them.
    private const double RssMiBPerHour = 5;
    private const double GcHeapMiBPerHour = 5;
    private const double ThreadsPerHour = 5;
    private const double HandlesPerHour = 5;

    private const int Connections = 64;
    private const string RouteKey = "bench/app-1250-api-v1";

    /// <summary>Below this, a slope over the second half is mostly noise: reported, but not a verdict.</summary>
    private const double MinutesToJudgeSlopes = 10;

    private static readonly JsonSerializerOptions CamelCase = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static readonly HttpClient Http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(5) };

    public static int Run(string repo, string work, string configuration, string[] args, Action<string> log)
    {
        var smoke = args.Contains("--smoke");
        var nativeAot = args.Contains("--aot");
        var minutes = smoke ? 1 : Option(args, "--minutes") is { } m ? (double.TryParse(m, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value is >= 1 and <= 24 * 60 ? value : -1) : 30;
        if (minutes < 0)
        {
            Console.Error.WriteLine("soak: --minutes takes the soak's length in minutes, 1 to 1440 (e.g. --minutes 30)");
            return 2;
        }

        var idle = args.Contains("--idle");
        var measureSeconds = smoke ? 3 : 10;
        var clock = Stopwatch.StartNew();
        var commit = BenchSupport.ShortCommit(repo);
        if (LoadTools.Version("wrk", "-v") == "missing")
        {
            Console.Error.WriteLine("soak: wrk is not installed (./updraft.sh soak installs it)");
            return 1;
        }

        log(Invariant($"{(idle ? "idle soak" : "soak")}, commit {commit}, {Environment.ProcessorCount} cores, {minutes} min, the {(nativeAot ? "Native AOT" : "JIT")} build"));
        var starter = new Targets(repo, work, configuration);
        InterceptorBuild? build = null;
        if (nativeAot && (build = starter.PublishNativeAot(log)) is null)
        {
            Console.Error.WriteLine("soak: --aot, but the Native AOT publish failed (see above)");
            return 1;
        }

        if (idle)
        {
            return IdleSoak.Run(repo, work, starter, build, commit, clock, minutes, smoke, Option(args, "--out"), log);
        }

        var backend = starter.StartBackend();
        int adminPort = BenchSupport.FreePort(), metricsPort = BenchSupport.FreePort();
        var interceptor = starter.StartInterceptor("interceptor", "Updraft interceptor, 1 route", backend.Port, routes: 1, new Dictionary<string, string>
        {
            ["DOTNET_GCgen0size"] = "0x4000000", // the chart's setting
            ["KEDA_HTTP_ADMIN_PORT"] = Invariant(adminPort),
            ["OTEL_PROM_EXPORTER_ENABLED"] = "true",
            ["OTEL_PROM_EXPORTER_PORT"] = Invariant(metricsPort),
        }, build);
        var routesFile = Path.Combine(work, "interceptor-routes.yaml");
        string[] routeVersions = [Targets.RoutesYaml(1, backend.Port), Targets.RoutesYaml(1, backend.Port) + SpareRoute(backend.Port)];
        var upstream = new Upstream(repo, work, configuration, backend);

        // The maximum: wrk's closed loop through the interceptor, after a short warm-up.
        var script = LoadTools.WriteWrkScript(work);
        var url = $"http://127.0.0.1:{interceptor.Port}{Targets.Path}";
        LoadTools.Wrk(script, url, Targets.Host, 2, Connections, smoke ? 1 : 3);
        var max = LoadTools.Wrk(script, url, Targets.Host, 2, Connections, measureSeconds);
        var rate = Math.Round(max.RequestsPerSecond / 2);
        log(Invariant($"maximum {max.RequestsPerSecond:F0} req/s (wrk -c{Connections}, {measureSeconds} s); soak at {rate:F0} req/s for {minutes} min"));

        var before = WaitForIdleQueue(adminPort, TimeSpan.FromSeconds(30));
        var request = Encoding.ASCII.GetBytes($"GET {Targets.Path} HTTP/1.1\r\nHost: {Targets.Host}\r\n\r\n");
        var client = new SoakClient(new IPEndPoint(IPAddress.Loopback, interceptor.Port), request, rate, minutes * 60, Connections);
        var samples = new List<SoakSample>();
        using var stop = new CancellationTokenSource();
        long reloadsWritten = 0;
        var restarts = 0;
        var restartFailures = new List<string>();

        var soakStart = Stopwatch.GetTimestamp();
        double Elapsed() => Stopwatch.GetElapsedTime(soakStart).TotalSeconds;
        client.Start();
        var reloader = new Thread(() =>
        {
            for (var tick = 1; !stop.IsCancellationRequested; tick++)
            {
                if (stop.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(Math.Max(0, tick - Elapsed()))))
                {
                    return;
                }

                // Another file renamed over the routes file, so a reload never sees half a version.
                var next = routesFile + ".next";
                File.WriteAllText(next, routeVersions[tick % 2]);
                File.Move(next, routesFile, overwrite: true);
                Interlocked.Increment(ref reloadsWritten);
            }
        }) { IsBackground = true, Name = "soak-reload" };
        var restarter = new Thread(() =>
        {
            for (var minute = 1; !stop.IsCancellationRequested; minute++)
            {
                // Half-way through each minute, so that a one-minute run has one restart too.
                if (stop.Token.WaitHandle.WaitOne(TimeSpan.FromSeconds(Math.Max(0, (minute * 60) - 30 - Elapsed()))))
                {
                    return;
                }

                try
                {
                    var gap = upstream.Restart();
                    Interlocked.Increment(ref restarts);
                    log(Invariant($"upstream restarted (pid {upstream.Process.Id}), down for {gap.TotalMilliseconds:F0} ms"));
                }
                catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or System.ComponentModel.Win32Exception)
                {
                    lock (restartFailures)
                    {
                        restartFailures.Add(e.Message);
                    }

                    log($"upstream restart failed: {e.Message}");
                }
            }
        }) { IsBackground = true, Name = "soak-restart" };
        reloader.Start();
        restarter.Start();

        // Every 10 s a sample; the GC heap is read every second and sampled as the lowest of those 10 readings, the
        // floor after collections, because the chart's 64 MiB first generation makes single readings swing by that much.
        var gcFloor = double.MaxValue;
        var metrics = Metrics(metricsPort);
        for (var second = 0; !client.IsDone; second++)
        {
            Native.SleepUntil(Native.Now() + (long)(Math.Max(0, second - Elapsed()) * 1e9));
            // A scrape that times out on a busy machine keeps the previous reading rather than ending a long run.
            metrics = TryMetrics(metricsPort) ?? metrics;
            gcFloor = Math.Min(gcFloor, metrics.GcHeapMiB);
            if (second % 10 == 0)
            {
                var sample = Sample(interceptor.Process, Elapsed(), gcFloor, metrics, client, restarts);
                samples.Add(sample);
                gcFloor = double.MaxValue;
                if (second % 60 == 0)
                {
                    log(Invariant($"{sample.Seconds / 60,4:F1} min  RSS {sample.RssMiB:F1} MiB (anonymous {sample.RssAnonMiB:F1}, GC committed {sample.GcCommittedMiB:F1})  threads {sample.Threads}  handles {sample.Handles}  GC heap {sample.GcHeapMiB:F1} MiB  sent {sample.Sent}  awaiting a status {sample.Sent - sample.Answered}  reloads {sample.Reloads}"));
                }
            }
        }

        stop.Cancel();
        reloader.Join(TimeSpan.FromSeconds(10));
        restarter.Join(TimeSpan.FromSeconds(70));
        var load = client.Finish();
        var end = Metrics(metricsPort);
        samples.Add(Sample(interceptor.Process, Elapsed(), end.GcHeapMiB, end, client, restarts));
        var after = WaitForIdleQueue(adminPort, TimeSpan.FromSeconds(30));

        // The last sample is taken after the client closed its connections: shown, but not part of the slopes.
        var secondHalf = samples.SkipLast(1).Where(s => s.Seconds >= minutes * 30).ToList();
        SoakSlope[] slopes =
        [
            new("RSS", "MiB", Slope(secondHalf, s => s.RssMiB), RssMiBPerHour),
            new("RSS, anonymous", "MiB", Slope(secondHalf, s => s.RssAnonMiB), null),
            new("RSS, mapped files", "MiB", Slope(secondHalf, s => s.RssFileMiB), null),
            new("GC committed", "MiB", Slope(secondHalf, s => s.GcCommittedMiB), null),
            new("GC heap (10 s floor)", "MiB", Slope(secondHalf, s => s.GcHeapMiB), GcHeapMiBPerHour),
            new("threads", "", Slope(secondHalf, s => s.Threads), ThreadsPerHour),
            new("handles (open fds)", "", Slope(secondHalf, s => s.Handles), HandlesPerHour),
        ];
        var withoutStatus = load.Sent - load.Answered;
        var drift = after.RequestCount - before.RequestCount - load.Sent;
        var judgeSlopes = minutes >= MinutesToJudgeSlopes;
        var flat = slopes.All(s => s.Flat);
        var ok = withoutStatus == 0 && drift == 0 && after.Concurrency == 0 && restartFailures.Count == 0 && (flat || !judgeSlopes);

        var buildName = nativeAot ? "Native AOT (the image's build)" : "JIT";
        var markdown = Markdown(commit, buildName, minutes, max.RequestsPerSecond, rate, load, samples, slopes, judgeSlopes, withoutStatus, drift, before, after, end, Interlocked.Read(ref reloadsWritten), restarts, restartFailures, clock.Elapsed);
        var json = new JsonObject
        {
            ["commit"] = commit,
            ["date"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            ["cores"] = Environment.ProcessorCount,
            ["build"] = nativeAot ? "native-aot" : "jit",
            ["minutes"] = minutes,
            ["measuredMaxRps"] = max.RequestsPerSecond,
            ["rate"] = rate,
            ["achievedRate"] = Math.Round(load.Sent / (minutes * 60), 1),
            ["connections"] = Connections,
            ["sent"] = load.Sent,
            ["answered"] = load.Answered,
            ["withoutStatus"] = withoutStatus,
            ["skipped"] = load.Skipped,
            ["statuses"] = new JsonObject(load.Statuses.OrderBy(s => s.Key).Select(s => KeyValuePair.Create(Invariant(s.Key), (JsonNode?)s.Value))),
            ["queueBefore"] = new JsonObject { ["requestCount"] = before.RequestCount, ["concurrency"] = before.Concurrency },
            ["queueAfter"] = new JsonObject { ["requestCount"] = after.RequestCount, ["concurrency"] = after.Concurrency },
            ["counterDrift"] = drift,
            ["reloadsWritten"] = Interlocked.Read(ref reloadsWritten),
            ["reloadsApplied"] = end.Reloads,
            ["reloadErrors"] = end.ReloadErrors,
            ["upstreamRestarts"] = restarts,
            ["upstreamRestartFailures"] = new JsonArray([.. restartFailures.Select(f => (JsonNode?)f)]),
            ["slopesPerHour"] = new JsonObject(slopes.Select(s => KeyValuePair.Create(s.Series, (JsonNode?)new JsonObject { ["perHour"] = Math.Round(s.PerHour, 3), ["limit"] = s.Limit, ["flat"] = s.Flat }))),
            ["slopesJudged"] = judgeSlopes,
            ["passed"] = ok,
            ["samples"] = JsonSerializer.SerializeToNode(samples, CamelCase),
        };
        var file = Option(args, "--out") is { } o
            ? Path.GetFullPath(o)
            : smoke
                ? Path.Combine(Path.GetTempPath(), $"updraft-soak-smoke-{commit}.json")
                : Path.Combine(repo, "bench", "results", $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}-soak{(nativeAot ? "-aot" : "")}.json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, json.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine();
        Console.WriteLine(markdown);
        Console.WriteLine($"Results: {file} ({clock.Elapsed.TotalSeconds:F0} s)");
        return ok ? 0 : 1;
    }

    private static string Markdown(
        string commit, string buildName, double minutes, double max, double rate, SoakLoad load, List<SoakSample> samples, SoakSlope[] slopes, bool judgeSlopes,
        long withoutStatus, long drift, QueueCounts before, QueueCounts after, MetricsReading end, long reloadsWritten, int restarts, List<string> restartFailures, TimeSpan elapsed)
    {
        var md = new StringBuilder();
        void Line(FormattableString text) => md.AppendLine(Invariant(text));
        Line($"Soak, commit {commit}, {Environment.ProcessorCount} cores, {elapsed.TotalMinutes:F1} min in all. The interceptor ({buildName}, Release, DOTNET_GCgen0size=0x4000000, 1 route) at {rate:F0} req/s, half of its measured maximum ({max:F0} req/s), open loop over {Connections} connections for {minutes} min; the routes file rewritten every second, the upstream killed and restarted every minute.");
        md.AppendLine();
        md.AppendLine("| min | RSS MiB | anonymous | mapped files | GC committed MiB | threads | handles | GC heap MiB (10 s floor) | sent | awaiting a status (in flight) | reloads applied | upstream restarts |");
        md.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var (s, i) in samples.Select((s, i) => (s, i)).Where(x => x.i == samples.Count - 1 || Math.Round(x.s.Seconds) % 60 < 10))
        {
            var when = i == samples.Count - 1 ? Invariant($"{s.Seconds / 60:F1} (load stopped)") : Invariant($"{s.Seconds / 60:F1}");
            Line($"| {when} | {s.RssMiB:F1} | {s.RssAnonMiB:F1} | {s.RssFileMiB:F1} | {s.GcCommittedMiB:F1} | {s.Threads} | {s.Handles} | {s.GcHeapMiB:F1} | {s.Sent} | {s.Sent - s.Answered} | {s.Reloads} | {s.UpstreamRestarts} |");
        }

        md.AppendLine();
        md.AppendLine("Least-squares slope per hour over the second half of the run (after warm-up):");
        md.AppendLine();
        md.AppendLine("| series | slope per hour | limit | flat |");
        md.AppendLine("|---|---:|---:|---|");
        foreach (var s in slopes)
        {
            Line($"| {s.Series} | {s.PerHour:+0.00;-0.00} {s.Unit} | {(s.Limit is { } limit ? Invariant($"±{limit} {s.Unit}") : "not judged")} | {(s.Limit is null ? "" : s.Flat ? "yes" : "**no**")} |");
        }

        md.AppendLine();
        var statuses = string.Join(", ", load.Statuses.OrderBy(s => s.Key).Select(s => Invariant($"{s.Key}: {s.Value}")));
        Line($"Requests: {load.Sent} sent ({load.Sent / (minutes * 60):F0}/s), {load.Answered} with a status ({statuses}), {load.Skipped} not sent because a connection was more than 2 s behind its schedule.");
        Line($"Reloads: {reloadsWritten} routes file versions written, {end.Reloads} applied, {end.ReloadErrors} rejected. Upstream restarts: {restarts}{(restartFailures.Count > 0 ? $", {restartFailures.Count} failed" : "")}.");
        Line($"/queue {RouteKey}: RequestCount {before.RequestCount} before the soak, {after.RequestCount} after; Concurrency {after.Concurrency} at the end.");
        md.AppendLine();
        Line($"- flat: {(slopes.All(s => s.Flat) ? "yes" : "**no**")}{(judgeSlopes ? "" : Invariant($" (indicative only: a {minutes}-minute run is too short to judge a slope; {MinutesToJudgeSlopes} minutes or more)"))}");
        Line($"- without status: {withoutStatus} {(withoutStatus == 0 ? "(ok)" : "(**must be 0**)")}");
        Line($"- counter drift (RequestCount delta − sent): {drift} {(drift == 0 ? "(ok)" : "(**must be 0**)")}; Concurrency at the end {after.Concurrency} {(after.Concurrency == 0 ? "(ok)" : "(**must be 0**)")}");
        return md.ToString();
    }

    private static string SpareRoute(int backendPort) => Invariant($$"""
        apiVersion: http.keda.sh/v1beta1
        kind: InterceptorRoute
        metadata: {name: soak-spare, namespace: bench}
        spec:
          target: {service: 127.0.0.1, port: {{backendPort}}}
          scalingMetric:
            concurrency: {targetValue: 100}
          rules: [{hosts: [spare.bench], paths: [{value: "/"}]}]
        ---

        """);

    /// <summary>Least squares over (hours, value), in units per hour; 0 with fewer than two samples.</summary>
    private static double Slope(List<SoakSample> samples, Func<SoakSample, double> value)
    {
        if (samples.Count < 2)
        {
            return 0;
        }

        var meanT = samples.Average(s => s.Seconds / 3600);
        var meanV = samples.Average(value);
        var covariance = samples.Sum(s => ((s.Seconds / 3600) - meanT) * (value(s) - meanV));
        var variance = samples.Sum(s => Math.Pow((s.Seconds / 3600) - meanT, 2));
        return variance > 0 ? covariance / variance : 0;
    }

    private static SoakSample Sample(ChildProcess process, double seconds, double gcHeapMiB, MetricsReading metrics, SoakClient client, int restarts)
    {
        var (sent, answered) = client.Progress();
        return new SoakSample(
            Math.Round(seconds, 1), process.StatusMiB("VmRSS"), process.StatusMiB("RssAnon"), process.StatusMiB("RssFile"), Math.Round(metrics.GcCommittedMiB, 1), (int)StatusValue(process.Id, "Threads"),
            Directory.EnumerateFileSystemEntries($"/proc/{process.Id}/fd").Count(), Math.Round(gcHeapMiB, 1),
            sent, answered, metrics.Reloads, metrics.ReloadErrors, restarts);
    }

    private static long StatusValue(int pid, string field)
    {
        var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field + ":", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"/proc/{pid}/status has no {field}");
        return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
    }

    private sealed record MetricsReading(double GcHeapMiB, double GcCommittedMiB, long Reloads, long ReloadErrors);

    /// <summary>The interceptor's Prometheus /metrics: prometheus-net's <c>dotnet_total_memory_bytes</c> (GC.GetTotalMemory) and the reload counter.</summary>
    private static MetricsReading Metrics(int port)
    {
        var text = Http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics")).GetAwaiter().GetResult();
        double Value(string series) => text.Split('\n').Where(l => l.StartsWith(series + " ", StringComparison.Ordinal))
            .Select(l => double.Parse(l[(series.Length + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture)).FirstOrDefault();
        return new MetricsReading(
            Value("dotnet_total_memory_bytes") / (1024.0 * 1024),
            Value("dotnet_gc_last_collection_memory_committed_size_bytes") / (1024.0 * 1024),
            (long)Value("interceptor_route_reloads_total{result=\"success\"}"),
            (long)Value("interceptor_route_reloads_total{result=\"error\"}"));
    }

    private static MetricsReading? TryMetrics(int port)
    {
        try
        {
            return Metrics(port);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private sealed record QueueCounts(long RequestCount, int Concurrency);

    /// <summary>The route's /queue counts once nothing is in flight (or after <paramref name="timeout"/>, as they are).</summary>
    private static QueueCounts WaitForIdleQueue(int adminPort, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            using var json = JsonDocument.Parse(Http.GetStringAsync(new Uri($"http://127.0.0.1:{adminPort}/queue")).GetAwaiter().GetResult());
            var route = json.RootElement.GetProperty(RouteKey);
            var counts = new QueueCounts(route.GetProperty("RequestCount").GetInt64(), route.GetProperty("Concurrency").GetInt32());
            if (counts.Concurrency == 0 || DateTime.UtcNow > deadline)
            {
                return counts;
            }

            Thread.Sleep(100);
        }
    }

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The backend, killed by its pid and started again on the same ports.</summary>
    private sealed class Upstream(string repo, string work, string configuration, Target first)
    {
        private int _generation;

        public ChildProcess Process { get; private set; } = first.Process;

        /// <summary>Kills the backend and starts it again; returns how long it did not answer.</summary>
        public TimeSpan Restart()
        {
            var down = Stopwatch.GetTimestamp();
            Process.Dispose();
            var dll = Path.Combine(repo, "bench", "Backend", "bin", configuration, "net10.0", "Updraft.Bench.Backend.dll");
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (true)
            {
                // The port may still be held for a moment by the killed process: start again until one stays up.
                Process = ChildProcess.Start($"backend-{++_generation}", "dotnet", [dll, Invariant(first.Port), Invariant(first.H2cPort!.Value)], work);
                while (!Process.HasExited && !Answers(first.Port) && DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(20);
                }

                if (!Process.HasExited && Answers(first.Port))
                {
                    return Stopwatch.GetElapsedTime(down);
                }

                if (DateTime.UtcNow >= deadline)
                {
                    throw new TimeoutException($"the backend did not come back within 30 s:{Environment.NewLine}{Process.LogTail()}");
                }

                Process.Dispose();
            }
        }

        private static bool Answers(int port)
        {
            try
            {
                using var response = Http.Send(new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}{Targets.Path}"));
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                return false;
            }
        }
    }
}

/// <summary>What the soak client did: requests sent, those that got a status (by status code), those skipped.</summary>
internal sealed record SoakLoad(long Sent, long Answered, long Skipped, IReadOnlyDictionary<int, long> Statuses);

/// <summary>
/// The soak's load: <see cref="ConstantRateClient"/>'s open-loop schedule (request <c>i</c> due at
/// <c>start + i / rate</c>, dealt round-robin over keep-alive connections, one thread each), but for a long run: no
/// latency arrays, every status code counted (a 502 is an answer; only a request that never got a status line is not),
/// and a connection that falls more than 2 s behind skips ahead instead of stopping, so one upstream restart does not
/// end the run.
/// </summary>
internal sealed class SoakClient(IPEndPoint endpoint, byte[] request, double rate, double seconds, int connections)
{
    private const long NanosecondsPerSecond = 1_000_000_000;
    private static readonly long LagLimit = 2 * NanosecondsPerSecond;

    private readonly Worker[] _workers = [.. Enumerable.Range(0, connections).Select(_ => new Worker(endpoint, request))];
    private readonly List<Thread> _threads = [];

    public bool IsDone => _threads.All(t => !t.IsAlive);

    public void Start()
    {
        var total = (long)(rate * seconds);
        var start = Native.Now() + (NanosecondsPerSecond / 10);
        var interval = NanosecondsPerSecond / rate;
        for (var c = 0; c < connections; c++)
        {
            var worker = _workers[c];
            var first = c;
            var thread = new Thread(() => worker.Run(first, connections, total, start, interval), maxStackSize: 256 * 1024) { IsBackground = true, Name = $"soak-{first}" };
            _threads.Add(thread);
            thread.Start();
        }
    }

    public (long Sent, long Answered) Progress() => (_workers.Sum(w => Interlocked.Read(ref w.Sent)), _workers.Sum(w => Interlocked.Read(ref w.Answered)));

    /// <summary>Waits for every connection to finish its schedule (each ends by it; a socket waits at most 30 s).</summary>
    public SoakLoad Finish()
    {
        var joinBy = DateTime.UtcNow.AddSeconds(90);
        foreach (var thread in _threads)
        {
            var left = joinBy - DateTime.UtcNow;
            if (left <= TimeSpan.Zero || !thread.Join(left))
            {
                throw new TimeoutException("the soak client did not finish");
            }
        }

        var statuses = _workers.SelectMany(w => w.Statuses).GroupBy(s => s.Key).ToDictionary(g => g.Key, g => g.Sum(s => s.Value));
        foreach (var worker in _workers)
        {
            worker.Dispose();
        }

        return new SoakLoad(_workers.Sum(w => w.Sent), _workers.Sum(w => w.Answered), _workers.Sum(w => w.Skipped), statuses);
    }

    private sealed class Worker(IPEndPoint endpoint, byte[] request) : IDisposable
    {
        public long Sent;
        public long Answered;

        private readonly byte[] _buffer = new byte[16 * 1024];
        private Socket? _socket;

        public Dictionary<int, long> Statuses { get; } = [];

        public long Skipped { get; private set; }

        public void Run(long first, int step, long total, long start, double interval)
        {
            Native.UseFineTimerSlack();
            for (var i = first; i < total; i += step)
            {
                var due = start + (long)(i * interval);
                var now = Native.Now();
                if (now < due)
                {
                    Native.SleepUntil(due);
                }
                else if (now - due > LagLimit)
                {
                    // Skip to this connection's next request that is not yet due.
                    var next = (long)Math.Ceiling((now - start) / interval);
                    var skipTo = next + (((first - next) % step) + step) % step;
                    Skipped += (Math.Min(skipTo, total) - i + step - 1) / step;
                    i = skipTo - step;
                    continue;
                }

                Interlocked.Increment(ref Sent);
                var status = Exchange();
                if (status > 0)
                {
                    Interlocked.Increment(ref Answered);
                    Statuses[status] = Statuses.GetValueOrDefault(status) + 1;
                }
            }
        }

        public void Dispose() => _socket?.Dispose();

        /// <summary>Sends the request and reads one response; its status code, or 0 when no status line arrived.</summary>
        private int Exchange()
        {
            var status = 0;
            try
            {
                if (_socket is null)
                {
                    Connect();
                }

                var socket = _socket!;
                socket.Send(request);
                var length = 0;
                var headerEnd = -1;
                while (headerEnd < 0)
                {
                    if (!Receive(socket, ref length))
                    {
                        Drop();
                        return 0;
                    }

                    headerEnd = _buffer.AsSpan(0, length).IndexOf("\r\n\r\n"u8);
                }

                ReadOnlySpan<byte> head = _buffer.AsSpan(0, headerEnd + 2);
                if (head.Length < 12 || !Utf8Parser.TryParse(head[9..12], out status, out _))
                {
                    Drop();
                    return 0;
                }

                if (!ReadBody(socket, head, headerEnd + 4, status, ref length))
                {
                    Drop();
                }

                return status;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Drop();
                return status;
            }
        }

        /// <summary>Reads the body; false when the connection cannot be reused afterwards.</summary>
        private bool ReadBody(Socket socket, ReadOnlySpan<byte> head, int bodyStart, int status, ref int length)
        {
            var close = false;
            var chunked = false;
            var contentLength = -1;
            foreach (var range in head.Split("\r\n"u8))
            {
                var line = head[range];
                var colon = line.IndexOf((byte)':');
                if (colon <= 0)
                {
                    continue;
                }

                var name = line[..colon];
                var value = line[(colon + 1)..].Trim((byte)' ');
                if (Ascii.EqualsIgnoreCase(name, "content-length"u8))
                {
                    _ = Utf8Parser.TryParse(value, out contentLength, out _);
                }
                else if (Ascii.EqualsIgnoreCase(name, "transfer-encoding"u8))
                {
                    chunked = Ascii.EqualsIgnoreCase(value, "chunked"u8);
                }
                else if (Ascii.EqualsIgnoreCase(name, "connection"u8))
                {
                    close = Ascii.EqualsIgnoreCase(value, "close"u8);
                }
            }

            if (status is 204 or 304)
            {
                return !close;
            }

            if (contentLength >= 0)
            {
                while (length < bodyStart + contentLength)
                {
                    if (!Receive(socket, ref length))
                    {
                        return false;
                    }
                }

                return !close;
            }

            if (chunked)
            {
                // Small bodies only: the last chunk ends the response.
                while (!_buffer.AsSpan(bodyStart, length - bodyStart).EndsWith("0\r\n\r\n"u8))
                {
                    if (!Receive(socket, ref length))
                    {
                        return false;
                    }
                }

                return !close;
            }

            return false;
        }

        private void Connect()
        {
            _socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)
            {
                NoDelay = true,
                ReceiveTimeout = 30_000,
                SendTimeout = 30_000,
            };
            _socket.Connect(endpoint);
        }

        /// <summary>Closes the connection; the next request opens a new one.</summary>
        private void Drop()
        {
            _socket?.Dispose();
            _socket = null;
        }

        private bool Receive(Socket socket, ref int length)
        {
            if (length == _buffer.Length)
            {
                return false;
            }

            var read = socket.Receive(_buffer, length, _buffer.Length - length, SocketFlags.None);
            length += read;
            return read > 0;
        }
    }
}
