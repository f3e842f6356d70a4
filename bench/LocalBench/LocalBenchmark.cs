using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace Updraft.Bench.Local;

/// <summary>Starts the three processes, runs the cold starts and the baselines, and reports.</summary>
internal static class LocalBenchmark
{
    private const string Host = "app.bench";

    /// <summary>A route to an upstream that is always up (the replica program started once by the benchmark): the forwarding baseline.</summary>
    private const string WarmHost = "warm.bench";
    private const string ColdStartHeader = "X-KEDA-HTTP-Cold-Start";

    /// <summary>The workload's HTTP readiness check: ready is when the replica answers a request, not when its port is bound.</summary>
    private const string ReadinessPath = "/ready";

    /// <summary>Every wait is bounded by this: a cold start, a stop, a process coming up.</summary>
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    /// <summary>A pause before each measurement, so that the last one's exits and stops have settled alike.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(250);

    public static async Task<int> RunAsync(string repo, string configuration, bool smoke, string work, CancellationToken cancellationToken)
    {
        var coldStarts = smoke ? 3 : 30;
        var warmUps = smoke ? 1 : 2;
        var replicaDll = Path.Combine(repo, "bench", "Backend", "bin", configuration, "net10.0", "Updraft.Bench.Backend.dll");
        if (!File.Exists(replicaDll))
        {
            throw new FileNotFoundException($"build the solution first ({Path.GetRelativePath(repo, replicaDll)} is missing)", replicaDll);
        }

        int proxyPort = BenchSupport.FreePort(), adminPort = BenchSupport.FreePort(), scalerPort = BenchSupport.FreePort(), feedPort = BenchSupport.FreePort(), warmPort = BenchSupport.FreePort();
        var routesFile = Path.Combine(work, "routes.yaml");
        await File.WriteAllTextAsync(routesFile, RoutesYaml(replicaDll, warmPort), cancellationToken);
        var loadBefore = LoadAverage();

        var bin = $"bin/{configuration}/net10.0";
        var output = new LocalOutput();
        using var warmUpstream = ChildProcess.Start(repo, Path.GetRelativePath(repo, replicaDll), new() { ["PORT"] = Text(warmPort) }, captureOutput: true, arguments: ["replica"]);
        using var scaler = ChildProcess.Start(repo, $"src/ExternalScaler/{bin}/Updraft.ExternalScaler.dll", new()
        {
            ["KEDA_HTTP_SCALER_PORT"] = Text(scalerPort),
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_INTERCEPTORS"] = "127.0.0.1:" + Text(adminPort),
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
        }, captureOutput: true);
        using var interceptor = ChildProcess.Start(repo, $"src/Interceptor/{bin}/Updraft.Interceptor.dll", new()
        {
            ["KEDA_HTTP_PROXY_PORT"] = Text(proxyPort),
            ["KEDA_HTTP_ADMIN_PORT"] = Text(adminPort),
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_LOCAL_REPLICAS"] = "127.0.0.1:" + Text(feedPort),
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = "0s",
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
        }, captureOutput: true);
        using var local = ChildProcess.Start(repo, $"src/Local/{bin}/Updraft.Local.dll", new()
        {
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_LOCAL_SCALER"] = "127.0.0.1:" + Text(scalerPort),
            ["UPDRAFT_LOCAL_PORT"] = Text(feedPort),
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
        }, captureOutput: true, lineReceived: output.Add);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = Bound };
        try
        {
            await WaitForPortAsync(scalerPort, scaler, "the scaler listens", cancellationToken);
            await WaitForPortAsync(feedPort, local, "the local autoscaler's replicas feed listens", cancellationToken);
            await WaitForReadyzAsync(client, adminPort, cancellationToken);
            await WaitForPortAsync(warmPort, warmUpstream, "the warm upstream listens", cancellationToken);
            for (var i = 0; i < 20; i++)
            {
                await WarmRequestAsync(client, proxyPort, cancellationToken);
            }

            Log($"commit {BenchSupport.ShortCommit(repo)}, {Environment.ProcessorCount} cores, load average {loadBefore}; {warmUps} warm-up cold start(s), discarded");
            for (var i = 0; i < warmUps; i++)
            {
                await ColdStartAsync(client, proxyPort, output, cancellationToken);
            }

            var samples = new List<ColdStart>(coldStarts);
            var alone = new List<double>(coldStarts);
            for (var i = 0; i < coldStarts; i++)
            {
                // Interleaved, in turn first and second, so that both see the same machine: the replica program started
                // by this benchmark directly, with the workload at zero.
                if (i % 2 == 1)
                {
                    await Task.Delay(Settle, cancellationToken);
                    alone.Add(await ReplicaAlone.StartAsync(replicaDll, work, Bound, cancellationToken));
                }

                var sample = await ColdStartAsync(client, proxyPort, output, cancellationToken);
                samples.Add(sample);
                if (i % 2 == 0)
                {
                    await Task.Delay(Settle, cancellationToken);
                    alone.Add(await ReplicaAlone.StartAsync(replicaDll, work, Bound, cancellationToken));
                }

                Log(Invariant($"cold start {i + 1}/{coldStarts}: {sample.TotalMs:F1} ms, Updraft's share {sample.UpdraftShareMs:F1} ms (scaler {sample.ScalerNoticeMs:F1}, readiness {sample.ReadinessMs:F1}, forwarding {sample.ForwardingMs:F1} of which the replica's work {sample.ReplicaRequestMs:F1}), process start-up {sample.ProcessStartMs:F1} ms, alone {alone[^1]:F1} ms"));
            }

            return await LocalReport.WriteAsync(repo, smoke, warmUps, samples, alone, loadBefore, LoadAverage());
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Console.Error.WriteLine("the benchmark failed; the processes' last lines:");
            foreach (var (name, process) in new[] { ("scaler", scaler), ("interceptor", interceptor), ("local autoscaler", local) })
            {
                Console.Error.WriteLine($"--- {name} (pid {process.Process.Id}{(process.Process.HasExited ? ", exited" : "")})");
                foreach (var line in process.Output().TakeLast(20))
                {
                    Console.Error.WriteLine(line);
                }
            }

            throw;
        }
    }

    /// <summary>
    /// One request at zero, then one warm request (to the always-up upstream), then waits until the replica has stopped
    /// (the workload is at zero again; cooldown 0s, so the first poll after the request scales it down).
    /// </summary>
    private static async Task<ColdStart> ColdStartAsync(HttpClient client, int proxyPort, LocalOutput output, CancellationToken cancellationToken)
    {
        await Task.Delay(Settle, cancellationToken);
        var mark = output.Count;
        var sent = DateTime.UtcNow;
        var clock = Stopwatch.GetTimestamp();
        using (var response = await client.SendAsync(Request(proxyPort), HttpCompletionOption.ResponseContentRead, cancellationToken))
        {
            var answered = sent + Stopwatch.GetElapsedTime(clock);
            Check(response, coldStart: true);
            var started = await output.WaitForAsync(mark, line => LocalOutput.IsEvent(line, "started"), "the started event", Bound, cancellationToken);
            var listening = await output.WaitForAsync(mark, LocalOutput.IsListening, "the replica's listening line", Bound, cancellationToken);
            var ready = await output.WaitForAsync(mark, line => LocalOutput.IsEvent(line, "ready"), "the ready event", Bound, cancellationToken);
            var (_, _, checkAnswered) = LocalOutput.RequestTimes(
                await output.WaitForAsync(mark, line => LocalOutput.IsRequest(line, ReadinessPath), "the replica's answer to a readiness check", Bound, cancellationToken));
            var (accepted, handler, written) = LocalOutput.RequestTimes(
                await output.WaitForAsync(mark, line => LocalOutput.IsRequest(line, "/"), "the replica's line for the proxied request", Bound, cancellationToken));

            var warmMs = await WarmRequestAsync(client, proxyPort, cancellationToken);
            await output.WaitForAsync(mark, line => LocalOutput.IsEvent(line, "stopped"), "the replica to stop (back at zero)", Bound, cancellationToken);
            var restarted = output.Since(mark).Count(line => LocalOutput.IsEvent(line, "started"));
            if (restarted != 1)
            {
                throw new InvalidOperationException($"{restarted} replicas started for one request at zero; the local autoscaler's last lines:\n{output.Tail(20)}");
            }

            return new ColdStart(
                sent,
                LocalOutput.EventTime(started),
                LocalOutput.ListeningTime(listening),
                checkAnswered,
                LocalOutput.EventTime(ready),
                accepted,
                handler,
                written,
                answered,
                started.Contains("a trigger became active", StringComparison.Ordinal),
                Math.Round(warmMs, 3));
        }
    }

    /// <summary>
    /// One request through the interceptor to the always-up upstream, on another route (a second request to the
    /// workload could find it scaling down already: its cooldown is 0s).
    /// </summary>
    private static async Task<double> WarmRequestAsync(HttpClient client, int proxyPort, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.GetTimestamp();
        using var response = await client.SendAsync(Request(proxyPort, WarmHost), HttpCompletionOption.ResponseContentRead, cancellationToken);
        var elapsed = Stopwatch.GetElapsedTime(clock).TotalMilliseconds;
        Check(response, coldStart: false);
        return elapsed;
    }

    private static HttpRequestMessage Request(int proxyPort, string host = Host) =>
        new(HttpMethod.Get, "http://127.0.0.1:" + Text(proxyPort) + "/") { Headers = { Host = host } };

    private static void Check(HttpResponseMessage response, bool coldStart)
    {
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"the interceptor answered {(int)response.StatusCode} {response.ReasonPhrase}");
        }

        var header = response.Headers.TryGetValues(ColdStartHeader, out var values) ? string.Join(",", values) : "(none)";
        if (header != (coldStart ? "true" : "false"))
        {
            throw new InvalidOperationException(coldStart
                ? $"the request was not held for a cold start ({ColdStartHeader}: {header}): the workload was not at zero"
                : $"the warm request was held ({ColdStartHeader}: {header})");
        }
    }

    private static async Task WaitForPortAsync(int port, ChildProcess owner, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            if (owner.Process.HasExited)
            {
                throw new InvalidOperationException($"waiting until {what}, the process exited ({owner.Process.ExitCode})");
            }

            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(50, cancellationToken);
            }
            catch (SocketException)
            {
                throw new TimeoutException($"timed out waiting until {what} (port {port})");
            }
        }
    }

    private static async Task WaitForReadyzAsync(HttpClient client, int adminPort, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (true)
        {
            try
            {
                using var response = await client.GetAsync(new Uri("http://127.0.0.1:" + Text(adminPort) + "/readyz"), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("timed out waiting until the interceptor is ready (/readyz)");
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>
    /// One workload of one replica at most, scaled from zero by the route's requests and back to zero at the first
    /// poll without them (cooldown 0s, polled every 100 ms); readiness is <c>GET /ready</c> every 5 ms. And a plain
    /// route to the always-up upstream.
    /// </summary>
    private static string RoutesYaml(string replicaDll, int warmPort) => $$$"""
        apiVersion: local.updraft.dev/v1alpha1
        kind: LocalWorkload
        metadata: {name: app, namespace: bench}
        spec:
          command: [dotnet, {{{JsonSerializer.Serialize(replicaDll)}}}, replica]
          maxReplicaCount: 1
          pollingInterval: 100ms
          cooldownPeriod: 0s
          terminationGracePeriod: 10s
          readiness: {httpPath: {{{ReadinessPath}}}, period: 5ms}
        ---
        apiVersion: http.keda.sh/v1beta1
        kind: InterceptorRoute
        metadata:
          name: app
          namespace: bench
          annotations: {updraft.dev/local-workload: app}
        spec:
          rules: [{hosts: [{{{Host}}}]}]
          scalingMetric: {concurrency: {targetValue: 10}}
          timeouts: {readiness: 60s}
        ---
        apiVersion: http.keda.sh/v1beta1
        kind: InterceptorRoute
        metadata: {name: warm, namespace: bench}
        spec:
          target: {service: 127.0.0.1, port: {{{warmPort}}}}
          rules: [{hosts: [{{{WarmHost}}}]}]
          scalingMetric: {concurrency: {targetValue: 10}}

        """;

    /// <summary>The 1-minute load average, to read the run by (the machine is shared).</summary>
    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Split(' ')[0];
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static void Log(string message) => Console.Error.WriteLine(Invariant($"[{DateTime.UtcNow:HH:mm:ss}] ") + message);

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
