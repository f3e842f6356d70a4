using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Telemetry;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>
/// A whole interceptor in this process, in standalone mode, on free loopback ports, reading routes from a temp file.
/// Only its configuration is in memory; requests travel over real sockets.
/// </summary>
internal sealed class TestInterceptor : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _directory;

    private TestInterceptor(WebApplication app, string directory, string routesFile, LogCapture logs)
    {
        _app = app;
        Logs = logs;
        _directory = directory;
        RoutesFile = routesFile;
        ProxyPort = app.ProxyPort();
        AdminPort = app.Services.GetRequiredService<AdminServer>().Port;
        MetricsPort = app.Services.GetRequiredService<MetricsServer>().Port;
        Client = NewClient();
    }

    public string RoutesFile { get; }

    /// <summary>What the interceptor logged (at or above <c>UPDRAFT_LOG_LEVEL</c>, Warning unless a test sets it).</summary>
    public LogCapture Logs { get; }

    public int ProxyPort { get; }

    public int AdminPort { get; }

    public int MetricsPort { get; }

    /// <summary>A client aimed at the proxy port (set the Host header per request to pick a route).</summary>
    public HttpClient Client { get; }

    public Uri ProxyUri => new($"http://127.0.0.1:{ProxyPort}");

    /// <summary>The TLS listener's port, or 0 when it is off.</summary>
    public int TlsPort => _app.TlsPort();

    public IServiceProvider Services => _app.Services;

    public RouteTable Table => _app.Services.GetRequiredService<RouteTableHolder>().Current;

    private const string ForwardingPathVariable = "UPDRAFT_LEAN_FORWARDING";

    private const string TransportVariable = "UPDRAFT_TRANSPORT";

    /// <param name="routesYaml">The routes file content.</param>
    /// <param name="settings">Extra environment-style settings (e.g. <c>KEDA_HTTP_REQUEST_TIMEOUT</c>).</param>
    /// <param name="time">The interceptor's clock (a fake one the test moves); the system's by default.</param>
    public static async Task<TestInterceptor> StartAsync(string routesYaml, IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? time = null)
    {
        var directory = Directory.CreateTempSubdirectory("updraft-test-").FullName;
        var routesFile = Path.Combine(directory, "routes.yaml");
        await File.WriteAllTextAsync(routesFile, routesYaml);
        var all = new Dictionary<string, string?>
        {
            ["KEDA_HTTP_PROXY_PORT"] = "0",
            ["KEDA_HTTP_ADMIN_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_PORT"] = "0",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = "0s",
            // The test run's forwarding path (./updraft.sh test runs the forwarding tests once on each).
            [ForwardingPathVariable] = Environment.GetEnvironmentVariable(ForwardingPathVariable),
            // And its transport (./updraft.sh test runs the interceptor's tests on .NET's sockets too).
            [TransportVariable] = Environment.GetEnvironmentVariable(TransportVariable),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return await StartCoreAsync(directory, routesFile, all, time);
    }

    /// <summary>An interceptor in Kubernetes mode, reading the cluster that <paramref name="kubeconfig"/> points at.</summary>
    public static async Task<TestInterceptor> StartInClusterAsync(string kubeconfig, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var directory = Directory.CreateTempSubdirectory("updraft-test-").FullName;
        var all = new Dictionary<string, string?>
        {
            ["KEDA_HTTP_PROXY_PORT"] = "0",
            ["KEDA_HTTP_ADMIN_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_PORT"] = "0",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_MODE"] = "kubernetes",
            ["UPDRAFT_KUBECONFIG"] = kubeconfig,
            ["UPDRAFT_KUBE_RETRY_MAX"] = "200ms",
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = "0s",
            // The test run's forwarding path (./updraft.sh test runs the forwarding tests once on each).
            [ForwardingPathVariable] = Environment.GetEnvironmentVariable(ForwardingPathVariable),
            // And its transport (./updraft.sh test runs the interceptor's tests on .NET's sockets too).
            [TransportVariable] = Environment.GetEnvironmentVariable(TransportVariable),
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return await StartCoreAsync(directory, "", all);
    }

    private static async Task<TestInterceptor> StartCoreAsync(string directory, string routesFile, Dictionary<string, string?> all, TimeProvider? time = null)
    {
        var app = InterceptorApplication.Build([], all, time);
        // Added beside the console provider; the same level and category filters apply to it.
        var logs = new LogCapture();
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            Directory.Delete(directory, recursive: true);
            throw;
        }

        return new TestInterceptor(app, directory, routesFile, logs);
    }

    public HttpClient NewClient(HttpMessageHandler? handler = null) =>
        new(handler ?? new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false, MaxConnectionsPerServer = int.MaxValue })
        {
            BaseAddress = ProxyUri,
            Timeout = TimeSpan.FromSeconds(60),
        };

    public async Task<HttpResponseMessage> GetAsync(string host, string pathAndQuery, params (string Name, string Value)[] headers)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        request.Headers.Host = host;
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return await Client.SendAsync(request);
    }

    /// <summary><c>GET /queue</c> on the admin port, parsed.</summary>
    public async Task<Dictionary<string, QueueEntry>> GetQueueAsync()
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}") };
        return (await admin.GetFromJsonAsync<Dictionary<string, QueueEntry>>("/queue"))!;
    }

    /// <summary>The status and body of <c>GET /readyz</c> on the admin port.</summary>
    public async Task<(int Status, string Body)> GetReadinessAsync()
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}") };
        using var response = await admin.GetAsync("/readyz");
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>The status of <c>GET /readyz</c> on the admin port.</summary>
    public async Task<int> GetReadyStatusAsync()
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{AdminPort}") };
        using var response = await admin.GetAsync("/readyz");
        return (int)response.StatusCode;
    }

    public async Task<string> GetMetricsTextAsync()
    {
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{MetricsPort}") };
        return await client.GetStringAsync("/metrics");
    }

    /// <summary>Polls until <paramref name="condition"/> holds, failing after <paramref name="timeout"/> (default 20 s).</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
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
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

internal sealed record QueueEntry(int Concurrency, long RequestCount);

internal static class Json
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}

internal static class TestInterceptorServices
{
    public static Updraft.Interceptor.Tls.CertificateStore GetCertificateStore(this IServiceProvider services) =>
        services.GetRequiredService<Updraft.Interceptor.Tls.CertificateStore>();
}
