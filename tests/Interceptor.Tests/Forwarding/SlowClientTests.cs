using System.Net;
using System.Net.Sockets;
using System.Text;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>Clients that try to hold connections open by sending a request head very slowly.</summary>
public sealed class SlowClientTests
{
    [Fact]
    public async Task Slowloris_HeadDribbledSlowerThanTheHeadersTimeout_ConnectionClosedAndOthersServed()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("up");
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port),
            new Dictionary<string, string?> { ["UPDRAFT_REQUEST_HEADERS_TIMEOUT"] = "1s" });
        var slow = Enumerable.Range(0, 20).Select(_ => DribbleAsync(interceptor.ProxyPort)).ToArray();

        using var served = await interceptor.GetAsync("app.example.com", "/");
        var outcomes = await Task.WhenAll(slow);

        Assert.Equal(HttpStatusCode.OK, served.StatusCode);
        // Each slow client was cut off by the server long before its head was complete (it would need 30 s).
        Assert.All(outcomes, closed => Assert.True(closed));
        // Only the complete request reached the route.
        Assert.Equal(1, (await interceptor.GetQueueAsync())["default/app"].RequestCount);
    }

    /// <summary>Sends a never-ending request head, one header byte every 100 ms, for at most 30 s.</summary>
    /// <returns>Whether the server closed the connection before the 30 s were up.</returns>
    private static async Task<bool> DribbleAsync(int port)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: app.example.com\r\nX-Slow: "));
        for (var i = 0; i < 300; i++)
        {
            try
            {
                await stream.WriteAsync("a"u8.ToArray());
                await Task.Delay(100);
                if (client.Client.Poll(0, SelectMode.SelectRead) && client.Available == 0)
                {
                    return true; // the server closed its side
                }
            }
            catch (IOException)
            {
                return true;
            }
        }

        return false;
    }
}
