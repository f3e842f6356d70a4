using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Interceptor.Transport;

namespace Updraft.Interceptor.Tests.Transport;

/// <summary><c>UPDRAFT_TRANSPORT</c> in a running interceptor: which transport Kestrel listens with, and how it stops.</summary>
public sealed class EpollTransportTests
{
    [Theory]
    [InlineData("epoll", true)]
    [InlineData("sockets", false)]
    public async Task Start_Transport_KestrelListensOnTheChosenTransportAndServes(string transport, bool epoll)
    {
        await using var upstream = await TestUpstream.StartAsync(context => context.Response.WriteAsync("served"));
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: ["app.test"]),
            new Dictionary<string, string?> { ["UPDRAFT_TRANSPORT"] = transport });

        using var response = await interceptor.GetAsync("app.test", "/");
        var bound = interceptor.Services.GetServices<IConnectionListenerFactory>().OfType<EpollTransportFactory>().Single().Bound;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("served", await response.Content.ReadAsStringAsync());
        Assert.Equal(epoll, bound.OfType<IPEndPoint>().Any(endpoint => endpoint.Port == interceptor.ProxyPort));
    }

    [Fact]
    public async Task Start_NoTransportSetting_EpollOnLinuxX64AndArm64()
    {
        await using var upstream = await TestUpstream.StartAsync(context => context.Response.WriteAsync("served"));
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: ["app.test"]),
            new Dictionary<string, string?> { ["UPDRAFT_TRANSPORT"] = null, ["UPDRAFT_LOG_LEVEL"] = "Information" });

        using var response = await interceptor.GetAsync("app.test", "/");
        var bound = interceptor.Services.GetServices<IConnectionListenerFactory>().OfType<EpollTransportFactory>().Single().Bound;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(LinuxSockets.IsSupported, bound.OfType<IPEndPoint>().Any(endpoint => endpoint.Port == interceptor.ProxyPort));
        var expected = LinuxSockets.IsSupported ? "transport epoll" : "transport sockets";
        Assert.Contains(interceptor.Logs.Entries, e => e.Message.EndsWith(expected, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("epoll")]
    [InlineData("sockets")]
    public async Task Sigterm_ClientThatNeverReadsALargeResponse_DrainTimeoutAbortsItAndTheProcessExits(string transport)
    {
        // The response never ends, and the client reads none of it: once every buffer on the way is full, the
        // interceptor's send to the client waits for room that never comes, and only the drain's abort can end it.
        var written = 0L;
        var upstreamAborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            var chunk = new byte[64 * 1024];
            try
            {
                while (!context.RequestAborted.IsCancellationRequested)
                {
                    await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
                    Interlocked.Add(ref written, chunk.Length);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
            }

            upstreamAborted.TrySetResult();
        });
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", Routes.InterceptorRoute("app", upstream.Port));
        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"], new Dictionary<string, string>
        {
            ["UPDRAFT_TRANSPORT"] = transport,
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = "0s",
            ["KEDA_HTTP_DRAIN_TIMEOUT"] = "2s",
        });
        var (proxyPort, _) = await process.WaitForPortsAsync();
        using var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await client.ConnectAsync(IPAddress.Loopback, proxyPort);
        await client.SendAsync(Encoding.ASCII.GetBytes("GET /big HTTP/1.1\r\nHost: app\r\n\r\n"));
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(Interlocked.Read(ref written) >= 1024 * 1024), "the response is on its way");

        process.Terminate();
        var exitCode = await process.WaitForExitAsync();

        Assert.Equal(0, exitCode);
        await upstreamAborted.Task.WaitAsync(TimeSpan.FromSeconds(30));
        // The client gets what the buffers held, then the end of the connection.
        var buffer = new byte[1024 * 1024];
        var received = 0L;
        int read;
        try
        {
            while ((read = await client.ReceiveAsync(buffer).WaitAsync(TimeSpan.FromSeconds(30))) > 0)
            {
                received += read;
            }
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
        }

        Assert.True(received < Interlocked.Read(ref written), $"the client got {received} bytes of {Interlocked.Read(ref written)}: the response cannot have been complete");
    }
}
