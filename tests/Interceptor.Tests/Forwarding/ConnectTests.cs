using System.Net;
using System.Net.WebSockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>
/// <c>CONNECT</c> is not a proxy method here: a tunnel request gets 501 and nothing is forwarded. The one exception is
/// an HTTP/2 extended CONNECT for a WebSocket (RFC 8441), which is forwarded, to an HTTP/1.1 upstream as an Upgrade.
/// </summary>
public sealed class ConnectTests
{
    private const string Host = "app.example.com";

    [Theory]
    [InlineData("app.example.com:443")]
    [InlineData("127.0.0.1:{port}")]
    public async Task Connect_Http11_Returns501AndForwardsNothing(string authority)
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port));
        authority = authority.Replace("{port}", upstream.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");

        Assert.Equal(501, response.Status);
        Assert.Empty(upstream.Requests);
        await RequestCounts.WaitForAsync(interceptor, "", 1);
        Assert.Equal(1, await RequestCounts.SumAsync(interceptor, "", code => code == 501));
        Assert.Equal(0, await RequestCounts.SumAsync(interceptor, "app", _ => true));
        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task Connect_Http2_Returns501AndForwardsNothing()
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port));
        await using var h2 = await RawH2Client.ConnectAsync(interceptor.ProxyPort);

        var response = await h2.SendAsync([(":method", "CONNECT"), (":authority", "app.example.com:443")]);

        Assert.Equal(501, response.Status);
        Assert.Empty(upstream.Requests);
        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task Connect_H2ExtendedConnectOtherThanWebSocket_Returns501()
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port));
        await using var h2 = await RawH2Client.ConnectAsync(interceptor.ProxyPort);
        Assert.True(h2.ServerAllowsExtendedConnect);

        var response = await h2.SendAsync(
            [(":method", "CONNECT"), (":protocol", "connect-udp"), (":scheme", "http"), (":authority", Host), (":path", "/.well-known/masque/udp/a/53/")]);

        Assert.Equal(501, response.Status);
        Assert.Empty(upstream.Requests);
        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task Connect_H2WebSocketToHttp11Upstream_Tunnelled()
    {
        await using var upstream = await TestUpstream.StartAppAsync(WebSocketEcho);
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("ws", upstream.Port, hosts: [Host]));
        using var handler = new SocketsHttpHandler { UseProxy = false };
        using var invoker = new HttpMessageInvoker(handler);
        using var socket = new ClientWebSocket();
        socket.Options.HttpVersion = HttpVersion.Version20;
        socket.Options.HttpVersionPolicy = HttpVersionPolicy.RequestVersionExact;
        socket.Options.SetRequestHeader("Host", Host);
        socket.Options.CollectHttpResponseDetails = true;
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{interceptor.ProxyPort}/echo"), invoker, cancel.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, endOfMessage: true, cancel.Token);
        var buffer = new byte[64];
        var received = await socket.ReceiveAsync(buffer, cancel.Token);
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cancel.Token);

        Assert.Equal(HttpStatusCode.OK, socket.HttpStatusCode);
        Assert.Equal("echo: hello (HTTP/1.1)", Encoding.UTF8.GetString(buffer, 0, received.Count));
        await RequestCounts.WaitForAsync(interceptor, "ws", 1);
        Assert.Equal(1, await RequestCounts.SumAsync(interceptor, "ws", code => code == 200));
        interceptor.Logs.AssertNoWarnings();
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, 502)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", false, 502)]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n", false, 502)]
    [InlineData("HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\nno", true, 404)]
    [InlineData("HTTP/1.1 426 Upgrade Required\r\nContent-Length: 0\r\n\r\n", false, 426)]
    public async Task Connect_H2WebSocketUpstreamDoesNotUpgrade_StatusAndMetricsAgreeWithoutAStackTrace(string reply, bool endStream, int expected)
    {
        await using var upstream = await RawTcpServer.StartAsync(Encoding.ASCII.GetBytes(reply));
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("ws", upstream.Port, hosts: [Host]));
        await using var h2 = await RawH2Client.ConnectAsync(interceptor.ProxyPort);

        // A 2xx without 101 means the upstream ignored the Upgrade: passing it on would tell the client its tunnel is open.
        var response = await h2.SendAsync(
            [(":method", "CONNECT"), (":protocol", "websocket"), (":scheme", "http"), (":authority", Host), (":path", "/chat"), ("sec-websocket-version", "13")],
            untilHeaders: !endStream);

        Assert.Equal(expected, response.Status);
        await RequestCounts.WaitForAsync(interceptor, "ws", 1);
        Assert.Equal(1, await RequestCounts.SumAsync(interceptor, "ws", code => code == expected));
        interceptor.Logs.AssertNoWarnings();
    }

    /// <summary>An upstream that echoes every WebSocket text message as <c>echo: … (protocol)</c>.</summary>
    private static void WebSocketEcho(WebApplication app)
    {
        app.UseWebSockets();
        app.Run(async context =>
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                context.Response.StatusCode = StatusCodes.Status400BadRequest;
                return;
            }

            var protocol = context.Request.Protocol;
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[1024];
            try
            {
                while (true)
                {
                    var received = await socket.ReceiveAsync(buffer, context.RequestAborted);
                    if (received.MessageType == WebSocketMessageType.Close)
                    {
                        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", context.RequestAborted);
                        return;
                    }

                    var reply = Encoding.UTF8.GetBytes($"echo: {Encoding.UTF8.GetString(buffer, 0, received.Count)} ({protocol})");
                    await socket.SendAsync(reply, WebSocketMessageType.Text, endOfMessage: true, context.RequestAborted);
                }
            }
            catch (Exception e) when (e is WebSocketException or OperationCanceledException)
            {
                // The client vanished.
            }
        });
    }
}
