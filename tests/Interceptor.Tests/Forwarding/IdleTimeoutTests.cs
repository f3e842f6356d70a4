using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Forwarding;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>
/// Issue 16, defect 7: a request on which nothing moves was held forever, and with it the route's concurrency (so the
/// workload never scaled down). <c>UPDRAFT_IDLE_TIMEOUT</c> ends it; traffic that keeps moving is never cut.
/// </summary>
public sealed class IdleTimeoutTests
{
    private const string Host = "app.example.com";
    private const string Key = "default/app";

    // The idle timeout is never shorter than the response-header timeout (300 s by default), so both are lowered.
    private static readonly Dictionary<string, string?> OneSecondIdle = new()
    {
        ["UPDRAFT_IDLE_TIMEOUT"] = "1s",
        ["KEDA_HTTP_RESPONSE_HEADER_TIMEOUT"] = "1s",
    };

    // For tests whose upstream must get its first bytes out in time, on a loaded machine too.
    private static readonly Dictionary<string, string?> ThreeSecondIdle = new()
    {
        ["UPDRAFT_IDLE_TIMEOUT"] = "3s",
        ["KEDA_HTTP_RESPONSE_HEADER_TIMEOUT"] = "3s",
    };

    [Fact]
    public async Task ClientNeverReadsALargeResponse_RequestEndsAndConcurrencyIsReleased()
    {
        // A raw socket upstream: its send fails for certain once the proxy resets the connection. (Kestrel may drop an
        // app's writes after a reset without throwing and complete the request before it notices the abort.)
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var upstreamWriting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstream = SendEndlessResponseAsync(listener, upstreamWriting);
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", ((IPEndPoint)listener.LocalEndpoint).Port, hosts: [Host]), ThreeSecondIdle);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, interceptor.ProxyPort);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"GET /big HTTP/1.1\r\nHost: {Host}\r\n\r\n"));
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 1, "the request is in flight");
        await upstreamWriting.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // The client never reads a byte.
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "the idle request is ended and released");
        var sent = await upstream.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.True(sent < EndlessBodyLength, $"the upstream sent all {sent} bytes: the proxy read a body nobody reads");
        interceptor.Logs.AssertNoWarnings();
    }

    private const long EndlessBodyLength = 1L << 30;

    /// <summary>Answers one request with a 1 GiB body, sent until the connection fails; returns the body bytes sent.</summary>
    private static async Task<long> SendEndlessResponseAsync(TcpListener listener, TaskCompletionSource writing)
    {
        using var connection = await listener.AcceptSocketAsync();
        var head = new byte[4096];
        var received = 0;
        while (head.AsSpan(0, received).IndexOf("\r\n\r\n"u8) < 0)
        {
            var read = await connection.ReceiveAsync(head.AsMemory(received), SocketFlags.None);
            Assert.True(read > 0, "the proxy closed the connection before sending a whole request head");
            received += read;
        }

        await connection.SendAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {EndlessBodyLength}\r\n\r\n"), SocketFlags.None);
        writing.TrySetResult();
        var piece = new byte[64 * 1024];
        long sent = 0;
        try
        {
            while (sent < EndlessBodyLength)
            {
                sent += await connection.SendAsync(piece, SocketFlags.None);
            }
        }
        catch (SocketException)
        {
        }

        return sent;
    }

    [Fact]
    public async Task UpstreamStallsMidBody_ClientSeesTheCutAndConcurrencyIsReleased()
    {
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            context.Response.ContentLength = 1000;
            await context.Response.WriteAsync("first part;");
            await context.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), OneSecondIdle);

        using var response = await interceptor.Client.SendAsync(Get("/stall"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync();

        // Without the idle timeout this read waits forever (the client's own timeout is 60 s).
        var cut = await Assert.ThrowsAnyAsync<Exception>(async () => await ReadToEndAsync(body));
        Assert.True(cut is IOException or HttpRequestException, cut.ToString());
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "the stalled request is released");
        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task StreamWithPausesShorterThanTheIdleTimeout_IsNeverCut()
    {
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            // Ten pieces, 400 ms apart: 4 s in all, past the 3 s idle timeout, never more than 400 ms without a byte.
            for (var i = 0; i < 10; i++)
            {
                await Task.Delay(400, context.RequestAborted);
                await context.Response.WriteAsync("piece;", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), ThreeSecondIdle);

        using var response = await interceptor.Client.SendAsync(Get("/stream"), HttpCompletionOption.ResponseHeadersRead);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(string.Concat(Enumerable.Repeat("piece;", 10)), text);
    }

    [Fact]
    public async Task FirstByteSlowerThanTheIdleTimeoutButWithinTheResponseHeaderTimeout_IsServed()
    {
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            await Task.Delay(TimeSpan.FromSeconds(2), context.RequestAborted);
            await context.Response.WriteAsync("slow but in time");
        });
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], extraSpec: "timeouts: {responseHeader: 30s}"),
            OneSecondIdle);

        using var response = await interceptor.Client.SendAsync(Get("/"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("slow but in time", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task UploadThatStalls_RequestEndsAndConcurrencyIsReleased()
    {
        var upstreamSawTheCut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            try
            {
                await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or BadHttpRequestException)
            {
                upstreamSawTheCut.TrySetResult();
            }
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), OneSecondIdle);

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, interceptor.ProxyPort);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"POST /upload HTTP/1.1\r\nHost: {Host}\r\nContent-Length: 100000\r\n\r\nonly the start"));
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 1, "the upload is in flight");

        // The client never sends the rest.
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "the stalled upload is ended and released");
        await upstreamSawTheCut.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var answer = new byte[256];
        var read = await client.GetStream().ReadAsync(answer).AsTask().WaitAsync(TimeSpan.FromSeconds(20));
        Assert.StartsWith("HTTP/1.1 408 ", Encoding.ASCII.GetString(answer, 0, read), StringComparison.Ordinal);
        interceptor.Logs.AssertNoWarnings();
    }

    [Theory]
    [InlineData(300, 300, 300)] // the defaults
    [InlineData(60, 300, 300)] // the wait for the first byte has its own limit
    [InlineData(600, 300, 600)]
    [InlineData(60, 0, 60)] // no response-header timeout: the idle timeout still bounds a silent upstream
    public void IdleTimeout_IsNeverShorterThanTheResponseHeaderTimeout(int idleSeconds, int responseHeaderSeconds, int expectedSeconds)
    {
        Assert.Equal(
            TimeSpan.FromSeconds(expectedSeconds),
            UpstreamTargetFactory.IdleTimeout(TimeSpan.FromSeconds(idleSeconds), TimeSpan.FromSeconds(responseHeaderSeconds)));
    }

    [Fact]
    public void IdleTimeout_ZeroTurnsItOff()
    {
        Assert.True(UpstreamTargetFactory.IdleTimeout(TimeSpan.Zero, TimeSpan.FromSeconds(300)) > TimeSpan.FromDays(20));
    }

    private static HttpRequestMessage Get(string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Host = Host;
        return request;
    }

    private static async Task ReadToEndAsync(Stream body)
    {
        var buffer = new byte[4096];
        while (await body.ReadAsync(buffer) > 0)
        {
        }
    }
}
