using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Operator.Hosting;
using Updraft.Operator.Telemetry;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Operator.Tests.Infrastructure;

/// <summary>
/// The operator in this process, against the real API server, watching one test namespace, with its metrics and
/// probes on free loopback ports. Stopped (gracefully) on dispose.
/// </summary>
internal sealed class OperatorHarness : IAsyncDisposable
{
    public const string OperatorNamespace = "updraft-system";

    private readonly WebApplication _app;

    private OperatorHarness(WebApplication app)
    {
        _app = app;
    }

    public OperatorMetrics Metrics => _app.Services.GetRequiredService<OperatorMetrics>();

    public OperatorService Service => _app.Services.GetRequiredService<OperatorService>();

    public int MetricsPort { get; private set; }

    public int HealthPort { get; private set; }

    /// <summary>Write requests so far.</summary>
    public long Writes => Metrics.Writes;

    public static async Task<OperatorHarness> StartAsync(RealApiServer api, string watchNamespace, Dictionary<string, string?>? extra = null, string? kubeconfig = null)
    {
        await api.EnsureNamespaceAsync(OperatorNamespace);
        var settings = Settings(kubeconfig ?? api.Kubeconfig, watchNamespace);
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        var app = OperatorApplication.Build([], settings, podNamespaceFile: "/nonexistent/namespace");
        await app.StartAsync();
        var harness = new OperatorHarness(app);
        var ports = OperatorApplication.BoundPorts(app);
        harness.MetricsPort = ports[0];
        harness.HealthPort = ports[1];
        return harness;
    }

    public static Dictionary<string, string?> Settings(string kubeconfig, string watchNamespace) => new()
    {
        ["UPDRAFT_KUBECONFIG"] = kubeconfig,
        ["KEDA_HTTP_OPERATOR_NAMESPACE"] = OperatorNamespace,
        ["KEDA_HTTP_OPERATOR_WATCH_NAMESPACE"] = watchNamespace,
        ["UPDRAFT_OPERATOR_METRICS_BIND_ADDRESS"] = "127.0.0.1:0",
        ["UPDRAFT_OPERATOR_HEALTH_PROBE_BIND_ADDRESS"] = "127.0.0.1:0",
        ["UPDRAFT_KUBE_RETRY_MAX"] = "500ms",
        ["UPDRAFT_LOG_LEVEL"] = "warning",
    };

    /// <summary>Waits until every controller has nothing queued and nothing running.</summary>
    public Task IdleAsync() => Eventually.TrueAsync(
        () => Service.Controllers.All(c => c.Queue.Depth == 0 && c.Queue.InFlight == 0) && Events.Pending == 0,
        () => string.Join(", ", Service.Controllers.Select(c => $"{c.Name}: {c.Queue.Depth} queued, {c.Queue.InFlight} running")) + $"; {Events.Pending} events pending");

    public Updraft.Operator.Cluster.EventRecorder Events => _app.Services.GetRequiredService<Updraft.Operator.Cluster.EventRecorder>();

    /// <summary>Reconciles every object again (as the periodic resync does) and waits until that is done.</summary>
    public async Task ResyncAsync()
    {
        foreach (var controller in Service.Controllers)
        {
            controller.EnqueueAll();
        }

        await IdleAsync();
    }

    public static async Task<string> GetAsync(int port, string path)
    {
        using var client = new HttpClient { BaseAddress = new Uri("http://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture)) };
        using var response = await client.GetAsync(path);
        return (int)response.StatusCode + " " + await response.Content.ReadAsStringAsync();
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}
