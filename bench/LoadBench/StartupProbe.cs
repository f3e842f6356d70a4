using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Updraft.Bench.Load;

/// <summary>
/// One start of the interceptor: process start → first 200 through the proxy (and from the admin <c>/readyz</c>),
/// how long that first proxied request took (<see cref="ReadyRequestMs"/>: connect → status line), the next one on a
/// new connection (<see cref="FirstRequestMs"/>) and the mean of <see cref="StartupProbe.Requests"/>, and what the
/// process holds in memory once idle (/proc status: RSS = anonymous + file-backed + shared; shared is mostly the JIT's
/// code, which W^X maps twice through a memfd). Times in ms, memory in MiB.
/// </summary>
internal sealed record StartupSample(
    int Repetition,
    double ReadyMs,
    double? ReadyzMs,
    double ReadyRequestMs,
    double FirstRequestMs,
    double MeanRequestMs,
    double RssMiB,
    double AnonMiB,
    double FileMiB,
    double ShmemMiB,
    double PeakMiB,
    int Threads);

internal static class StartupProbe
{
    public const int Requests = 100;

    private static readonly TimeSpan ReadyLimit = TimeSpan.FromSeconds(30);

    private static readonly byte[] ProxyPoll = Encoding.ASCII.GetBytes($"GET {Targets.Path} HTTP/1.1\r\nHost: {Targets.Host}\r\nConnection: close\r\n\r\n");

    private static readonly byte[] ReadyzPoll = Encoding.ASCII.GetBytes("GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");

    private sealed record PollResult(double? ReadyMs, double RequestMs, string Last);

    /// <summary>
    /// Starts <paramref name="build"/> with <paramref name="settings"/>, measures, stops it by its pid. Throws
    /// <see cref="InvalidOperationException"/> with the first error line of its output when it does not start or forward.
    /// </summary>
    public static StartupSample Run(InterceptorBuild build, IReadOnlyDictionary<string, string> settings, string routesFile, string logs, string name, int repetition, TimeSpan idle)
    {
        int port = BenchSupport.FreePort(), admin = BenchSupport.FreePort(), metrics = BenchSupport.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["KEDA_HTTP_PROXY_PORT"] = Invariant(port),
            ["KEDA_HTTP_ADMIN_PORT"] = Invariant(admin),
            ["OTEL_PROM_EXPORTER_PORT"] = Invariant(metrics),
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
        };
        foreach (var (key, value) in settings)
        {
            environment[key] = value;
        }

        var started = Stopwatch.GetTimestamp();
        using var process = ChildProcess.Start($"{name}-{repetition}", build.File, build.Arguments, logs, environment);
        using var stopPolling = new CancellationTokenSource();
        // Its own thread: a proxy poll waiting for its answer must not delay the /readyz poll.
        var readyz = Task.Factory.StartNew(() => PollUntilOk(process, started, admin, ReadyzPoll, stopPolling.Token), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        PollResult ready;
        double firstMs, totalMs;
        double? readyzMs;
        try
        {
            ready = PollUntilOk(process, started, port, ProxyPoll, CancellationToken.None);
            if (ready.ReadyMs is null)
            {
                throw Failure(process, ready.Last);
            }

            using (var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) })
            {
                var first = Stopwatch.GetTimestamp();
                Expect200(process, Get(client, port));
                firstMs = Stopwatch.GetElapsedTime(first).TotalMilliseconds;
                for (var i = 1; i < Requests; i++)
                {
                    Expect200(process, Get(client, port));
                }

                totalMs = Stopwatch.GetElapsedTime(first).TotalMilliseconds;
            }

            readyzMs = readyz.Wait(TimeSpan.FromSeconds(10)) ? readyz.Result.ReadyMs : null;
        }
        finally
        {
            stopPolling.Cancel();
            readyz.Wait();
        }

        Thread.Sleep(idle);
        var status = File.ReadLines($"/proc/{process.Id}/status").Select(l => l.Split(':', 2)).Where(p => p.Length == 2)
            .ToDictionary(p => p[0], p => p[1].Trim());
        double MiB(string field) => Math.Round(long.Parse(status[field].Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0, 1);
        return new(repetition, Round(ready.ReadyMs.Value), readyzMs is null ? null : Round(readyzMs.Value), Round(ready.RequestMs), Round(firstMs), Round(totalMs / Requests),
            MiB("VmRSS"), MiB("RssAnon"), MiB("RssFile"), MiB("RssShmem"), MiB("VmHWM"), int.Parse(status["Threads"], CultureInfo.InvariantCulture));
    }

    /// <summary>JIT-compiles this process's own client path once, against the backend, before anything is timed.</summary>
    public static void WarmUpClient(int backendPort)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
        for (var i = 0; i < 20; i++)
        {
            _ = Get(client, backendPort);
            _ = StatusOf(backendPort, ProxyPoll);
        }
    }

    /// <summary>
    /// Sends <paramref name="request"/> on a new connection every ~2 ms until one is answered 200 (a refused connect
    /// means the listener is not bound yet; any other answer, not ready yet). Returns the time from
    /// <paramref name="started"/> to that answer and how long that one request took.
    /// </summary>
    private static PollResult PollUntilOk(ChildProcess process, long started, int port, byte[] request, CancellationToken cancel)
    {
        var last = "connection refused";
        while (!cancel.IsCancellationRequested && Stopwatch.GetElapsedTime(started) < ReadyLimit)
        {
            if (process.HasExited)
            {
                return new(null, 0, "the process exited");
            }

            var sent = Stopwatch.GetTimestamp();
            var status = StatusOf(port, request);
            if (status == 200)
            {
                return new(Stopwatch.GetElapsedTime(started).TotalMilliseconds, Stopwatch.GetElapsedTime(sent).TotalMilliseconds, "200");
            }

            last = status > 0 ? $"answered {status}" : last;
            Thread.Sleep(2);
        }

        return new(null, 0, $"no 200 within {ReadyLimit.TotalSeconds:F0} s (last: {last})");
    }

    /// <summary>The status code of the answer to <paramref name="request"/> on a new connection; 0 without one.</summary>
    private static int StatusOf(int port, byte[] request)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, ReceiveTimeout = 2_000, SendTimeout = 2_000 };
        try
        {
            socket.Connect(IPAddress.Loopback, port);
            socket.Send(request);
            // "HTTP/1.1 200": the status code ends at byte 12.
            var buffer = new byte[64];
            var read = 0;
            while (read < 12)
            {
                var n = socket.Receive(buffer, read, buffer.Length - read, SocketFlags.None);
                if (n == 0)
                {
                    return 0;
                }

                read += n;
            }

            return int.TryParse(buffer.AsSpan(9, 3), NumberStyles.None, CultureInfo.InvariantCulture, out var status) ? status : 0;
        }
        catch (SocketException)
        {
            return 0;
        }
    }

    private static int Get(HttpClient client, int port)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}{Targets.Path}") { Headers = { Host = Targets.Host } };
        try
        {
            using var response = client.Send(request);
            return (int)response.StatusCode;
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return 0;
        }
    }

    private static void Expect200(ChildProcess process, int status)
    {
        if (status != 200)
        {
            throw Failure(process, status == 0 ? "a request after ready got no answer" : $"a request after ready was answered {status}");
        }
    }

    /// <summary>What went wrong, with the first error line of the process's output (a trimmed build's reflection failure, say).</summary>
    private static InvalidOperationException Failure(ChildProcess process, string what)
    {
        Thread.Sleep(200);
        var output = process.LogTail(500);
        var line = StartupBuilds.FirstError(output) ?? output.Split('\n').FirstOrDefault(l => l.Trim().Length > 0)?.Trim();
        return new InvalidOperationException(line is null ? what : $"{what}: {line}");
    }

    private static double Round(double milliseconds) => Math.Round(milliseconds, 2);

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
