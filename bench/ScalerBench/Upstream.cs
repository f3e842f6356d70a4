using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

/// <summary>
/// A loopback Kestrel backend: <c>cold-*</c> hosts answer after <see cref="SlowAnswer"/> (so the first request of a
/// cold route is still in flight when the scaler should report it), every other host at once.
/// </summary>
internal sealed class Upstream : IAsyncDisposable
{
    public static readonly TimeSpan SlowAnswer = TimeSpan.FromMilliseconds(500);

    private readonly WebApplication _app;

    private Upstream(WebApplication app) => _app = app;

    public int Port { get; private set; }

    public static async Task<Upstream> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(System.Net.IPAddress.Loopback, 0));
        var app = builder.Build();
        var upstream = new Upstream(app);
        app.Run(async context =>
        {
            if (context.Request.Host.Host.StartsWith("cold-", StringComparison.Ordinal))
            {
                await Task.Delay(SlowAnswer, context.RequestAborted);
            }

            await context.Response.WriteAsync("ok");
        });
        await app.StartAsync();
        upstream.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return upstream;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
