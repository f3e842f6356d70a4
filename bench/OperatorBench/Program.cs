using System.Diagnostics;
using System.Globalization;
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
//      whether it writes anything more in 5 idle seconds;
//   4. Functions: 500 OpenFunction Functions (engine keda, five realistic shapes) created the same way in the same
//      namespace (the 1,000 HTTPScaledObjects stay); per Function, its POST returning -> all five children it gets seen
//      in watches, and -> its Ready=True seen in a Function watch; the operator's API writes per Function, and a 5 s
//      idle pass. The benchmark plays the deployment controller (none runs beside the test API server): it patches each
//      Deployment's /status with observedGeneration (DeploymentController.cs), without which no Function is Ready.
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
var functionsTimeout = TimeSpan.FromSeconds(300);
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
    await using (var watch = await ObjectWatch.ScaledObjectsAsync(api.Http, DirectNamespace, cancellationToken))
    {
        baseline = await CreateAllAsync(api.Http, $"apis/keda.sh/v1alpha1/namespaces/{DirectNamespace}/scaledobjects", i => ScaledObject(DirectNamespace, Name(i)), watch, seenTimeout, cancellationToken);
    }

    // 2. The operator (its Function controller on, as by default: phase 4 measures it).
    var operatorWatch = await ObjectWatch.ScaledObjectsAsync(api.Http, MeasuredNamespace, cancellationToken);
    int metricsPort = BenchSupport.FreePort(), healthPort = BenchSupport.FreePort();
    using var updraftOperator = ChildProcess.Start(repo, $"src/Operator/bin/{configuration}/net10.0/Updraft.Operator.dll", new()
    {
        ["UPDRAFT_KUBECONFIG"] = api.Kubeconfig,
        ["KEDA_HTTP_OPERATOR_NAMESPACE"] = OperatorNamespace,
        ["KEDA_HTTP_OPERATOR_WATCH_NAMESPACE"] = MeasuredNamespace,
        ["UPDRAFT_OPERATOR_METRICS_BIND_ADDRESS"] = $"127.0.0.1:{Port(metricsPort)}",
        ["UPDRAFT_OPERATOR_HEALTH_PROBE_BIND_ADDRESS"] = $"127.0.0.1:{Port(healthPort)}",
        ["UPDRAFT_OPERATOR_FUNCTIONS"] = "true",
        ["UPDRAFT_LOG_LEVEL"] = "warning",
    }, captureOutput: true);
    using var probe = new OperatorProbe(updraftOperator, metricsPort, healthPort);
    try
    {
        var started = Stopwatch.GetTimestamp();
        await probe.WaitReadyzAsync(cancellationToken);
        var startToReady = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        updraftOperator.Process.Refresh();
        var cpuAtReady = updraftOperator.Process.TotalProcessorTime;
        var workingSetAtReady = updraftOperator.Process.WorkingSet64 / (1024.0 * 1024.0);

        var operatorPhase = await CreateAllAsync(api.Http, $"apis/http.keda.sh/v1alpha1/namespaces/{MeasuredNamespace}/httpscaledobjects", i => HttpScaledObject(MeasuredNamespace, Name(i)), operatorWatch, seenTimeout, cancellationToken);
        var readySeconds = await WaitAllReadyAsync(api.Http, operatorPhase.FirstCreate, readyTimeout, cancellationToken);
        await probe.WaitIdleAsync(["httpscaledobject", "interceptorroute"], static () => true, idleTimeout, cancellationToken);

        var metrics = await probe.ReadMetricsAsync(cancellationToken);
        var writes = OperatorProbe.Sum(metrics, OperatorProbe.ApiWrites);
        var writesBy = OperatorProbe.Delta([], OperatorProbe.WritesBy(metrics)).ToDictionary(w => w.Key, w => w.Value / Objects, StringComparer.Ordinal);
        var reconciles = OperatorProbe.Delta([], OperatorProbe.Reconciles(metrics));
        updraftOperator.Process.Refresh();
        var workingSet = updraftOperator.Process.WorkingSet64 / (1024.0 * 1024.0);
        var burstCpu = updraftOperator.Process.TotalProcessorTime - cpuAtReady;
        var peakWorkingSet = ProcStatusMiB(updraftOperator.Process.Id, "VmHWM:");
        var watchEventsAfterBurst = operatorWatch.Events;

        // The idle pass: nothing changes, so nothing should be written.
        await Task.Delay(idlePass, cancellationToken);
        var idleMetrics = await probe.ReadMetricsAsync(cancellationToken);
        var idleWrites = OperatorProbe.Sum(idleMetrics, OperatorProbe.ApiWrites) - writes;
        var idleWatchEvents = operatorWatch.Events.Sum(e => e.Value) - watchEventsAfterBurst.Sum(e => e.Value);
        var reconcileFailures = updraftOperator.CountLines("[5010]");
        await operatorWatch.DisposeAsync();

        // 4. Functions, against the same operator.
        var functions = await FunctionPhase.RunAsync(api.Http, probe, MeasuredNamespace, Creators, functionsTimeout, idlePass, cancellationToken);
        updraftOperator.Process.Refresh();
        var peakWorkingSetAfterFunctions = ProcStatusMiB(updraftOperator.Process.Id, "VmHWM:");

        Report(new Results(
            baseline, operatorPhase, startToReady, readySeconds, writes, writesBy, reconciles, workingSetAtReady, workingSet, peakWorkingSet, burstCpu,
            idleWrites, idleWatchEvents, watchEventsAfterBurst, reconcileFailures, updraftOperator.OutputLines, functions, peakWorkingSetAfterFunctions));
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
    finally
    {
        await operatorWatch.DisposeAsync();
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
static async Task<Phase> CreateAllAsync(HttpClient http, string collection, Func<int, string> body, ObjectWatch watch, TimeSpan seenTimeout, CancellationToken cancellationToken)
{
    var posts = await Creation.PostAllAsync(http, collection, Objects, Creators, Name, body, cancellationToken);
    await watch.WaitForAsync(Objects, seenTimeout, "ScaledObjects", cancellationToken);
    var seen = watch.Seen;
    long SeenAt(int i) => seen[Name(i)];
    return new Phase(posts.SinceReturned(SeenAt), posts.SinceSent(SeenAt), posts.RoundTrips(), posts.First,
        posts.FirstToLastReturnedMs,
        posts.SinceFirstMs(Enumerable.Range(0, Objects).Max(SeenAt)),
        watch.Restarts,
        watch.Listed);
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
        ["apiServer"] = $"kube-apiserver v1.20.2 + etcd, loopback, --service-cluster-ip-range 10.96.0.0/16",
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
        ["functions"] = FunctionSection(r, baselineP50, baselineP99),
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
    var f = r.Functions;
    table.AppendLine();
    table.AppendLine(Invariant($"Functions: {FunctionPhase.Count} OpenFunction Functions (engine keda) created at once by {Creators} concurrent creators in {MeasuredNamespace}, against the same operator (the {Objects} HTTPScaledObjects stay)."));
    table.AppendLine(Invariant($"Shapes: {FunctionPhase.Specs}."));
    table.AppendLine(Invariant($"The benchmark plays the deployment controller (none runs next to the test API server): it patches each Deployment's /status with observedGeneration = generation (and the replica counts and conditions of a first sync, no pod available), {DeploymentController.Workers} at once; a keda-engine Function is Ready only once its Deployment is rolled out. Its lag, Deployment event read → status patch returned: p50 {Percentile(f.DeploymentStatusLags, 0.50):F1} ms, p99 {Percentile(f.DeploymentStatusLags, 0.99):F1} ms."));
    table.AppendLine();
    table.AppendLine("| what | p50 ms | p90 ms | p99 ms | max ms | first create → last seen ms | ratio p50 / baseline | ratio p99 / baseline |");
    table.AppendLine("|---|---|---|---|---|---|---|---|");
    FunctionRow("Function POST returned → all 5 children seen in watches", f.ChildrenLatencies, f.FirstToLastChildrenMs);
    FunctionRow("Function POST returned → Ready=True seen in a watch", f.ReadyLatencies, f.FirstToLastReadyMs);
    FunctionRow("baseline (above): ScaledObject POST returned → seen", r.Baseline.Latencies, r.Baseline.FirstToLastSeenMs);
    foreach (var (kind, values) in f.ChildrenByKind)
    {
        FunctionRow($"by child: POST returned → {kind} seen", values, double.NaN);
    }

    FunctionRow("context: Function POST round trip", f.Posts, f.FirstToLastReturnedMs, ratios: false);
    table.AppendLine();
    table.AppendLine(Invariant($"Target: Function → children Ready p99 ≤ 1 s at 1,000 objects created at once; measured p99 {BenchSupport.Percentile(f.ReadyLatencies, 0.99):F1} ms (all children written: {BenchSupport.Percentile(f.ChildrenLatencies, 0.99):F1} ms) at {FunctionPhase.Count} Functions."));
    table.AppendLine(Invariant($"API writes by the operator in the Function phase: {f.Writes:F0} = {f.Writes / FunctionPhase.Count:F3} per Function ({string.Join(", ", f.WritesBy.Select(w => Invariant($"{w.Key} {w.Value / FunctionPhase.Count:F3}")))}); not counted: the benchmark's {f.DeploymentStatusPatches} Deployment status patches{(f.DeploymentFailure is null ? "" : " (a patch failed: " + f.DeploymentFailure + ")")}."));
    table.AppendLine(Invariant($"Reconciles in the Function phase: {string.Join(", ", f.Reconciles.Select(c => Invariant($"{c.Key} {c.Value:F0}")))}; reconcile-failure log lines: {f.ReconcileFailures}; Function watch events: {string.Join(", ", f.FunctionWatchEvents.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => $"{e.Key} {e.Value}"))}."));
    table.AppendLine(Invariant($"Operator CPU in the Function phase: {f.Cpu.TotalSeconds:F2} s ({f.Cpu.TotalMilliseconds / FunctionPhase.Count:F2} ms per Function); working set once idle: {f.WorkingSetMiB:F1} MiB; peak (VmHWM) over the run: {r.PeakWorkingSetAfterFunctionsMiB:F1} MiB."));
    table.AppendLine(Invariant($"Idle pass ({idlePass.TotalSeconds:F0} s): {f.IdleWrites:F0} operator API writes, {f.IdleDeploymentStatusPatches} Deployment status patches, {f.IdleFunctionEvents} Function watch events. Watches closed by the server and resumed: {f.WatchRestarts}; seen only through a re-list: {f.Listed}."));
    table.AppendLine($"Results: {Path.GetRelativePath(repo, file)}");
    Console.WriteLine(table);

    void FunctionRow(string what, List<double> values, double firstToLast, bool ratios = true) =>
        table.AppendLine(Invariant($"| {what} | {BenchSupport.Percentile(values, 0.50):F1} | {BenchSupport.Percentile(values, 0.90):F1} | {BenchSupport.Percentile(values, 0.99):F1} | {values.Max():F1} | {(double.IsNaN(firstToLast) ? "" : firstToLast.ToString("F0", CultureInfo.InvariantCulture))} | {(ratios ? Invariant($"{BenchSupport.Percentile(values, 0.50) / baselineP50:F2}") : "")} | {(ratios ? Invariant($"{BenchSupport.Percentile(values, 0.99) / baselineP99:F2}") : "")} |"));

    void Row(string what, List<double> values, double firstToLast) =>
        table.AppendLine(Invariant($"| {what} | {BenchSupport.Percentile(values, 0.50):F1} | {BenchSupport.Percentile(values, 0.90):F1} | {BenchSupport.Percentile(values, 0.99):F1} | {values.Max():F1} | {firstToLast:F0} |"));
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

// The results file's "functions" section; ratios are to the same run's baseline (ScaledObject written directly → seen).
static Dictionary<string, object?> FunctionSection(Results r, double baselineP50, double baselineP99)
{
    var f = r.Functions;
    double Ratio(List<double> values, double quantile, double baseline) => Math.Round(BenchSupport.Percentile(values, quantile) / baseline, 3);
    return new Dictionary<string, object?>
    {
        ["functions"] = FunctionPhase.Count,
        ["creators"] = Creators,
        ["namespace"] = MeasuredNamespace,
        ["engine"] = "keda",
        ["shapes"] = FunctionPhase.Specs,
        ["deploymentController"] = $"played by the benchmark (none runs next to the test API server): each Deployment's /status patched with observedGeneration = generation, replicas/updatedReplicas/unavailableReplicas = spec.replicas, Available and Progressing=True as on a first sync; {DeploymentController.Workers} at once",
        ["deploymentControllerLag"] = Summary(f.DeploymentStatusLags),
        ["postReturnedToAllChildrenSeen"] = Summary(f.ChildrenLatencies),
        ["postReturnedToReady"] = Summary(f.ReadyLatencies),
        ["postSentToReady"] = Summary(f.ReadyFromSent),
        ["postReturnedToChildSeenByKind"] = f.ChildrenByKind.ToDictionary(k => k.Key, k => Summary(k.Value), StringComparer.Ordinal),
        ["post"] = Summary(f.Posts),
        ["ratioChildrenP50ToBaselineP50"] = Ratio(f.ChildrenLatencies, 0.50, baselineP50),
        ["ratioChildrenP99ToBaselineP99"] = Ratio(f.ChildrenLatencies, 0.99, baselineP99),
        ["ratioReadyP50ToBaselineP50"] = Ratio(f.ReadyLatencies, 0.50, baselineP50),
        ["ratioReadyP99ToBaselineP99"] = Ratio(f.ReadyLatencies, 0.99, baselineP99),
        ["firstCreateToLastPostReturnedMs"] = Math.Round(f.FirstToLastReturnedMs, 1),
        ["firstCreateToLastChildrenSeenMs"] = Math.Round(f.FirstToLastChildrenMs, 1),
        ["firstCreateToLastReadyMs"] = Math.Round(f.FirstToLastReadyMs, 1),
        ["apiWritesTotal"] = f.Writes,
        ["apiWritesPerFunction"] = Math.Round(f.Writes / FunctionPhase.Count, 3),
        ["apiWritesPerFunctionByResourceVerb"] = f.WritesBy.ToDictionary(w => w.Key, w => Math.Round(w.Value / FunctionPhase.Count, 3), StringComparer.Ordinal),
        ["reconciles"] = f.Reconciles,
        ["benchDeploymentStatusPatches"] = f.DeploymentStatusPatches,
        ["benchDeploymentStatusPatchFailure"] = f.DeploymentFailure,
        ["operatorCpuSeconds"] = Math.Round(f.Cpu.TotalSeconds, 2),
        ["operatorCpuMsPerFunction"] = Math.Round(f.Cpu.TotalMilliseconds / FunctionPhase.Count, 3),
        ["operatorWorkingSetMiB"] = Math.Round(f.WorkingSetMiB, 1),
        ["operatorPeakWorkingSetMiB"] = Math.Round(r.PeakWorkingSetAfterFunctionsMiB, 1),
        ["functionWatchEvents"] = f.FunctionWatchEvents,
        ["watchRestarts"] = f.WatchRestarts,
        ["seenThroughRelist"] = f.Listed,
        ["idlePassApiWrites"] = f.IdleWrites,
        ["idlePassDeploymentStatusPatches"] = f.IdleDeploymentStatusPatches,
        ["idlePassFunctionWatchEvents"] = f.IdleFunctionEvents,
        ["operatorReconcileFailureLogLines"] = f.ReconcileFailures,
    };
}

static double Percentile(List<double> values, double quantile) => values.Count == 0 ? double.NaN : BenchSupport.Percentile(values, quantile);

static object Summary(List<double> values) => values.Count == 0 ? new Dictionary<string, double> { ["count"] = 0 } : new Dictionary<string, double>
{
    ["count"] = values.Count,
    ["p50Ms"] = Math.Round(BenchSupport.Percentile(values, 0.50), 3),
    ["p90Ms"] = Math.Round(BenchSupport.Percentile(values, 0.90), 3),
    ["p99Ms"] = Math.Round(BenchSupport.Percentile(values, 0.99), 3),
    ["maxMs"] = Math.Round(values.Max(), 3),
    ["minMs"] = Math.Round(values.Min(), 3),
};

/// <summary>One pass of creates: per object, POST returned → seen, POST sent → seen, and the POST round trip (ms).</summary>
/// <remarks><c>WatchRestarts</c>: times the server closed the watch during the pass (it resumed; see <see cref="ObjectWatch"/>).</remarks>
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
    long OutputLines,
    FunctionResults Functions,
    double PeakWorkingSetAfterFunctionsMiB);
