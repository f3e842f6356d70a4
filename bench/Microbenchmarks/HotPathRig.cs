using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Logging;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Microbenchmarks;

/// <summary>
/// The whole interceptor (standalone mode, routes from a temp file, default settings) in front of an upstream, both in
/// this process on loopback, and keep-alive clients that can call either. The peers are a minimal Kestrel app and
/// <see cref="HttpClient"/> (what a real exchange costs on each side), or, with <c>rawPeers</c>, the socket-level
/// <see cref="RawHttpUpstream"/> and <see cref="RawHttpClient"/>, which allocate nothing per request.
/// </summary>
internal sealed class HotPathRig : IAsyncDisposable
{
    public const string RouteHost = "app.example.com";

    private static readonly byte[] Body = "hello, world\n"u8.ToArray();

    private readonly IAsyncDisposable _upstream;
    private readonly WebApplication _interceptor;
    private readonly string _directory;
    private readonly HttpClient _client;
    private readonly Uri _proxied;
    private readonly Uri _direct;
    private readonly RawHttpClient? _rawProxied;
    private readonly RawHttpClient? _rawDirect;

    private HotPathRig(IAsyncDisposable upstream, int upstreamPort, WebApplication interceptor, string directory, bool rawPeers)
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
        if (rawPeers)
        {
            _rawProxied = new RawHttpClient(interceptor.ProxyPort(), RouteHost, _proxied.AbsolutePath);
            _rawDirect = new RawHttpClient(upstreamPort, RouteHost, _direct.AbsolutePath);
        }
    }

    /// <param name="settings">Extra interceptor settings (environment-variable names, or <c>Logging:...</c> keys).</param>
    /// <param name="rawPeers">Socket-level client and upstream instead of <see cref="HttpClient"/> and Kestrel.</param>
    public static async Task<HotPathRig> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, bool rawPeers = false)
    {
        IAsyncDisposable upstream;
        int upstreamPort;
        if (rawPeers)
        {
            var raw = RawHttpUpstream.Start();
            (upstream, upstreamPort) = (raw, raw.Port);
        }
        else
        {
            var kestrel = await StartUpstreamAsync();
            (upstream, upstreamPort) = (kestrel, new Uri(kestrel.Urls.First()).Port);
        }

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
        var rig = new HotPathRig(upstream, upstreamPort, interceptor, directory, rawPeers);
        try
        {
            // Both clients fail on anything but a whole 200.
            await rig.RunProxiedAsync(1);
            await rig.RunDirectAsync(1);
        }
        catch
        {
            await rig.DisposeAsync();
            throw;
        }

        return rig;
    }

    /// <summary><paramref name="count"/> GETs through the interceptor, one after another.</summary>
    public Task RunProxiedAsync(int count) => _rawProxied is { } raw ? raw.RunAsync(count) : RepeatAsync(ProxiedAsync, count);

    /// <summary><paramref name="count"/> of the same GETs straight to the upstream.</summary>
    public Task RunDirectAsync(int count) => _rawDirect is { } raw ? raw.RunAsync(count) : RepeatAsync(DirectAsync, count);

    private static async Task RepeatAsync(Func<Task<int>> request, int count)
    {
        for (var i = 0; i < count; i++)
        {
            if (await request() != Body.Length)
            {
                throw new InvalidOperationException("the hot path rig answered a body of the wrong length");
            }
        }
    }

    /// <summary>GET through the interceptor; returns the body length (the request fails on any status but 200).</summary>
    public Task<int> ProxiedAsync() => SendAsync(_proxied, RouteHost);

    /// <summary>The same GET straight to the upstream: the client's and the upstream's share of a proxied request.</summary>
    public Task<int> DirectAsync() => SendAsync(_direct, null);

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        _rawProxied?.Dispose();
        _rawDirect?.Dispose();
        await _interceptor.StopAsync();
        await _interceptor.DisposeAsync();
        if (_upstream is WebApplication kestrel)
        {
            await kestrel.StopAsync();
        }

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
