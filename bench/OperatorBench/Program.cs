using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Bench;
using Updraft.Bench.Operator;
using Updraft.Tests.Common.Kubernetes;

// Operator benchmark. Starts a real kube-apiserver v1.20 + etcd (tests/kube/apiserver.sh, through RealApiServer) and
// the real operator (src/Operator, Updraft.Operator.dll) as a child process, all on loopback, then measures in one run:
//   1. baseline: 1,000 KEDA ScaledObjects created directly by 32 concurrent creators; per object, its POST returning
//      -> its ADDED event read from a ScaledObject watch opened before anything was created (the API server's own
//      write + watch round trip);
//   2. operator: 1,000 HTTPScaledObjects created the same way; per object, its POST returning -> the ScaledObject the
//      operator writes for it read from the same kind of watch; also first create -> last ScaledObject seen;
//   3. once every HTTPScaledObject is Ready=True and the operator is idle (work queues empty, no worker running): its
//      API write requests per object (updraft_operator_api_writes_total), its working set and peak (VmHWM), and
//      whether it writes anything more in 5 idle seconds.
// Results: bench/results/<date>-<commit>-operator.json and a Markdown table on stdout.
var repo = BenchSupport.RepositoryRoot();
var configuration = args.Length > 0 ? args[0] : "Release";
const int Objects = 1000;
const int Creators = 32;
const string OperatorNamespace = "updraft-system";
const string DirectNamespace = "bench-direct";
const string MeasuredNamespace = "bench-operator";
var seenTimeout = TimeSpan.FromSeconds(120);
var readyTimeout = TimeSpan.FromSeconds(120);
var idleTimeout = TimeSpan.FromSeconds(60);
var idlePass = TimeSpan.FromSeconds(5);

// Ctrl-C and SIGTERM cancel the run, so the operator and the API server are still stopped on the way out.
using var stop = new CancellationTokenSource();
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupted);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupted);
var cancellationToken = stop.Token;

var api = new RealApiServer();
try
{
    await api.InitializeAsync();
    return await RunAsync(api, cancellationToken);
}
finally
{
    await api.DisposeAsync();
}

void Interrupted(PosixSignalContext context)
{
    context.Cancel = true;
    stop.Cancel();
}

async Task<int> RunAsync(RealApiServer api, CancellationToken cancellationToken)
{
    await api.ApplyCrdsWithKedaAsync(cancellationToken);
    foreach (var ns in new[] { OperatorNamespace, DirectNamespace, MeasuredNamespace })
    {
        await api.EnsureNamespaceAsync(ns, cancellationToken);
    }

    // Open the creators' connections (TLS handshakes) before anything is timed.
    await WarmUpAsync(api.Http, cancellationToken);

    // 1. Baseline: ScaledObjects written directly.
    Phase baseline;
    await using (var watch = await ScaledObjectWatch.StartAsync(api.Http, DirectNamespace, cancellationToken))
    {
        baseline = await CreateAllAsync(api.Http, $"apis/keda.sh/v1alpha1/namespaces/{DirectNamespace}/scaledobjects", i => ScaledObject(DirectNamespace, Name(i)), watch, seenTimeout, cancellationToken);
    }

    // 2. The operator.
    await using var operatorWatch = await ScaledObjectWatch.StartAsync(api.Http, MeasuredNamespace, cancellationToken);
    int metricsPort = BenchSupport.FreePort(), healthPort = BenchSupport.FreePort();
    using var updraftOperator = ChildProcess.Start(repo, $"src/Operator/bin/{configuration}/net10.0/Updraft.Operator.dll", new()
    {
        ["UPDRAFT_KUBECONFIG"] = api.Kubeconfig,
        ["KEDA_HTTP_OPERATOR_NAMESPACE"] = OperatorNamespace,
        ["KEDA_HTTP_OPERATOR_WATCH_NAMESPACE"] = MeasuredNamespace,
        ["UPDRAFT_OPERATOR_METRICS_BIND_ADDRESS"] = $"127.0.0.1:{Port(metricsPort)}",
        ["UPDRAFT_OPERATOR_HEALTH_PROBE_BIND_ADDRESS"] = $"127.0.0.1:{Port(healthPort)}",
        ["UPDRAFT_LOG_LEVEL"] = "warning",
    }, captureOutput: true);
    using var local = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
    try
    {
        var started = Stopwatch.GetTimestamp();
        await WaitReadyzAsync(local, healthPort, updraftOperator, cancellationToken);
        var startToReady = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        updraftOperator.Process.Refresh();
        var cpuAtReady = updraftOperator.Process.TotalProcessorTime;
        var workingSetAtReady = updraftOperator.Process.WorkingSet64 / (1024.0 * 1024.0);

        var operatorPhase = await CreateAllAsync(api.Http, $"apis/http.keda.sh/v1alpha1/namespaces/{MeasuredNamespace}/httpscaledobjects", i => HttpScaledObject(MeasuredNamespace, Name(i)), operatorWatch, seenTimeout, cancellationToken);
        var readySeconds = await WaitAllReadyAsync(api.Http, operatorPhase.FirstCreate, readyTimeout, cancellationToken);
        await WaitIdleAsync(local, metricsPort, idleTimeout, cancellationToken);

        var metrics = await ReadMetricsAsync(local, metricsPort, cancellationToken);
        var writes = Sum(metrics, "updraft_operator_api_writes_total");
        var writesBy = metrics.Where(s => s.Name == "updraft_operator_api_writes_total")
            .OrderBy(s => s.Label("resource"), StringComparer.Ordinal).ThenBy(s => s.Label("verb"), StringComparer.Ordinal)
            .ToDictionary(s => $"{s.Label("resource")} {s.Label("verb")}", s => s.Value / Objects, StringComparer.Ordinal);
        var reconciles = metrics.Where(s => s.Name == "controller_runtime_reconcile_total" && s.Value > 0)
            .OrderBy(s => s.Label("controller"), StringComparer.Ordinal).ThenBy(s => s.Label("result"), StringComparer.Ordinal)
            .ToDictionary(s => $"{s.Label("controller")} {s.Label("result")}", s => s.Value, StringComparer.Ordinal);
        updraftOperator.Process.Refresh();
        var workingSet = updraftOperator.Process.WorkingSet64 / (1024.0 * 1024.0);
        var burstCpu = updraftOperator.Process.TotalProcessorTime - cpuAtReady;
        var peakWorkingSet = ProcStatusMiB(updraftOperator.Process.Id, "VmHWM:");
        var watchEventsAfterBurst = operatorWatch.Events;

        // The idle pass: nothing changes, so nothing should be written.
        await Task.Delay(idlePass, cancellationToken);
        var idleMetrics = await ReadMetricsAsync(local, metricsPort, cancellationToken);
        var idleWrites = Sum(idleMetrics, "updraft_operator_api_writes_total") - writes;
        var idleWatchEvents = operatorWatch.Events.Sum(e => e.Value) - watchEventsAfterBurst.Sum(e => e.Value);
        var reconcileFailures = updraftOperator.CountLines("[5010]");

        Report(new Results(
            baseline, operatorPhase, startToReady, readySeconds, writes, writesBy, reconciles, workingSetAtReady, workingSet, peakWorkingSet, burstCpu,
            idleWrites, idleWatchEvents, watchEventsAfterBurst, reconcileFailures, updraftOperator.OutputLines));
        return 0;
    }
    catch (Exception e) when (e is not OperationCanceledException)
    {
        Console.Error.WriteLine($"operator bench: {e.Message}");
        Console.Error.WriteLine("the operator's last output lines:");
        foreach (var line in updraftOperator.Output().TakeLast(40))
        {
            Console.Error.WriteLine("  " + line);
        }

        throw;
    }
}

// 32 concurrent GETs, twice: every creator's connection is open and past its TLS handshake when the timing starts.
static async Task WarmUpAsync(HttpClient http, CancellationToken cancellationToken)
{
    for (var round = 0; round < 2; round++)
    {
        await Task.WhenAll(Enumerable.Range(0, Creators).Select(async _ =>
        {
            using var response = await http.GetAsync($"api/v1/namespaces/{DirectNamespace}", cancellationToken);
            response.EnsureSuccessStatusCode();
        }));
    }
}

// Creates Objects objects with Creators concurrent creators, then waits (bounded) until the watch has seen a
// ScaledObject for each; latency per object = watch-seen time - the moment its POST returned.
static async Task<Phase> CreateAllAsync(HttpClient http, string collection, Func<int, string> body, ScaledObjectWatch watch, TimeSpan seenTimeout, CancellationToken cancellationToken)
{
    var sent = new long[Objects];
    var returned = new long[Objects];
    var next = -1;
    var first = Stopwatch.GetTimestamp();
    await Task.WhenAll(Enumerable.Range(0, Creators).Select(async _ =>
    {
        int i;
        while ((i = Interlocked.Increment(ref next)) < Objects)
        {
            using var content = new StringContent(body(i), Encoding.UTF8, "application/json");
            sent[i] = Stopwatch.GetTimestamp();
            using var response = await http.PostAsync(collection, content, cancellationToken);
            returned[i] = Stopwatch.GetTimestamp();
            if (!response.IsSuccessStatusCode)
            {
                throw new HttpRequestException($"POST {collection} ({Name(i)}): {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(cancellationToken)}");
            }
        }
    }));
    var lastReturned = returned.Max();
    await watch.WaitForAsync(Objects, seenTimeout, cancellationToken);
    var seen = watch.Added;
    var latencies = new List<double>(Objects);
    var fromSent = new List<double>(Objects);
    var posts = new List<double>(Objects);
    var lastSeen = long.MinValue;
    for (var i = 0; i < Objects; i++)
    {
        var at = seen[Name(i)];
        lastSeen = Math.Max(lastSeen, at);
        latencies.Add(Stopwatch.GetElapsedTime(returned[i], at).TotalMilliseconds);
        fromSent.Add(Stopwatch.GetElapsedTime(sent[i], at).TotalMilliseconds);
        posts.Add(Stopwatch.GetElapsedTime(sent[i], returned[i]).TotalMilliseconds);
    }

    return new Phase(latencies, fromSent, posts, first,
        Stopwatch.GetElapsedTime(first, lastReturned).TotalMilliseconds,
        Stopwatch.GetElapsedTime(first, lastSeen).TotalMilliseconds,
        watch.Restarts,
        watch.Listed);
}

// /readyz answers 200 once the operator's caches are synced.
static async Task WaitReadyzAsync(HttpClient local, int healthPort, ChildProcess updraftOperator, CancellationToken cancellationToken)
{
    var deadline = Stopwatch.GetTimestamp() + (60 * Stopwatch.Frequency);
    while (true)
    {
        if (updraftOperator.Process.HasExited)
        {
            throw new InvalidOperationException($"the operator exited with code {updraftOperator.Process.ExitCode} before it was ready");
        }

        try
        {
            using var response = await local.GetAsync($"http://127.0.0.1:{Port(healthPort)}/readyz", cancellationToken);
            if (response.StatusCode == HttpStatusCode.OK)
            {
                return;
            }
        }
        catch (HttpRequestException)
        {
        }

        if (Stopwatch.GetTimestamp() > deadline)
        {
            throw new TimeoutException("the operator's /readyz did not answer 200 within 60 s");
        }

        await Task.Delay(20, cancellationToken);
    }
}

// Lists the HTTPScaledObjects until every one has Ready=True; returns the seconds since the first create.
static async Task<double> WaitAllReadyAsync(HttpClient http, long firstCreate, TimeSpan timeout, CancellationToken cancellationToken)
{
    var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    var collection = $"apis/http.keda.sh/v1alpha1/namespaces/{MeasuredNamespace}/httpscaledobjects";
    while (true)
    {
        using var response = await http.GetAsync(collection, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {collection}: {(int)response.StatusCode}: {body}");
        }

        var items = JsonNode.Parse(body)?["items"] as JsonArray ?? [];
        var ready = items.Count(item => (item?["status"]?["conditions"] as JsonArray)?.Any(c =>
            c?["type"]?.GetValue<string>() == "Ready" && c["status"]?.GetValue<string>() == "True") == true);
        if (ready == Objects)
        {
            return Stopwatch.GetElapsedTime(firstCreate).TotalSeconds;
        }

        if (Stopwatch.GetTimestamp() > deadline)
        {
            throw new TimeoutException($"only {ready} of {items.Count} HTTPScaledObjects were Ready=True within {timeout.TotalSeconds:0} s");
        }

        await Task.Delay(250, cancellationToken);
    }
}

// Idle: both controllers' work queues empty, no worker running and no Event pending, in three reads 200 ms apart.
static async Task WaitIdleAsync(HttpClient local, int metricsPort, TimeSpan timeout, CancellationToken cancellationToken)
{
    var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
    var idleReads = 0;
    var last = "";
    while (idleReads < 3)
    {
        var metrics = await ReadMetricsAsync(local, metricsPort, cancellationToken);
        var depths = metrics.Where(s => s.Name == "workqueue_depth").ToDictionary(s => s.Label("name"), s => s.Value, StringComparer.Ordinal);
        var workers = Sum(metrics, "controller_runtime_active_workers");
        var events = Sum(metrics, "updraft_operator_events_pending");
        var idle = depths.Count >= 2 && depths.TryGetValue("httpscaledobject", out var a) && a == 0
            && depths.TryGetValue("interceptorroute", out var b) && b == 0 && workers == 0 && events == 0;
        idleReads = idle ? idleReads + 1 : 0;
        last = $"workqueue_depth {string.Join(", ", depths.Select(d => $"{d.Key}={d.Value}"))}; active workers {workers}; events pending {events}";
        if (Stopwatch.GetTimestamp() > deadline)
        {
            throw new TimeoutException($"the operator was not idle within {timeout.TotalSeconds:0} s ({last})");
        }

        await Task.Delay(200, cancellationToken);
    }
}

static async Task<List<Sample>> ReadMetricsAsync(HttpClient local, int metricsPort, CancellationToken cancellationToken) =>
    PrometheusText.Parse(await local.GetStringAsync($"http://127.0.0.1:{Port(metricsPort)}/metrics", cancellationToken));

static double Sum(List<Sample> metrics, string name) => metrics.Where(s => s.Name == name).Sum(s => s.Value);

// A "VmXxx:   123 kB" line of /proc/<pid>/status, in MiB.
static double ProcStatusMiB(int pid, string field)
{
    var line = File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status").First(l => l.StartsWith(field, StringComparison.Ordinal));
    return long.Parse(line[field.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
}

static string Name(int i) => "app-" + i.ToString("D4", CultureInfo.InvariantCulture);

static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

// What the operator writes for an HTTPScaledObject (ScaledObjectTemplate), without the owner reference.
static string ScaledObject(string ns, string name) => new JsonObject
{
    ["apiVersion"] = "keda.sh/v1alpha1",
    ["kind"] = "ScaledObject",
    ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
    ["spec"] = new JsonObject
    {
        ["scaleTargetRef"] = new JsonObject { ["name"] = name, ["kind"] = "Deployment", ["apiVersion"] = "apps/v1" },
        ["pollingInterval"] = 15,
        ["minReplicaCount"] = 0,
        ["maxReplicaCount"] = 10,
        ["advanced"] = new JsonObject { ["restoreToOriginalReplicaCount"] = true },
        ["triggers"] = new JsonArray(new JsonObject
        {
            ["type"] = "external-push",
            ["metadata"] = new JsonObject
            {
                ["scalerAddress"] = $"keda-add-ons-http-external-scaler.{OperatorNamespace}:9090",
                ["httpScaledObject"] = name,
            },
        }),
    },
}.ToJsonString();

// As tests/Operator.Tests/Infrastructure/TestObjects.HttpScaledObject writes it: Deployment and Service <name>:8080, 0-10 replicas.
static string HttpScaledObject(string ns, string name) => new JsonObject
{
    ["apiVersion"] = "http.keda.sh/v1alpha1",
    ["kind"] = "HTTPScaledObject",
    ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
    ["spec"] = new JsonObject
    {
        ["hosts"] = new JsonArray(name + ".example.com"),
        ["scaleTargetRef"] = new JsonObject
        {
            ["name"] = name,
            ["kind"] = "Deployment",
            ["apiVersion"] = "apps/v1",
            ["service"] = name,
            ["port"] = 8080,
        },
        ["replicas"] = new JsonObject { ["min"] = 0, ["max"] = 10 },
    },
}.ToJsonString();

void Report(Results r)
{
    var commit = BenchSupport.ShortCommit(repo);
    var baselineP50 = BenchSupport.Percentile(r.Baseline.Latencies, 0.50);
    var baselineP99 = BenchSupport.Percentile(r.Baseline.Latencies, 0.99);
    var operatorP50 = BenchSupport.Percentile(r.Operator.Latencies, 0.50);
    var operatorP99 = BenchSupport.Percentile(r.Operator.Latencies, 0.99);
    var results = new Dictionary<string, object>
    {
        ["commit"] = commit,
        ["date"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
        ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
        ["apiServer"] = "kube-apiserver v1.20.2 + etcd, loopback",
        ["objects"] = Objects,
        ["creators"] = Creators,
        ["baselineScaledObjectPostReturnedToSeen"] = Summary(r.Baseline.Latencies),
        ["operatorHttpScaledObjectPostReturnedToScaledObjectSeen"] = Summary(r.Operator.Latencies),
        ["ratioP50"] = Math.Round(operatorP50 / baselineP50, 3),
        ["ratioP99"] = Math.Round(operatorP99 / baselineP99, 3),
        ["baselinePostSentToSeen"] = Summary(r.Baseline.FromSent),
        ["operatorPostSentToSeen"] = Summary(r.Operator.FromSent),
        ["baselinePost"] = Summary(r.Baseline.Posts),
        ["operatorPhasePost"] = Summary(r.Operator.Posts),
        ["baselineFirstCreateToLastPostReturnedMs"] = Math.Round(r.Baseline.FirstToLastReturnedMs, 1),
        ["baselineFirstCreateToLastSeenMs"] = Math.Round(r.Baseline.FirstToLastSeenMs, 1),
        ["operatorFirstCreateToLastPostReturnedMs"] = Math.Round(r.Operator.FirstToLastReturnedMs, 1),
        ["operatorFirstCreateToLastSeenMs"] = Math.Round(r.Operator.FirstToLastSeenMs, 1),
        ["baselineWatchRestarts"] = r.Baseline.WatchRestarts,
        ["baselineSeenThroughRelist"] = r.Baseline.Listed,
        ["operatorWatchRestarts"] = r.Operator.WatchRestarts,
        ["operatorSeenThroughRelist"] = r.Operator.Listed,
        ["operatorStartToReadyzMs"] = Math.Round(r.StartToReadyMs, 1),
        ["firstCreateToAllReadySeconds"] = Math.Round(r.ReadySeconds, 2),
        ["apiWritesTotal"] = r.Writes,
        ["apiWritesPerObject"] = Math.Round(r.Writes / Objects, 3),
        ["apiWritesPerObjectByResourceVerb"] = r.WritesBy,
        ["reconciles"] = r.Reconciles,
        ["scaledObjectWatchEvents"] = r.WatchEvents,
        ["operatorWorkingSetAtReadyMiB"] = Math.Round(r.WorkingSetAtReadyMiB, 1),
        ["operatorWorkingSetMiB"] = Math.Round(r.WorkingSetMiB, 1),
        ["operatorPeakWorkingSetMiB"] = Math.Round(r.PeakWorkingSetMiB, 1),
        ["operatorCpuSecondsReadyToIdle"] = Math.Round(r.BurstCpu.TotalSeconds, 2),
        ["operatorCpuMsPerObject"] = Math.Round(r.BurstCpu.TotalMilliseconds / Objects, 3),
        ["idlePassSeconds"] = idlePass.TotalSeconds,
        ["idlePassApiWrites"] = r.IdleWrites,
        ["idlePassScaledObjectWatchEvents"] = r.IdleWatchEvents,
        ["operatorReconcileFailureLogLines"] = r.ReconcileFailures,
        ["operatorOutputLines"] = r.OutputLines,
    };
    var resultsDirectory = Path.Combine(repo, "bench", "results");
    Directory.CreateDirectory(resultsDirectory);
    var file = Path.Combine(resultsDirectory, $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}-operator.json");
    File.WriteAllText(file, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));

    var table = new StringBuilder();
    table.AppendLine(Invariant($"Operator benchmark, {Objects} objects created at once by {Creators} concurrent creators, kube-apiserver v1.20 + etcd on loopback, commit {commit}, {Environment.ProcessorCount} cores"));
    table.AppendLine();
    table.AppendLine("| what | p50 ms | p90 ms | p99 ms | max ms | first create → last seen ms |");
    table.AppendLine("|---|---|---|---|---|---|");
    Row("baseline: ScaledObject POST returned → seen in a watch (API server write + watch)", r.Baseline.Latencies, r.Baseline.FirstToLastSeenMs);
    Row("operator: HTTPScaledObject POST returned → its ScaledObject seen in a watch", r.Operator.Latencies, r.Operator.FirstToLastSeenMs);
    table.AppendLine(Invariant($"| ratio operator / baseline | {operatorP50 / baselineP50:F2} | | {operatorP99 / baselineP99:F2} | | {r.Operator.FirstToLastSeenMs / r.Baseline.FirstToLastSeenMs:F2} |"));
    Row("context: POST round trip, baseline (ScaledObject)", r.Baseline.Posts, r.Baseline.FirstToLastReturnedMs);
    Row("context: POST round trip, operator pass (HTTPScaledObject)", r.Operator.Posts, r.Operator.FirstToLastReturnedMs);
    table.AppendLine();
    table.AppendLine("(The last column of the context rows is first create → last POST returned.)");
    table.AppendLine(Invariant($"Target: HTTPScaledObject → ScaledObject p99 ≤ 1 s at 1,000 objects created at once; measured p99 {operatorP99:F1} ms."));
    table.AppendLine(Invariant($"Every HTTPScaledObject Ready=True {r.ReadySeconds:F2} s after the first create (listed every 250 ms); operator start → /readyz 200: {r.StartToReadyMs:F0} ms."));
    table.AppendLine(Invariant($"API writes by the operator: {r.Writes:F0} = {r.Writes / Objects:F3} per object ({string.Join(", ", r.WritesBy.Select(w => Invariant($"{w.Key} {w.Value:F3}")))})."));
    table.AppendLine(Invariant($"Reconciles: {string.Join(", ", r.Reconciles.Select(c => Invariant($"{c.Key} {c.Value:F0}")))}; reconcile-failure log lines: {r.ReconcileFailures}."));
    table.AppendLine(Invariant($"Measuring watches closed by the server and resumed: baseline {r.Baseline.WatchRestarts}, operator {r.Operator.WatchRestarts}; names seen only through a re-list after 410 Gone: {r.Baseline.Listed + r.Operator.Listed}."));
    table.AppendLine(Invariant($"ScaledObject watch events in {MeasuredNamespace}: {string.Join(", ", r.WatchEvents.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} {e.Value}"))}."));
    table.AppendLine(Invariant($"Operator working set at /readyz (no objects): {r.WorkingSetAtReadyMiB:F1} MiB; once idle with the {Objects} objects: {r.WorkingSetMiB:F1} MiB; peak (VmHWM): {r.PeakWorkingSetMiB:F1} MiB; CPU from ready to idle: {r.BurstCpu.TotalSeconds:F2} s ({r.BurstCpu.TotalMilliseconds / Objects:F2} ms per object)."));
    table.AppendLine(Invariant($"Idle pass ({idlePass.TotalSeconds:F0} s, nothing changed): {r.IdleWrites:F0} API writes, {r.IdleWatchEvents} ScaledObject watch events."));
    table.AppendLine($"Results: {Path.GetRelativePath(repo, file)}");
    Console.WriteLine(table);

    void Row(string what, List<double> values, double firstToLast) =>
        table.AppendLine(Invariant($"| {what} | {BenchSupport.Percentile(values, 0.50):F1} | {BenchSupport.Percentile(values, 0.90):F1} | {BenchSupport.Percentile(values, 0.99):F1} | {values.Max():F1} | {firstToLast:F0} |"));
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

static object Summary(List<double> values) => new Dictionary<string, double>
{
    ["count"] = values.Count,
    ["p50Ms"] = Math.Round(BenchSupport.Percentile(values, 0.50), 3),
    ["p90Ms"] = Math.Round(BenchSupport.Percentile(values, 0.90), 3),
    ["p99Ms"] = Math.Round(BenchSupport.Percentile(values, 0.99), 3),
    ["maxMs"] = Math.Round(values.Max(), 3),
    ["minMs"] = Math.Round(values.Min(), 3),
};

/// <summary>One pass of creates: per object, POST returned → seen, POST sent → seen, and the POST round trip (ms).</summary>
/// <remarks><c>WatchRestarts</c>: times the server closed the watch during the pass (it resumed; see <see cref="ScaledObjectWatch"/>).</remarks>
internal sealed record Phase(
    List<double> Latencies,
    List<double> FromSent,
    List<double> Posts,
    long FirstCreate,
    double FirstToLastReturnedMs,
    double FirstToLastSeenMs,
    int WatchRestarts,
    int Listed);

/// <summary>Everything the report shows.</summary>
internal sealed record Results(
    Phase Baseline,
    Phase Operator,
    double StartToReadyMs,
    double ReadySeconds,
    double Writes,
    Dictionary<string, double> WritesBy,
    Dictionary<string, double> Reconciles,
    double WorkingSetAtReadyMiB,
    double WorkingSetMiB,
    double PeakWorkingSetMiB,
    TimeSpan BurstCpu,
    double IdleWrites,
    int IdleWatchEvents,
    IReadOnlyDictionary<string, int> WatchEvents,
    int ReconcileFailures,
    long OutputLines);
