using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Microbenchmarks;

/// <summary>
/// The whole interceptor (standalone mode, routes from a temp file, default settings) in front of a minimal Kestrel
/// upstream, both in this process on loopback, and one keep-alive <see cref="HttpClient"/> that can call either.
/// </summary>
internal sealed class HotPathRig : IAsyncDisposable
{
    public const string RouteHost = "app.example.com";

    private static readonly byte[] Body = "hello, world\n"u8.ToArray();

    private readonly WebApplication _upstream;
    private readonly WebApplication _interceptor;
    private readonly string _directory;
    private readonly HttpClient _client;
    private readonly Uri _proxied;
    private readonly Uri _direct;

    private HotPathRig(WebApplication upstream, int upstreamPort, WebApplication interceptor, string directory)
    {
        _upstream = upstream;
        _interceptor = interceptor;
        _directory = directory;
        _client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false, UseCookies = false })
        {
            Timeout = TimeSpan.FromSeconds(30),
        };
        _proxied = new Uri($"http://127.0.0.1:{interceptor.ProxyPort()}/api/items/42");
        _direct = new Uri($"http://127.0.0.1:{upstreamPort}/api/items/42");
    }

    /// <param name="settings">Extra interceptor settings (environment-variable names, or <c>Logging:...</c> keys).</param>
    public static async Task<HotPathRig> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var upstream = await StartUpstreamAsync();
        var upstreamPort = new Uri(upstream.Urls.First()).Port;
        var directory = Directory.CreateTempSubdirectory("updraft-bench-").FullName;
        var routesFile = Path.Combine(directory, "routes.yaml");
        await File.WriteAllTextAsync(routesFile, Routes.InterceptorRoute("app", upstreamPort, hosts: [RouteHost]));
        var all = new Dictionary<string, string?>
        {
            ["KEDA_HTTP_PROXY_PORT"] = "0",
            ["KEDA_HTTP_ADMIN_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_PORT"] = "0",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var interceptor = InterceptorApplication.Build([], all);
        await interceptor.StartAsync();
        var rig = new HotPathRig(upstream, upstreamPort, interceptor, directory);
        if (await rig.ProxiedAsync() != Body.Length || await rig.DirectAsync() != Body.Length)
        {
            await rig.DisposeAsync();
            throw new InvalidOperationException("the hot path rig does not answer");
        }

        return rig;
    }

    /// <summary>GET through the interceptor; returns the body length (the request fails on any status but 200).</summary>
    public Task<int> ProxiedAsync() => SendAsync(_proxied, RouteHost);

    /// <summary>The same GET straight to the upstream: the client's and the upstream's share of a proxied request.</summary>
    public Task<int> DirectAsync() => SendAsync(_direct, null);

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _interceptor.StopAsync();
        await _interceptor.DisposeAsync();
        await _upstream.StopAsync();
        await _upstream.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private async Task<int> SendAsync(Uri uri, string? host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        if (host is not null)
        {
            request.Headers.Host = host;
        }

        using var response = await _client.SendAsync(request);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"{uri} answered {(int)response.StatusCode}");
        }

        return (await response.Content.ReadAsByteArrayAsync()).Length;
    }

    private static async Task<WebApplication> StartUpstreamAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, 0, listen => listen.Protocols = HttpProtocols.Http1);
        });
        var app = builder.Build();
        app.Run(context =>
        {
            context.Response.ContentLength = Body.Length;
            return context.Response.Body.WriteAsync(Body, 0, Body.Length);
        });
        await app.StartAsync();
        return app;
    }
}
