using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Updraft.Local.Replicas;
using Updraft.Shared.Workloads;
using Updraft.Tests.Common;

namespace Updraft.Local.Tests.Replicas;

public sealed class ReadinessProbeTests
{
    [Theory]
    [InlineData("/ok", true)]
    [InlineData("/moved", true)]
    [InlineData("/missing", false)]
    [InlineData("/broken", false)]
    [InlineData("/slow", false)]
    public async Task IsReadyAsync_Http_2xxAnd3xxOnly(string path, bool ready)
    {
        await using var app = await StartServerAsync();
        using var probe = new ReadinessProbe(new ReadinessCheck(ReadinessKind.Http, path, ReadinessCheck.DefaultPeriod, ReadinessCheck.DefaultTimeout));

        Assert.Equal(ready, await probe.IsReadyAsync(Port(app), CancellationToken.None));
    }

    [Fact]
    public async Task IsReadyAsync_NothingListens_FalseForTcpAndHttp()
    {
        var port = LoopbackPorts.Free();
        using var tcp = new ReadinessProbe(ReadinessCheck.DefaultTcp);
        using var http = new ReadinessProbe(new ReadinessCheck(ReadinessKind.Http, "/", ReadinessCheck.DefaultPeriod, ReadinessCheck.DefaultTimeout));

        Assert.False(await tcp.IsReadyAsync(port, CancellationToken.None));
        Assert.False(await http.IsReadyAsync(port, CancellationToken.None));
    }

    [Fact]
    public async Task IsReadyAsync_TcpListener_True()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var probe = new ReadinessProbe(ReadinessCheck.DefaultTcp);

        Assert.True(await probe.IsReadyAsync(((IPEndPoint)listener.LocalEndpoint).Port, CancellationToken.None));
    }

    private static async Task<WebApplication> StartServerAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapGet("/ok", () => "ok");
        app.MapGet("/moved", () => Results.Redirect("/ok"));
        app.MapGet("/broken", () => Results.StatusCode(503));
        app.MapGet("/slow", async (HttpContext context) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
            return "late";
        });
        await app.StartAsync();
        return app;
    }

    private static int Port(WebApplication app) =>
        new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
}
