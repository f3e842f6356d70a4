using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Updraft.Tests.Common;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>A real Kestrel server on a free loopback port, answering with the given handler.</summary>
internal sealed class TestUpstream : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestUpstream(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public static Task<TestUpstream> StartAsync(RequestDelegate handler, HttpProtocols protocols = HttpProtocols.Http1) =>
        StartOnPortAsync(0, handler, protocols);

    public static Task<TestUpstream> StartOnPortAsync(int port, RequestDelegate handler, HttpProtocols protocols = HttpProtocols.Http1) =>
        StartAppAsync(app => app.Run(handler), listen => listen.Protocols = protocols, port: port);

    /// <summary>An upstream with its own services, listener options (HTTP/2 only, TLS) and pipeline (gRPC, WebSockets).</summary>
    /// <param name="configure">Maps the app's endpoints or middleware.</param>
    /// <param name="listen">Configures the loopback listener.</param>
    /// <param name="services">Adds services before the app is built.</param>
    /// <param name="port">The port; 0 picks a free one.</param>
    /// <param name="address">The loopback address (default 127.0.0.1; any of 127.0.0.0/8 works on Linux).</param>
    public static async Task<TestUpstream> StartAppAsync(
        Action<WebApplication> configure,
        Action<ListenOptions>? listen = null,
        Action<IServiceCollection>? services = null,
        int port = 0,
        IPAddress? address = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        services?.Invoke(builder.Services);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MaxRequestLineSize = 64 * 1024;
            kestrel.Limits.MaxRequestHeadersTotalSize = 64 * 1024;
            kestrel.Listen(address ?? IPAddress.Loopback, port, options => listen?.Invoke(options));
        });
        var app = builder.Build();
        configure(app);
        await app.StartAsync();
        return new TestUpstream(app, new Uri(app.Urls.First()).Port);
    }

    /// <summary>A loopback port nothing listens on (yet): connects to it are refused until an upstream starts there.</summary>
    public static int FreePort() => LoopbackPorts.Free();

    /// <summary>An upstream that answers 200 with its own name, so tests can tell upstreams apart.</summary>
    public static Task<TestUpstream> StartNamedAsync(string name) =>
        StartAsync(context =>
        {
            context.Response.Headers["X-Upstream"] = name;
            return context.Response.WriteAsync(name);
        });

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
