using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Updraft.Interceptor.Hosting;

/// <summary>
/// A small HTTP server beside the proxy (admin, metrics) with its own Kestrel listener, so its traffic never
/// shares a port or a pipeline with proxied requests. Started before and stopped after the proxy listener.
/// </summary>
internal abstract class SideServer(ILoggerFactory loggerFactory) : IHostedService
{
    private WebApplication? _app;

    /// <summary>The bound port (the chosen one when configured as 0); 0 until started.</summary>
    public int Port { get; private set; }

    protected abstract string Name { get; }

    protected abstract bool Enabled { get; }

    protected abstract int ConfiguredPort { get; }

    protected abstract IPAddress? BindAddress { get; }

    protected abstract void Map(WebApplication app);

    /// <summary>Services of this server's own container (it does not see the interceptor's).</summary>
    protected virtual void ConfigureServices(IServiceCollection services)
    {
    }

    protected virtual void ConfigureListener(ListenOptions listen) => listen.Protocols = HttpProtocols.Http1;

    protected virtual void ConfigureKestrel(KestrelServerOptions kestrel)
    {
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return;
        }

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(loggerFactory);
        ConfigureServices(builder.Services);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            ConfigureKestrel(kestrel);
            if (BindAddress is null)
            {
                kestrel.ListenAnyIP(ConfiguredPort, ConfigureListener);
            }
            else
            {
                kestrel.Listen(BindAddress, ConfiguredPort, ConfigureListener);
            }
        });
        _app = builder.Build();
        Map(_app);
        await _app.StartAsync(cancellationToken);
        Port = ListenerPorts.First(_app.Services.GetRequiredService<IServer>());
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken);
            await _app.DisposeAsync();
            _app = null;
        }
    }

    public override string ToString() => Enabled ? $"{Name} :{Port}" : $"{Name} off";
}

internal static class ListenerPorts
{
    /// <summary>The first bound port whose scheme is <paramref name="scheme"/>, or 0.</summary>
    public static int First(IServer server, string scheme = "http")
    {
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses;
        if (addresses is null)
        {
            return 0;
        }

        foreach (var address in addresses)
        {
            var binding = BindingAddress.Parse(address);
            if (string.Equals(binding.Scheme, scheme, StringComparison.OrdinalIgnoreCase))
            {
                return binding.Port;
            }
        }

        return 0;
    }
}
