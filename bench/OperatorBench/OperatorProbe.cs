using System.Diagnostics;
using System.Globalization;
using System.Net;

namespace Updraft.Bench.Operator;

/// <summary>The operator child process as the benchmark reads it: <c>/readyz</c>, <c>/metrics</c>, idleness.</summary>
internal sealed class OperatorProbe(ChildProcess process, int metricsPort, int healthPort) : IDisposable
{
    public const string ApiWrites = "updraft_operator_api_writes_total";

    private readonly HttpClient _local = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };

    public ChildProcess Process => process;

    public static double Sum(List<Sample> metrics, string name) => metrics.Where(s => s.Name == name).Sum(s => s.Value);

    /// <summary><c>updraft_operator_api_writes_total</c> by <c>"resource verb"</c>.</summary>
    public static Dictionary<string, double> WritesBy(List<Sample> metrics) =>
        metrics.Where(s => s.Name == ApiWrites)
            .GroupBy(s => $"{s.Label("resource")} {s.Label("verb")}", StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(s => s.Value), StringComparer.Ordinal);

    /// <summary><c>controller_runtime_reconcile_total</c> by <c>"controller result"</c>.</summary>
    public static Dictionary<string, double> Reconciles(List<Sample> metrics) =>
        metrics.Where(s => s.Name == "controller_runtime_reconcile_total")
            .GroupBy(s => $"{s.Label("controller")} {s.Label("result")}", StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Sum(s => s.Value), StringComparer.Ordinal);

    /// <summary><paramref name="after"/> - <paramref name="before"/> per key, non-zero differences only, ordered by key.</summary>
    public static Dictionary<string, double> Delta(Dictionary<string, double> before, Dictionary<string, double> after) =>
        after.Select(a => (a.Key, Value: a.Value - before.GetValueOrDefault(a.Key)))
            .Where(d => d.Value != 0)
            .OrderBy(d => d.Key, StringComparer.Ordinal)
            .ToDictionary(d => d.Key, d => d.Value, StringComparer.Ordinal);

    public async Task<List<Sample>> ReadMetricsAsync(CancellationToken cancellationToken) =>
        PrometheusText.Parse(await _local.GetStringAsync($"http://127.0.0.1:{Port(metricsPort)}/metrics", cancellationToken));

    /// <summary>/readyz answers 200 once the operator's caches are synced.</summary>
    public async Task WaitReadyzAsync(CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (60 * Stopwatch.Frequency);
        while (true)
        {
            if (process.Process.HasExited)
            {
                throw new InvalidOperationException($"the operator exited with code {process.Process.ExitCode} before it was ready");
            }

            try
            {
                using var response = await _local.GetAsync($"http://127.0.0.1:{Port(healthPort)}/readyz", cancellationToken);
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

    /// <summary>
    /// Idle: the named controllers' work queues empty, no worker running, no Event pending, and <paramref name="alsoIdle"/>
    /// (the benchmark's own writers) true, in three reads 200 ms apart.
    /// </summary>
    public async Task WaitIdleAsync(IReadOnlyList<string> queues, Func<bool> alsoIdle, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        var idleReads = 0;
        while (idleReads < 3)
        {
            var metrics = await ReadMetricsAsync(cancellationToken);
            var depths = metrics.Where(s => s.Name == "workqueue_depth").ToDictionary(s => s.Label("name"), s => s.Value, StringComparer.Ordinal);
            var workers = Sum(metrics, "controller_runtime_active_workers");
            var events = Sum(metrics, "updraft_operator_events_pending");
            var idle = queues.All(q => depths.TryGetValue(q, out var depth) && depth == 0) && workers == 0 && events == 0 && alsoIdle();
            idleReads = idle ? idleReads + 1 : 0;
            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"the operator was not idle within {timeout.TotalSeconds:0} s (workqueue_depth {string.Join(", ", depths.Select(d => $"{d.Key}={d.Value}"))}; active workers {workers}; events pending {events}; the benchmark's writers idle: {alsoIdle()})");
            }

            await Task.Delay(200, cancellationToken);
        }
    }

    public void Dispose() => _local.Dispose();

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
