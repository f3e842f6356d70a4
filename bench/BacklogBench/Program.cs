using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using Updraft.ExternalScaler.Tests.Kafka;
using Updraft.Protos.ExternalScaler;
using Updraft.Bench;
using Scaler = Updraft.Protos.ExternalScaler.ExternalScaler;

// Backlog benchmark: the cost of a poll cycle for 500 ScaledObjects on one cluster. For each backlog source (Kafka on
// librdkafka's mock cluster in this process; NATS JetStream on a nats-server child process, API and monitoring
// modes) it starts the real scaler as a child process, polls 500 ScaledObjects spread over 10 consumer groups the way
// KEDA does (GetMetricSpec + GetMetrics + IsActive per object), and measures:
//   1. GetMetrics latency, against the gRPC health Check on the same channel (the in-run baseline);
//   2. the requests the scaler sends to the cluster per poll interval, while KEDA polls and while no RPC arrives,
//      counted by the cluster itself (librdkafka's mock request log; nats-server's /jsz API counter and /varz HTTP stats);
//   3. the scaler's clients, connections to the cluster, pollers and threads.
// Results: bench/results/<date>-<commit>-backlog.json and Markdown tables on stdout.
var repo = BenchSupport.RepositoryRoot();
var configuration = args.Length > 0 ? args[0] : "Release";
const int ScaledObjects = 500;
const int Groups = 10;
const int Partitions = 4;
const int Messages = 20;
const int Committed = 5;
var pollInterval = TimeSpan.FromSeconds(1);
// 30 s: KEDA's default pollingInterval, and it holds one refresh of the Kafka metadata cache (UPDRAFT_KAFKA_METADATA_MAX_AGE).
var polledWindow = TimeSpan.FromSeconds(30);
var quietWindow = TimeSpan.FromSeconds(10);
var scalerDll = $"src/ExternalScaler/bin/{configuration}/net10.0/Updraft.ExternalScaler.dll";

var work = Directory.CreateTempSubdirectory("updraft-bench-backlog-");
var routesFile = Path.Combine(work.FullName, "routes.yaml");
await File.WriteAllTextAsync(routesFile, """
    apiVersion: http.keda.sh/v1beta1
    kind: InterceptorRoute
    metadata: {name: unused, namespace: bench}
    spec:
      target: {service: 127.0.0.1, port: 1}
      scalingMetric: {concurrency: {targetValue: 10}}
      rules: [{hosts: [unused.bench]}]

    """);
var started = Stopwatch.GetTimestamp();
var results = new List<SourceResult>();

// Kafka: 10 topics × 4 partitions, 20 messages per partition, each group committed at offset 5 on its topic:
// lag 4 × 15 = 60 for every ScaledObject.
using (var cluster = MockKafkaCluster.Start())
{
    for (var g = 0; g < Groups; g++)
    {
        cluster.CreateTopic($"topic-{g}", Partitions);
        for (var p = 0; p < Partitions; p++)
        {
            await cluster.ProduceAsync($"topic-{g}", p, Messages);
        }

        cluster.Commit($"group-{g}", $"topic-{g}", [.. Enumerable.Range(0, Partitions).Select(p => (p, (long)Committed))]);
    }

    cluster.StartRequestTracking();
    // What the benchmark's own (idle) clients send meanwhile: the background of every count below.
    cluster.ClearRequests();
    await Task.Delay(quietWindow);
    var background = cluster.RequestCounts();

    var brokerPorts = cluster.BootstrapServers.Split(',').Select(a => int.Parse(a[(a.LastIndexOf(':') + 1)..], CultureInfo.InvariantCulture)).ToHashSet();
    var references = Enumerable.Range(0, ScaledObjects).Select(i => Ref($"kafka-{i}", "kafka",
        ("bootstrapServers", cluster.BootstrapServers), ("consumerGroup", $"group-{i % Groups}"), ("topic", $"topic-{i % Groups}"), ("lagThreshold", "100"))).ToArray();
    var source = new Source(
        "Kafka (librdkafka mock cluster, 3 brokers)", "kafka", references, Expected: Partitions * (Messages - Committed),
        Start: () =>
        {
            cluster.ClearRequests();
            return Task.CompletedTask;
        },
        Read: () => Task.FromResult(cluster.RequestCounts()),
        ConnectionPorts: brokerPorts,
        ClientLogLine: "Kafka client created",
        PollerLogLine: "Polling consumer group",
        Settings: new() { ["UPDRAFT_KAFKA_POLL_INTERVAL"] = "1s", ["Logging__LogLevel__Updraft.ExternalScaler.Kafka"] = "Debug" });
    var result = await MeasureAsync(source);
    results.Add(result with { BackgroundPerInterval = PerInterval(background, quietWindow / pollInterval) });
}

// NATS JetStream: 10 streams, each with one durable pull consumer and 20 unacknowledged messages: lag 20.
var natsClientPort = BenchSupport.FreePort();
var natsMonitoringPort = BenchSupport.FreePort();
var natsConfig = Path.Combine(work.FullName, "nats.conf");
await File.WriteAllTextAsync(natsConfig, $$"""
    listen: 127.0.0.1:{{natsClientPort}}
    http: 127.0.0.1:{{natsMonitoringPort}}
    jetstream { store_dir: "{{Path.Combine(work.FullName, "jetstream")}}" }

    """);
using (var nats = ChildProcess.Start(NatsServerBinary(), ["-c", natsConfig], work.FullName))
using (var monitoring = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{natsMonitoringPort}"), Timeout = TimeSpan.FromSeconds(5) })
{
    await WaitAsync(async () => (await monitoring.GetAsync(new Uri("/healthz?js-enabled-only=true", UriKind.Relative))).StatusCode == HttpStatusCode.OK, "nats-server answers /healthz");
    await using (var setup = new NatsConnection(new NatsOpts { Url = $"nats://127.0.0.1:{natsClientPort}" }))
    {
        var jetStream = new NatsJSContext(setup);
        for (var g = 0; g < Groups; g++)
        {
            await jetStream.CreateStreamAsync(new StreamConfig($"S{g}", [$"S{g}.>"]) { Storage = StreamConfigStorage.File });
            await jetStream.CreateOrUpdateConsumerAsync($"S{g}", new ConsumerConfig("worker") { DurableName = "worker", AckPolicy = ConsumerConfigAckPolicy.Explicit });
            for (var m = 0; m < Messages; m++)
            {
                (await jetStream.PublishAsync($"S{g}.work", Encoding.UTF8.GetBytes($"message {m}"))).EnsureSuccess();
            }
        }
    }

    var apiReferences = Enumerable.Range(0, ScaledObjects).Select(i => Ref($"js-{i}", "nats-jetstream",
        ("natsServerUrl", $"nats://127.0.0.1:{natsClientPort}"), ("stream", $"S{i % Groups}"), ("consumer", "worker"), ("lagThreshold", "100"))).ToArray();
    var monitoringReferences = Enumerable.Range(0, ScaledObjects).Select(i => Ref($"jsz-{i}", "nats-jetstream",
        ("natsServerMonitoringEndpoint", $"127.0.0.1:{natsMonitoringPort}"), ("account", "$G"), ("stream", $"S{i % Groups}"), ("consumer", "worker"), ("lagThreshold", "100"))).ToArray();
    var natsEnvironment = new Dictionary<string, string> { ["UPDRAFT_NATS_POLL_INTERVAL"] = "1s", ["Logging__LogLevel__Updraft.ExternalScaler.Nats"] = "Debug" };

    // API mode: JetStream API requests, from the server's own counter (/jsz "api.total").
    long apiBefore = 0;
    results.Add(await MeasureAsync(new Source(
        "NATS JetStream, API mode (nats-server 1 node)", "natsApi", apiReferences, Expected: Messages,
        Start: async () => apiBefore = await JetStreamApiTotalAsync(monitoring),
        Read: async () => new Dictionary<string, long>(StringComparer.Ordinal) { ["JetStream API"] = await JetStreamApiTotalAsync(monitoring) - apiBefore },
        ConnectionPorts: new HashSet<int> { natsClientPort },
        ClientLogLine: null,
        PollerLogLine: "NATS poller started",
        Settings: natsEnvironment)));

    // Monitoring mode (KEDA's way): HTTP GETs by path, from the server's /varz "http_req_stats" (less the benchmark's own /varz reads).
    Dictionary<string, long> httpBefore = [];
    results.Add(await MeasureAsync(new Source(
        "NATS JetStream, monitoring mode (/jsz)", "natsMonitoring", monitoringReferences, Expected: Messages,
        Start: async () => httpBefore = await HttpRequestStatsAsync(monitoring),
        Read: async () =>
        {
            var after = await HttpRequestStatsAsync(monitoring);
            after["/varz"] = after.GetValueOrDefault("/varz") - 1;
            return after.Select(entry => (entry.Key, Count: entry.Value - httpBefore.GetValueOrDefault(entry.Key)))
                .Where(entry => entry.Count > 0).ToDictionary(entry => "GET " + entry.Key, entry => entry.Count, StringComparer.Ordinal);
        },
        ConnectionPorts: new HashSet<int> { natsMonitoringPort },
        ClientLogLine: null,
        PollerLogLine: "NATS poller started",
        Settings: natsEnvironment)));
}

var commit = BenchSupport.ShortCommit(repo);
var minutes = Stopwatch.GetElapsedTime(started).TotalMinutes;
var json = new Dictionary<string, object>
{
    ["commit"] = commit,
    ["date"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
    ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
    ["scaledObjects"] = ScaledObjects,
    ["consumerGroups"] = Groups,
    ["pollIntervalMs"] = pollInterval.TotalMilliseconds,
    ["polledWindowSeconds"] = polledWindow.TotalSeconds,
    ["quietWindowSeconds"] = quietWindow.TotalSeconds,
    ["sources"] = results.ToDictionary(r => r.Key, r => (object)r.ToJson(), StringComparer.Ordinal),
};
var resultsDirectory = Path.Combine(repo, "bench", "results");
Directory.CreateDirectory(resultsDirectory);
var file = Path.Combine(resultsDirectory, $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}-backlog.json");
await File.WriteAllTextAsync(file, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));

var table = new StringBuilder();
table.AppendLine(Invariant($"Backlog benchmark, commit {commit}, {Environment.ProcessorCount} cores, {minutes:F1} min. {ScaledObjects} ScaledObjects on {Groups} consumer groups of one cluster, scaler poll interval {pollInterval.TotalSeconds:F0} s."));
table.AppendLine();
table.AppendLine("KEDA-style polling by one poller (GetMetricSpec + GetMetrics + IsActive per object, in rounds over all objects); ms.");
table.AppendLine();
table.AppendLine("| source | GetMetrics p50 | GetMetrics p99 | all three RPCs p50 / p99 | gRPC health Check p50 / p99 | ratio p99 to baseline | RPCs | wrong answers |");
table.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
foreach (var r in results)
{
    table.AppendLine(Invariant($"| {r.Name} | {BenchSupport.Percentile(r.GetMetrics, 0.50):F3} | {BenchSupport.Percentile(r.GetMetrics, 0.99):F3} | {BenchSupport.Percentile(r.AllRpcs, 0.50):F3} / {BenchSupport.Percentile(r.AllRpcs, 0.99):F3} | {BenchSupport.Percentile(r.Health, 0.50):F3} / {BenchSupport.Percentile(r.Health, 0.99):F3} | {BenchSupport.Percentile(r.GetMetrics, 0.99) / BenchSupport.Percentile(r.Health, 0.99):F2} | {r.AllRpcs.Count} | {r.WrongAnswers} |"));
}

table.AppendLine();
table.AppendLine("Requests the scaler sent to the cluster per poll interval, counted by the cluster, while KEDA polled all objects continuously and while no RPC arrived.");
table.AppendLine();
table.AppendLine("| source | per interval, polled | per interval, no RPCs | per group and interval | by kind, per interval (polled) | admin clients (log) | connections to the cluster | pollers | scaler threads (before → after) |");
table.AppendLine("|---|---:|---:|---:|---|---:|---:|---:|---:|");
foreach (var r in results)
{
    var polled = PerInterval(r.Polled, r.PolledElapsed);
    var quiet = PerInterval(r.Quiet, r.QuietElapsed);
    var kinds = string.Join(", ", polled.OrderByDescending(k => k.Value).Select(k => k.Key + " " + (k.Value < 1 ? Invariant($"{k.Value:F3}") : Invariant($"{k.Value:F1}"))));
    table.AppendLine(Invariant($"| {r.Name} | {polled.Values.Sum():F1} | {quiet.Values.Sum():F1} | {polled.Values.Sum() / Groups:F2} | {kinds} | {(r.Clients < 0 ? "—" : r.Clients)} | {r.Connections} | {r.Pollers} | {r.ThreadsBefore} → {r.ThreadsAfter} |"));
}

table.AppendLine();
foreach (var r in results.Where(r => r.BackgroundPerInterval is not null))
{
    var background = string.Join(", ", r.BackgroundPerInterval!.Select(k => Invariant($"{k.Key} {k.Value * quietWindow / pollInterval:F0}")));
    table.AppendLine(Invariant($"{r.Name}: in the {quietWindow.TotalSeconds:F0} s before the scaler started, the benchmark's own idle clients sent: {(background.Length > 0 ? background : "nothing")} (the counts above include whatever they send)."));
}

foreach (var r in results.Where(r => r.ThreadNames.ContainsKey("rdk:main")))
{
    var librdkafka = r.ThreadNames.Where(t => t.Key.StartsWith("rdk:", StringComparison.Ordinal)).Sum(t => t.Value);
    table.AppendLine(Invariant($"{r.Name}: {r.Clients} admin client created (scaler log); {r.ThreadNames["rdk:main"]} librdkafka client instances in the scaler (threads named rdk:main: the admin client and one offsets-reader consumer per group), {librdkafka} librdkafka threads in all."));
}

table.AppendLine(Invariant($"Scaler working set after polling: {string.Join(", ", results.Select(r => Invariant($"{r.Key} {r.WorkingSetMiB:F1} MiB")))}."));
table.AppendLine($"Results: {Path.GetRelativePath(repo, file)}");
Console.WriteLine(table);
work.Delete(recursive: true);
return results.Any(r => r.WrongAnswers > 0) ? 1 : 0;

async Task<SourceResult> MeasureAsync(Source source)
{
    Console.Error.WriteLine($"backlog bench: {source.Name}");
    int scalerPort = BenchSupport.FreePort(), metricsPort = BenchSupport.FreePort();
    var environment = new Dictionary<string, string>(source.Settings)
    {
        ["KEDA_HTTP_SCALER_PORT"] = Port(scalerPort),
        ["OTEL_PROM_EXPORTER_PORT"] = Port(metricsPort),
        ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
        ["UPDRAFT_ROUTES_FILE"] = routesFile,
        ["UPDRAFT_LOG_LEVEL"] = "Warning",
    };
    using var scaler = ChildProcess.StartDotnet(repo, scalerDll, environment);
    using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{scalerPort}");
    var client = new Scaler.ExternalScalerClient(channel);
    var health = new Health.HealthClient(channel);
    await WaitAsync(async () => (await health.CheckAsync(new HealthCheckRequest { Service = "liveness" })).Status == HealthCheckResponse.Types.ServingStatus.Serving, "the scaler is live");
    var threadsBefore = scaler.Threads();

    // Warm-up: rounds until every object reads the expected backlog (its poller has polled), then one more round.
    await WaitAsync(async () =>
    {
        var good = 0;
        foreach (var reference in source.References)
        {
            var spec = await client.GetMetricSpecAsync(reference);
            try
            {
                var metrics = await client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = spec.MetricSpecs[0].MetricName });
                good += metrics.MetricValues[0].MetricValueFloat == source.Expected ? 1 : 0;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
            {
            }
        }

        return good == source.References.Length;
    }, $"every {source.Key} ScaledObject reads {source.Expected}", scaler);
    await PollRoundsAsync(client, source, TimeSpan.Zero);

    await source.Start();
    var polledStart = Stopwatch.GetTimestamp();
    var (getMetrics, all, wrong) = await PollRoundsAsync(client, source, polledWindow);
    var polledCounts = await source.Read();
    var polledElapsed = Stopwatch.GetElapsedTime(polledStart);

    await source.Start();
    var quietStart = Stopwatch.GetTimestamp();
    await Task.Delay(quietWindow);
    var quietCounts = await source.Read();
    var quietElapsed = Stopwatch.GetElapsedTime(quietStart);

    var healthLatencies = new List<double>(getMetrics.Count);
    for (var i = 0; i < getMetrics.Count; i++)
    {
        var begin = Stopwatch.GetTimestamp();
        await health.CheckAsync(new HealthCheckRequest { Service = "liveness" });
        healthLatencies.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
    }

    scaler.Process.Refresh();
    return new SourceResult(
        source.Name, source.Key, getMetrics, all, healthLatencies, wrong,
        polledCounts, polledElapsed / pollInterval, quietCounts, quietElapsed / pollInterval,
        source.ClientLogLine is null ? -1 : scaler.CountLines(source.ClientLogLine),
        scaler.ConnectionsTo(source.ConnectionPorts), scaler.CountLines(source.PollerLogLine),
        threadsBefore, scaler.Threads(), scaler.ThreadNames(), scaler.Process.WorkingSet64 / (1024.0 * 1024.0), null);
}

// KEDA-style rounds over every object (GetMetricSpec + GetMetrics + IsActive), by one poller, until the window has
// passed (a window of zero: one round). Every answer is checked against the backlog the cluster holds.
static async Task<(List<double> GetMetrics, List<double> All, int Wrong)> PollRoundsAsync(Scaler.ExternalScalerClient client, Source source, TimeSpan window)
{
    var getMetrics = new List<double>();
    var all = new List<double>();
    var wrong = 0;
    var start = Stopwatch.GetTimestamp();
    for (var round = 0; round < 100_000 && (round == 0 || Stopwatch.GetElapsedTime(start) < window); round++)
    {
        foreach (var reference in source.References)
        {
            var begin = Stopwatch.GetTimestamp();
            var spec = await client.GetMetricSpecAsync(reference);
            all.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            begin = Stopwatch.GetTimestamp();
            var metrics = await client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = spec.MetricSpecs[0].MetricName });
            var elapsed = Stopwatch.GetElapsedTime(begin).TotalMilliseconds;
            getMetrics.Add(elapsed);
            all.Add(elapsed);
            begin = Stopwatch.GetTimestamp();
            var active = await client.IsActiveAsync(reference);
            all.Add(Stopwatch.GetElapsedTime(begin).TotalMilliseconds);
            wrong += metrics.MetricValues[0].MetricValueFloat == source.Expected && active.Result ? 0 : 1;
        }
    }

    return (getMetrics, all, wrong);
}

static ScaledObjectRef Ref(string name, string source, params (string Key, string Value)[] metadata)
{
    var reference = new ScaledObjectRef { Name = name, Namespace = "bench" };
    reference.ScalerMetadata["source"] = source;
    foreach (var (key, value) in metadata)
    {
        reference.ScalerMetadata[key] = value;
    }

    return reference;
}

static Dictionary<string, double> PerInterval(Dictionary<string, long> counts, double intervals) =>
    counts.ToDictionary(entry => entry.Key, entry => entry.Value / intervals, StringComparer.Ordinal);

static async Task<long> JetStreamApiTotalAsync(HttpClient monitoring)
{
    using var jsz = JsonDocument.Parse(await monitoring.GetStringAsync(new Uri("/jsz", UriKind.Relative)));
    return jsz.RootElement.GetProperty("api").GetProperty("total").GetInt64();
}

static async Task<Dictionary<string, long>> HttpRequestStatsAsync(HttpClient monitoring)
{
    using var varz = JsonDocument.Parse(await monitoring.GetStringAsync(new Uri("/varz", UriKind.Relative)));
    return varz.RootElement.GetProperty("http_req_stats").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt64(), StringComparer.Ordinal);
}

static string NatsServerBinary()
{
    if (Environment.GetEnvironmentVariable("UPDRAFT_NATS_SERVER") is { Length: > 0 } configured)
    {
        return configured;
    }

    var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries).Concat(["/usr/sbin", "/usr/local/bin"]);
    return directories.Select(d => Path.Combine(d, "nats-server")).FirstOrDefault(File.Exists)
        ?? throw new InvalidOperationException("nats-server is not installed (Debian package nats-server; ./updraft.sh bench backlog installs it) or set UPDRAFT_NATS_SERVER");
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

static async Task WaitAsync(Func<Task<bool>> condition, string what, ChildProcess? process = null)
{
    var deadline = Stopwatch.GetTimestamp() + (60 * Stopwatch.Frequency);
    while (true)
    {
        try
        {
            if (await condition())
            {
                return;
            }
        }
        catch (Exception e) when (e is RpcException or HttpRequestException or TaskCanceledException)
        {
        }

        if (Stopwatch.GetTimestamp() > deadline)
        {
            throw new TimeoutException($"timed out waiting until {what}{(process is null ? "" : "; scaler output:\n" + process.Output())}");
        }

        await Task.Delay(100);
    }
}

/// <summary>One backlog source as measured: its ScaledObjects, the backlog each must read, and how the cluster counts requests.</summary>
internal sealed record Source(
    string Name,
    string Key,
    ScaledObjectRef[] References,
    double Expected,
    Func<Task> Start,
    Func<Task<Dictionary<string, long>>> Read,
    IReadOnlySet<int> ConnectionPorts,
    string? ClientLogLine,
    string PollerLogLine,
    Dictionary<string, string> Settings);

/// <summary>What one source's run measured; request counts are totals over windows of <c>*Elapsed</c> poll intervals.</summary>
internal sealed record SourceResult(
    string Name,
    string Key,
    List<double> GetMetrics,
    List<double> AllRpcs,
    List<double> Health,
    int WrongAnswers,
    Dictionary<string, long> Polled,
    double PolledElapsed,
    Dictionary<string, long> Quiet,
    double QuietElapsed,
    int Clients,
    int Connections,
    int Pollers,
    int ThreadsBefore,
    int ThreadsAfter,
    Dictionary<string, int> ThreadNames,
    double WorkingSetMiB,
    Dictionary<string, double>? BackgroundPerInterval)
{
    public Dictionary<string, object?> ToJson() => new()
    {
        ["name"] = Name,
        ["getMetrics"] = Summary(GetMetrics),
        ["allKedaRpcs"] = Summary(AllRpcs),
        ["baselineHealthCheck"] = Summary(Health),
        ["wrongAnswers"] = WrongAnswers,
        ["polledIntervals"] = Math.Round(PolledElapsed, 2),
        ["requestsPolled"] = Polled,
        ["quietIntervals"] = Math.Round(QuietElapsed, 2),
        ["requestsQuiet"] = Quiet,
        ["requestsPerIntervalPolled"] = Math.Round(Polled.Values.Sum() / PolledElapsed, 2),
        ["requestsPerIntervalQuiet"] = Math.Round(Quiet.Values.Sum() / QuietElapsed, 2),
        ["backgroundRequestsPerInterval"] = BackgroundPerInterval,
        ["clientsCreated"] = Clients < 0 ? null : Clients,
        ["connectionsToCluster"] = Connections,
        ["pollers"] = Pollers,
        ["scalerThreadsBefore"] = ThreadsBefore,
        ["scalerThreadsAfter"] = ThreadsAfter,
        ["scalerThreadsByName"] = ThreadNames,
        ["scalerWorkingSetMiB"] = Math.Round(WorkingSetMiB, 1),
    };

    private static Dictionary<string, double> Summary(List<double> values)
    {
        var sorted = values.Order().ToArray();
        double At(double quantile) => Math.Round(sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)], 4);
        return new Dictionary<string, double> { ["count"] = values.Count, ["p50Ms"] = At(0.50), ["p99Ms"] = At(0.99), ["maxMs"] = At(1.0) };
    }
}
