using System.Net;
using System.Net.WebSockets;
using System.Text;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>h2c on the plain proxy port, gRPC with trailers, and WebSockets, through real sockets.</summary>
public sealed class ProtocolTests
{
    [Fact]
    public async Task Forward_H2cPriorKnowledgeClient_IsServedOverHttp2OnThePlainPort()
    {
        await using var upstream = await TestUpstream.StartAsync(context =>
            context.Response.WriteAsync($"{context.Request.Protocol}|{context.Request.Headers["X-Forwarded-Proto"]}"));
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: ["app.example.com"]));
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false })
        {
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{interceptor.ProxyPort}/")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Headers.Host = "app.example.com";
        using var response = await client.SendAsync(request);
        using var http1 = await interceptor.GetAsync("app.example.com", "/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        // The upstream hop is HTTP/1.1 (the route's default), and the client's scheme is reported from the transport.
        Assert.Equal("HTTP/1.1|http", await response.Content.ReadAsStringAsync());
        Assert.Equal(HttpVersion.Version11, http1.Version);
    }

    [Fact]
    public async Task Forward_GrpcToH2cUpstream_UnaryStreamingAndTrailersPassThrough()
    {
        var health = new HealthServiceImpl();
        health.SetStatus("ready", HealthCheckResponse.Types.ServingStatus.Serving);
        await using var upstream = await TestUpstream.StartAppAsync(
            app => app.MapGrpcService<HealthServiceImpl>(),
            listen => listen.Protocols = HttpProtocols.Http2,
            services => services.AddGrpc().Services.AddSingleton(health));
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("grpc", upstream.Port, appProtocol: "h2c"));
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{interceptor.ProxyPort}");
        var client = new Health.HealthClient(channel);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var unary = await client.CheckAsync(new HealthCheckRequest { Service = "ready" }, cancellationToken: cancel.Token);
        // An error status travels in the trailers: it must arrive intact.
        var missing = await Assert.ThrowsAsync<RpcException>(async () => await client.CheckAsync(new HealthCheckRequest { Service = "missing" }, cancellationToken: cancel.Token));
        using var watch = client.Watch(new HealthCheckRequest { Service = "ready" }, cancellationToken: cancel.Token);
        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token));
        var first = watch.ResponseStream.Current.Status;
        health.SetStatus("ready", HealthCheckResponse.Types.ServingStatus.NotServing);
        Assert.True(await watch.ResponseStream.MoveNext(cancel.Token));
        var second = watch.ResponseStream.Current.Status;
        var queueWhileStreaming = (await interceptor.GetQueueAsync())["default/grpc"].Concurrency;

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, unary.Status);
        Assert.Equal(StatusCode.NotFound, missing.StatusCode);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, first);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, second);
        Assert.Equal(1, queueWhileStreaming);
    }

    [Fact]
    public async Task Forward_WebSocket_EchoesAndCountsWhileOpen()
    {
        await using var upstream = await TestUpstream.StartAppAsync(WebSocketEcho);
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("ws", upstream.Port));
        using var socket = new ClientWebSocket();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{interceptor.ProxyPort}/echo"), cancel.Token);
        await socket.SendAsync(Encoding.UTF8.GetBytes("hello"), WebSocketMessageType.Text, endOfMessage: true, cancel.Token);
        var buffer = new byte[64];
        var received = await socket.ReceiveAsync(buffer, cancel.Token);
        var whileOpen = (await interceptor.GetQueueAsync())["default/ws"].Concurrency;
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cancel.Token);

        Assert.Equal("echo: hello", Encoding.UTF8.GetString(buffer, 0, received.Count));
        Assert.Equal(1, whileOpen);
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/ws"].Concurrency == 0, "the closed WebSocket is no longer counted");
    }

    [Fact]
    public async Task Forward_WebSocketClientVanishes_CountReleased()
    {
        await using var upstream = await TestUpstream.StartAppAsync(WebSocketEcho);
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("ws", upstream.Port));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var socket = new ClientWebSocket();
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{interceptor.ProxyPort}/echo"), cancel.Token);
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/ws"].Concurrency == 1, "the WebSocket is counted");

        socket.Abort();
        socket.Dispose();

        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/ws"].Concurrency == 0, "the vanished client is released");
    }

    /// <summary>An upstream that echoes every WebSocket text message as <c>echo: …</c>.</summary>
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

                    var reply = Encoding.UTF8.GetBytes("echo: " + Encoding.UTF8.GetString(buffer, 0, received.Count));
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
