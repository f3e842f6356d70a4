using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Updraft.Bench;
using Updraft.Protos.ExternalScaler;
using Scaler = Updraft.Protos.ExternalScaler.ExternalScaler;

// Scaler benchmark. Starts a held-response Kestrel upstream in this process and the real interceptor and scaler as
// child processes (standalone mode, 1,000 routes), then measures, in one run:
//   1. KEDA-style polling of 1,000 ScaledObjects (GetMetricSpec + GetMetrics + IsActive per object, 16 pollers),
//      against the gRPC health Check on the same channel as the in-run baseline;
//   2. first request on a cold route -> StreamIsActive true, over 50 cold routes, against a plain proxied
//      request round trip as the baseline;
//   3. the scaler's working set with those routes.
// Results: bench/results/<date>-<commit>-scaler.json and a Markdown table on stdout.
var repo = BenchSupport.RepositoryRoot();
var configuration = args.Length > 0 ? args[0] : "Release";
const int Routes = 1000;
const int Pollers = 16;
const int KedaPollers = 1;
const int PollRounds = 10;
const int ColdStarts = 50;

await using var upstream = await Upstream.StartAsync();
var work = Directory.CreateTempSubdirectory("updraft-bench-scaler-");
var routesFile = Path.Combine(work.FullName, "routes.yaml");
var wakePorts = Enumerable.Range(0, ColdStarts).Select(_ => BenchSupport.FreePort()).ToArray();
await File.WriteAllTextAsync(routesFile, RoutesYaml(Routes, upstream.Port, wakePorts));

int proxyPort = BenchSupport.FreePort(), adminPort = BenchSupport.FreePort(), scalerPort = BenchSupport.FreePort();
using var interceptor = ChildProcess.Start(repo, $"src/Interceptor/bin/{configuration}/net10.0/Updraft.Interceptor.dll", new()
{
    ["KEDA_HTTP_PROXY_PORT"] = Port(proxyPort),
    ["KEDA_HTTP_ADMIN_PORT"] = Port(adminPort),
    ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
    ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
    ["UPDRAFT_ROUTES_FILE"] = routesFile,
    ["UPDRAFT_LOG_LEVEL"] = "Warning",
});
using var scaler = ChildProcess.Start(repo, $"src/ExternalScaler/bin/{configuration}/net10.0/Updraft.ExternalScaler.dll", new()
{
    ["KEDA_HTTP_SCALER_PORT"] = Port(scalerPort),
    ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
    ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
    ["UPDRAFT_ROUTES_FILE"] = routesFile,
    ["UPDRAFT_INTERCEPTORS"] = $"127.0.0.1:{adminPort}",
    ["UPDRAFT_LOG_LEVEL"] = "Warning",
});

using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{scalerPort}");
var client = new Scaler.ExternalScalerClient(channel);
var health = new Health.HealthClient(channel);
await WaitAsync(async () => (await health.CheckAsync(new HealthCheckRequest { Service = "readiness" })).Status == HealthCheckResponse.Types.ServingStatus.Serving, "the scaler is ready");
using var proxy = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}") };

// Warm-up: one full round of everything, discarded.
await PollAsync(client, Routes, Pollers, rounds: 1);
await HealthAsync(health, Routes * 3, Pollers);

// KEDA polls each ScaledObject from its own loop, every pollingInterval (30 s by default): 1,000 objects are about
// 100 RPCs a second, so one sequential poller is the realistic load; 16 concurrent pollers are the stress case.
var (getMetrics, allRpcs) = await PollAsync(client, Routes, KedaPollers, PollRounds);
var healthLatencies = await HealthAsync(health, Routes * 3 * PollRounds, KedaPollers);
scaler.Process.Refresh();
var steadyMemory = scaler.Process.WorkingSet64 / (1024.0 * 1024.0);
var (stressGetMetrics, _) = await PollAsync(client, Routes, Pollers, PollRounds);
var stressHealth = await HealthAsync(health, Routes * 3 * PollRounds, Pollers);

var proxied = new List<double>();
var pushes = new List<double>();
for (var i = 0; i < ColdStarts; i++)
{
    var started = Stopwatch.GetTimestamp();
    using (var response = await proxy.SendAsync(Request($"fast-{i}.bench")))
    {
        response.EnsureSuccessStatusCode();
    }

    proxied.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    pushes.Add(await ColdStartAsync(client, proxy, i));
}

// Endpoint ready -> held request forwarded: a request waits for a target nothing listens on; then a listener opens
// there and the time until the request's bytes arrive is measured. Baseline: a request to an already-listening
// target of the same kind (connect + forward on a warm interceptor).
var wakeUps = new List<double>();
var warmForwards = new List<double>();
for (var i = 0; i < ColdStarts; i++)
{
    var (wake, warm) = await ReadinessToForwardAsync(proxy, $"wake-{i}.bench", wakePorts[i]);
    wakeUps.Add(wake);
    warmForwards.Add(warm);
}

scaler.Process.Refresh();
var scalerMemory = scaler.Process.WorkingSet64 / (1024.0 * 1024.0);

var commit = BenchSupport.ShortCommit(repo);
var results = new Dictionary<string, object>
{
    ["commit"] = commit,
    ["date"] = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
    ["machine"] = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}",
    ["routes"] = Routes,
    ["pollers"] = Pollers,
    ["getMetrics"] = Summary(getMetrics),
    ["allKedaRpcs"] = Summary(allRpcs),
    ["baselineHealthCheck"] = Summary(healthLatencies),
    ["getMetrics16Pollers"] = Summary(stressGetMetrics),
    ["baselineHealthCheck16Pollers"] = Summary(stressHealth),
    ["firstRequestToStreamIsActive"] = Summary(pushes),
    ["baselineProxiedRequest"] = Summary(proxied),
    ["endpointReadyToForwarded"] = Summary(wakeUps),
    ["baselineWarmForward"] = Summary(warmForwards),
    ["scalerWorkingSetMiB"] = Math.Round(steadyMemory, 1),
    ["scalerWorkingSetAfterStressMiB"] = Math.Round(scalerMemory, 1),
};
var resultsDirectory = Path.Combine(repo, "bench", "results");
Directory.CreateDirectory(resultsDirectory);
var file = Path.Combine(resultsDirectory, $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}-scaler.json");
await File.WriteAllTextAsync(file, JsonSerializer.Serialize(results, new JsonSerializerOptions { WriteIndented = true }));

var table = new StringBuilder();
table.AppendLine($"Scaler benchmark, {Routes} routes/ScaledObjects, commit {commit}, {Environment.ProcessorCount} cores");
table.AppendLine();
table.AppendLine("| what | p50 ms | p99 ms | baseline p50 / p99 ms | ratio p99 to baseline | target |");
table.AppendLine("|---|---|---|---|---|---|");
Row("GetMetrics (KEDA-style poll, one poller)", getMetrics, healthLatencies, "gRPC health Check", "p99 ≤ 1 ms");
Row("GetMetricSpec + GetMetrics + IsActive, each", allRpcs, healthLatencies, "gRPC health Check", "");
Row("GetMetrics, 16 concurrent pollers (stress)", stressGetMetrics, stressHealth, "gRPC health Check, 16 pollers", "");
Row("first request on a cold route → StreamIsActive true", pushes, proxied, "proxied request round trip", "≤ 50 ms");
Row("endpoint ready → held request forwarded (interceptor)", wakeUps, warmForwards, "request → warm target receives it", "p99 ≤ 20 ms");
table.AppendLine();
table.AppendLine(Invariant($"Scaler working set with {Routes} routes, polled KEDA-style: {steadyMemory:F1} MiB (target ≤ 80 MB); after the 16-poller stress: {scalerMemory:F1} MiB."));
table.AppendLine($"Results: {Path.GetRelativePath(repo, file)}");
Console.WriteLine(table);
work.Delete(recursive: true);
return 0;

void Row(string what, List<double> values, List<double> baseline, string baselineName, string target)
{
    var p50 = BenchSupport.Percentile(values, 0.50);
    var p99 = BenchSupport.Percentile(values, 0.99);
    table.AppendLine(Invariant($"| {what} | {p50:F3} | {p99:F3} | {baselineName}: {BenchSupport.Percentile(baseline, 0.50):F3} / {BenchSupport.Percentile(baseline, 0.99):F3} | {p99 / BenchSupport.Percentile(baseline, 0.99):F2} | {target} |"));
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

static HttpRequestMessage Request(string host) => new(HttpMethod.Get, "/") { Headers = { Host = host } };

static async Task<(List<double> GetMetrics, List<double> All)> PollAsync(Scaler.ExternalScalerClient client, int routes, int pollers, int rounds)
{
    var getMetrics = new List<double>[pollers];
    var all = new List<double>[pollers];
    var next = -1;
    var total = routes * rounds;
    await Task.WhenAll(Enumerable.Range(0, pollers).Select(async poller =>
    {
        getMetrics[poller] = [];
        all[poller] = [];
        int item;
        while ((item = Interlocked.Increment(ref next)) < total)
        {
            var reference = new ScaledObjectRef { Name = $"so-{item % routes}", Namespace = "bench" };
            reference.ScalerMetadata["interceptorRoute"] = $"route-{item % routes}";
            var started = Stopwatch.GetTimestamp();
            var spec = await client.GetMetricSpecAsync(reference);
            all[poller].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            started = Stopwatch.GetTimestamp();
            await client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = spec.MetricSpecs[0].MetricName });
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            getMetrics[poller].Add(elapsed);
            all[poller].Add(elapsed);
            started = Stopwatch.GetTimestamp();
            await client.IsActiveAsync(reference);
            all[poller].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }));
    return ([.. getMetrics.SelectMany(l => l)], [.. all.SelectMany(l => l)]);
}

static async Task<List<double>> HealthAsync(Health.HealthClient health, int calls, int pollers)
{
    var latencies = new List<double>[pollers];
    var next = -1;
    await Task.WhenAll(Enumerable.Range(0, pollers).Select(async poller =>
    {
        latencies[poller] = [];
        while (Interlocked.Increment(ref next) < calls)
        {
            var started = Stopwatch.GetTimestamp();
            await health.CheckAsync(new HealthCheckRequest { Service = "liveness" });
            latencies[poller].Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }));
    return [.. latencies.SelectMany(l => l)];
}

static async Task<double> ColdStartAsync(Scaler.ExternalScalerClient client, HttpClient proxy, int i)
{
    var reference = new ScaledObjectRef { Name = $"cold-{i}", Namespace = "bench" };
    reference.ScalerMetadata["interceptorRoute"] = $"cold-{i}";
    using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
    using var stream = client.StreamIsActive(reference, cancellationToken: cancel.Token);
    if (!await stream.ResponseStream.MoveNext(cancel.Token) || stream.ResponseStream.Current.Result)
    {
        throw new InvalidOperationException($"cold-{i} was not idle before its first request");
    }

    var started = Stopwatch.GetTimestamp();
    var pending = proxy.SendAsync(Request($"cold-{i}.bench"));
    while (await stream.ResponseStream.MoveNext(cancel.Token) && !stream.ResponseStream.Current.Result)
    {
    }

    var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    (await pending).Dispose();
    return elapsed;
}

static async Task<(double Wake, double Warm)> ReadinessToForwardAsync(HttpClient proxy, string host, int port)
{
    using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
    var pending = proxy.SendAsync(Request(host), cancel.Token);
    // Let the request reach the hold queue and the readiness probe start (nothing listens yet).
    await Task.Delay(200, cancel.Token);
    using var listener = new TcpListener(IPAddress.Loopback, port);
    listener.Start();
    var listening = Stopwatch.GetTimestamp();
    var wake = await ReceiveOneRequestAsync(listener, listening, cancel.Token);
    (await pending).Dispose();

    // The same target, now listening: how long a forward takes when nothing waits.
    var sent = Stopwatch.GetTimestamp();
    var again = proxy.SendAsync(Request(host), cancel.Token);
    var warm = await ReceiveOneRequestAsync(listener, sent, cancel.Token);
    (await again).Dispose();
    return (wake, warm);
}

// Accepts connections until one carries a request head (the readiness probe's connects carry none), answers it,
// and returns the milliseconds from `since` to the arrival of the request's first bytes.
static async Task<double> ReceiveOneRequestAsync(TcpListener listener, long since, CancellationToken cancellationToken)
{
    var buffer = new byte[4096];
    while (true)
    {
        var socket = await listener.AcceptSocketAsync(cancellationToken);
        var read = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        if (read == 0)
        {
            socket.Dispose();
            continue;
        }

        var arrived = Stopwatch.GetElapsedTime(since, Stopwatch.GetTimestamp()).TotalMilliseconds;
        await socket.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray(), SocketFlags.None, cancellationToken);
        socket.Shutdown(SocketShutdown.Send);
        socket.Dispose();
        return arrived;
    }
}

static object Summary(List<double> values) => new Dictionary<string, double>
{
    ["count"] = values.Count,
    ["p50Ms"] = Math.Round(BenchSupport.Percentile(values, 0.50), 4),
    ["p99Ms"] = Math.Round(BenchSupport.Percentile(values, 0.99), 4),
    ["maxMs"] = Math.Round(values.Max(), 4),
};

static string RoutesYaml(int routes, int upstreamPort, int[] wakePorts)
{
    var yaml = new StringBuilder();
    void Add(string name, string host, string metric)
    {
        yaml.Append(CultureInfo.InvariantCulture, $"""
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {"{"}name: {name}, namespace: bench{"}"}
            spec:
              target: {"{"}service: 127.0.0.1, port: {upstreamPort}{"}"}
              scalingMetric: {metric}
              rules: [{"{"}hosts: [{host}]{"}"}]
            ---

            """);
    }

    for (var i = 0; i < routes; i++)
    {
        Add($"route-{i}", $"route-{i}.bench", "{concurrency: {targetValue: 10}, requestRate: {targetValue: 20, window: 1m, granularity: 1s}}");
    }

    for (var i = 0; i < ColdStarts; i++)
    {
        Add($"cold-{i}", $"cold-{i}.bench", "{concurrency: {targetValue: 10}}");
        Add($"fast-{i}", $"fast-{i}.bench", "{concurrency: {targetValue: 10}}");
    }

    for (var i = 0; i < wakePorts.Length; i++)
    {
        yaml.Append(CultureInfo.InvariantCulture, $"""
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {"{"}name: wake-{i}, namespace: bench{"}"}
            spec:
              target: {"{"}service: 127.0.0.1, port: {wakePorts[i]}{"}"}
              scalingMetric: {"{"}concurrency: {"{"}targetValue: 10{"}"}{"}"}
              rules: [{"{"}hosts: [wake-{i}.bench]{"}"}]
            ---

            """);
    }

    return yaml.ToString();
}

static async Task WaitAsync(Func<Task<bool>> condition, string what)
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
        catch (RpcException)
        {
        }

        if (Stopwatch.GetTimestamp() > deadline)
        {
            throw new TimeoutException($"timed out waiting until {what}");
        }

        await Task.Delay(50);
    }
}

