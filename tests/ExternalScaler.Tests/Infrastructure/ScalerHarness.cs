using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Updraft.ExternalScaler.Hosting;
using Updraft.ExternalScaler.Http;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using Scaler = Updraft.Protos.ExternalScaler.ExternalScaler;

namespace Updraft.ExternalScaler.Tests.Infrastructure;

/// <summary>
/// A routes file, real interceptors (in this process, on loopback ports, in standalone mode) and a real scaler
/// pointed at their admin ports, plus a gRPC client generated from our proto, used the way KEDA uses it.
/// </summary>
internal sealed class ScalerHarness : IAsyncDisposable
{
    private readonly string _directory;
    private readonly List<WebApplication> _interceptors;
    private readonly WebApplication _scaler;
    private readonly GrpcChannel _channel;

    private ScalerHarness(string directory, List<WebApplication> interceptors, WebApplication scaler, string routesFile)
    {
        _directory = directory;
        _interceptors = interceptors;
        _scaler = scaler;
        RoutesFile = routesFile;
        GrpcPort = ScalerApplication.BoundPorts(scaler)[0];
        MetricsPort = ScalerApplication.BoundPorts(scaler).ElementAtOrDefault(1);
        _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{GrpcPort}");
        Client = new Scaler.ExternalScalerClient(_channel);
        Health = new Grpc.Health.V1.Health.HealthClient(_channel);
    }

    public string RoutesFile { get; }

    public int GrpcPort { get; }

    public int MetricsPort { get; }

    public Scaler.ExternalScalerClient Client { get; }

    public Grpc.Health.V1.Health.HealthClient Health { get; }

    public IReadOnlyList<WebApplication> Interceptors => _interceptors;

    public CountsAggregator Aggregator => _scaler.Services.GetRequiredService<CountsAggregator>();

    /// <summary>The scaler's services, for tests that inspect a source's internals (shared clients, pollers).</summary>
    public IServiceProvider Services => _scaler.Services;

    /// <param name="routesYaml">The routes file both the interceptors and the scaler read.</param>
    /// <param name="interceptors">How many interceptor replicas to start.</param>
    /// <param name="extraInterceptorAddresses">More admin addresses for the scaler (fake or broken replicas).</param>
    /// <param name="settings">Extra scaler settings.</param>
    /// <param name="waitForCounts">Return only once some interceptor reported (as a ready scaler would).</param>
    public static async Task<ScalerHarness> StartAsync(
        string routesYaml,
        int interceptors = 1,
        IEnumerable<string>? extraInterceptorAddresses = null,
        IReadOnlyDictionary<string, string?>? settings = null,
        bool waitForCounts = true)
    {
        var directory = Directory.CreateTempSubdirectory("updraft-scaler-test-").FullName;
        var routesFile = Path.Combine(directory, "routes.yaml");
        await File.WriteAllTextAsync(routesFile, routesYaml);
        var started = new List<WebApplication>();
        try
        {
            var addresses = new List<string>();
            for (var i = 0; i < interceptors; i++)
            {
                var interceptor = InterceptorApplication.Build([], new Dictionary<string, string?>
                {
                    ["KEDA_HTTP_PROXY_PORT"] = "0",
                    ["KEDA_HTTP_ADMIN_PORT"] = "0",
                    ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
                    ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
                    ["UPDRAFT_ROUTES_FILE"] = routesFile,
                    ["UPDRAFT_LOG_LEVEL"] = "Warning",
                    ["KEDA_HTTP_SHUTDOWN_DELAY"] = "0s",
                });
                started.Add(interceptor);
                await interceptor.StartAsync();
                addresses.Add($"127.0.0.1:{interceptor.Services.GetRequiredService<AdminServer>().Port}");
            }

            addresses.AddRange(extraInterceptorAddresses ?? []);
            var all = new Dictionary<string, string?>
            {
                ["KEDA_HTTP_SCALER_PORT"] = "0",
                ["OTEL_PROM_EXPORTER_PORT"] = "0",
                ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
                ["UPDRAFT_ROUTES_FILE"] = routesFile,
                ["UPDRAFT_INTERCEPTORS"] = string.Join(",", addresses),
                ["UPDRAFT_LOG_LEVEL"] = "Warning",
                ["KEDA_HTTP_QUEUE_TICK_DURATION"] = "100ms",
            };
            foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
            {
                all[key] = value;
            }

            var scaler = ScalerApplication.Build([], all);
            started.Add(scaler);
            await scaler.StartAsync();
            started.Remove(scaler);
            var harness = new ScalerHarness(directory, started, scaler, routesFile);
            if (waitForCounts && interceptors > 0)
            {
                await WaitUntilAsync(() => Task.FromResult(harness.Aggregator.Current.FreshReplicas >= interceptors), "every interceptor reported");
            }

            return harness;
        }
        catch
        {
            foreach (var app in started)
            {
                await app.DisposeAsync();
            }

            Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    public int ProxyPort(int interceptor = 0) => _interceptors[interceptor].ProxyPort();

    /// <summary>A client for interceptor <paramref name="interceptor"/>'s proxy port.</summary>
    public HttpClient ProxyClient(int interceptor = 0) =>
        new(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = int.MaxValue })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{ProxyPort(interceptor)}"),
            Timeout = TimeSpan.FromSeconds(60),
        };

    public static ScaledObjectRef Ref(string name, params (string Key, string Value)[] metadata)
    {
        var reference = new ScaledObjectRef { Name = name, Namespace = "default" };
        foreach (var (key, value) in metadata)
        {
            reference.ScalerMetadata[key] = value;
        }

        return reference;
    }

    /// <summary><c>GetMetrics</c> for one metric of <paramref name="reference"/>, or NaN while the scaler answers with an error.</summary>
    public async Task<double> MetricAsync(ScaledObjectRef reference, string metricName)
    {
        try
        {
            var response = await Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = metricName });
            return response.MetricValues.Single().MetricValueFloat;
        }
        catch (Grpc.Core.RpcException)
        {
            return double.NaN;
        }
    }

    /// <summary>A free loopback port (the tests' one helper for it).</summary>
    public static int FreePort() => TestUpstream.FreePort();

    /// <summary>Polls until <paramref name="condition"/> holds (20 s cap).</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what}.");
            }

            await Task.Delay(20);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _channel.Dispose();
        await _scaler.StopAsync();
        await _scaler.DisposeAsync();
        foreach (var interceptor in _interceptors)
        {
            await interceptor.StopAsync();
            await interceptor.DisposeAsync();
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Routes-file YAML for scaler tests.</summary>
internal static class RoutesYaml
{
    /// <param name="name">metadata.name (namespace default).</param>
    /// <param name="upstreamPort">Target port on 127.0.0.1.</param>
    /// <param name="host">The rule's host.</param>
    /// <param name="scalingMetric">The YAML flow mapping of spec.scalingMetric.</param>
    public static string InterceptorRoute(string name, int upstreamPort, string host, string scalingMetric = "{concurrency: {targetValue: 10}}") => $"""
        apiVersion: http.keda.sh/v1beta1
        kind: InterceptorRoute
        metadata: {"{"}name: {name}, namespace: default{"}"}
        spec:
          target: {"{"}service: 127.0.0.1, port: {upstreamPort}{"}"}
          scalingMetric: {scalingMetric}
          rules:
            - hosts: [{host}]

        """;

    public static string HttpScaledObject(string name, int upstreamPort, string host, string? scalingMetric = null) => $"""
        apiVersion: http.keda.sh/v1alpha1
        kind: HTTPScaledObject
        metadata: {"{"}name: {name}, namespace: default{"}"}
        spec:
          hosts: [{host}]
          scaleTargetRef: {"{"}name: {name}, kind: Deployment, apiVersion: apps/v1, service: 127.0.0.1, port: {upstreamPort}{"}"}
        {(scalingMetric is null ? "" : "  scalingMetric: " + scalingMetric)}

        """;

    public static string Documents(params string[] documents) => string.Join("---\n", documents);
}
