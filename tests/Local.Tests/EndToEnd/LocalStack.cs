using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Updraft.ExternalScaler.Hosting;
using Updraft.Interceptor.Hosting;
using Updraft.Local.Hosting;
using Updraft.Local.Replicas;
using Updraft.Tests.Common;

namespace Updraft.Local.Tests.EndToEnd;

/// <summary>
/// The whole local loop on loopback: the external scaler, the local autoscaler and the interceptor, each a real host
/// in this process on its own ports, with the replicas as real processes (the repository's echo app).
/// </summary>
internal sealed class LocalStack : IAsyncDisposable
{
    private readonly string _directory;

    private LocalStack(string directory, WebApplication scaler, WebApplication local, WebApplication interceptor, int proxyPort, int adminPort)
    {
        AdminPort = adminPort;
        _directory = directory;
        Scaler = scaler;
        Local = local;
        Interceptor = interceptor;
        ProxyPort = proxyPort;
        Client = new HttpClient(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero }) { Timeout = TimeSpan.FromSeconds(60) };
    }

    public WebApplication Scaler { get; }

    public WebApplication Local { get; }

    public WebApplication Interceptor { get; }

    public int ProxyPort { get; }

    public int AdminPort { get; }

    /// <summary>What the local autoscaler logged.</summary>
    public CapturedLogs LocalLogs { get; private init; } = new();

    public string RoutesFile { get; private init; } = "";

    public HttpClient Client { get; }

    public LocalRunner Runner => Local.Services.GetRequiredService<LocalRunner>();

    public ReplicaEventLog Events => Runner.Events;

    /// <summary>The echo app's command for a workload (a real process per replica).</summary>
    public static string EchoCommand
    {
        get
        {
            var configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!)!;
            var dll = Path.Combine(Repository.Root(), "examples", "echo", "bin", configuration, "net10.0", "Updraft.Examples.Echo.dll");
            Assert.True(File.Exists(dll), $"{dll} is missing: build the solution first");
            return $"[dotnet, \"{dll}\", --urls, \"http://127.0.0.1:$PORT\"]";
        }
    }

    /// <summary>Writes <paramref name="routes"/> to a routes file and starts the three hosts on free loopback ports.</summary>
    public static async Task<LocalStack> StartAsync(string routes)
    {
        var directory = Directory.CreateTempSubdirectory("local-stack-").FullName;
        var routesFile = Path.Combine(directory, "routes.yaml");
        await File.WriteAllTextAsync(routesFile, routes);
        var adminPort = FreePort();

        var scaler = ScalerApplication.Build([], new Dictionary<string, string?>
        {
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_INTERCEPTORS"] = "127.0.0.1:" + Text(adminPort),
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
        });
        await scaler.StartAsync();
        var scalerPort = ScalerApplication.BoundPorts(scaler)[0];

        var local = LocalApplication.Build([], new Dictionary<string, string?>
        {
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_LOCAL_SCALER"] = "127.0.0.1:" + Text(scalerPort),
            ["UPDRAFT_LOCAL_PORT"] = "0",
            ["UPDRAFT_LOG_LEVEL"] = "Information", // its own few lines are asserted on
        });
        var logs = new CapturedLogs();
        local.Services.GetRequiredService<ILoggerFactory>().AddProvider(logs);
        await local.StartAsync();
        var localPort = LocalApplication.BoundPort(local);

        var proxyPort = FreePort();
        var interceptor = InterceptorApplication.Build([], new Dictionary<string, string?>
        {
            ["KEDA_HTTP_PROXY_PORT"] = Text(proxyPort),
            ["KEDA_HTTP_ADMIN_PORT"] = Text(adminPort),
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_LOCAL_REPLICAS"] = "127.0.0.1:" + Text(localPort),
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = "0s",
        });
        await interceptor.StartAsync();
        var stack = new LocalStack(directory, scaler, local, interceptor, proxyPort, adminPort) { LocalLogs = logs, RoutesFile = routesFile };
        await stack.WaitUntilAsync(() => stack.Runner.Feed.Subscribers > 0, "the interceptor follows the replicas feed");
        return stack;
    }

    public Task<HttpResponseMessage> GetAsync(string host, string pathAndQuery = "/")
    {
        var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{ProxyPort}{pathAndQuery}") { Headers = { Host = host } };
        return Client.SendAsync(request);
    }

    public IReadOnlyList<ReplicaEvent> EventsOf(ReplicaEventKind kind) => [.. Events.Recent.Where(e => e.Kind == kind)];

    public string EventLines => string.Join("\n", Events.Recent.Select(e => e.Line));

    /// <summary>Waits (generously: the machine may be loaded) until <paramref name="condition"/> holds.</summary>
    public async Task WaitUntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting until {what}; events:\n{EventLines}");
            await Task.Delay(20);
        }
    }

    public static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        foreach (var app in new[] { Interceptor, Local, Scaler })
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }

        Directory.Delete(_directory, recursive: true);
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
