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

    [Fact]
    public async Task ClientNeverReadsALargeResponse_RequestEndsAndConcurrencyIsReleased()
    {
        var upstreamAborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamWriting = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            var piece = new byte[64 * 1024];
            // Kestrel may also just drop the writes after the abort, without throwing: the token is what tells.
            using var aborted = context.RequestAborted.Register(() => upstreamAborted.TrySetResult());
            upstreamWriting.TrySetResult();
            try
            {
                // Far more than the socket buffers on both hops hold: the writes stall once the client stops reading.
                for (var i = 0; i < 16 * 1024; i++)
                {
                    await context.Response.Body.WriteAsync(piece, context.RequestAborted);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
                upstreamAborted.TrySetResult();
            }
        });
        // Longer than one second here: on a loaded machine the upstream's first response may take that long, and a
        // request ended by the response-header timeout before the upstream ran would leave nothing to abort.
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            new Dictionary<string, string?> { ["UPDRAFT_IDLE_TIMEOUT"] = "3s", ["KEDA_HTTP_RESPONSE_HEADER_TIMEOUT"] = "3s" });

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, interceptor.ProxyPort);
        await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"GET /big HTTP/1.1\r\nHost: {Host}\r\n\r\n"));
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 1, "the request is in flight");
        await upstreamWriting.Task.WaitAsync(TimeSpan.FromSeconds(20));

        // The client never reads a byte.
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "the idle request is ended and released");
        await upstreamAborted.Task.WaitAsync(TimeSpan.FromSeconds(20));
        interceptor.Logs.AssertNoWarnings();
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
            // Eight pieces, 300 ms apart: 2.4 s in all, well past the 1 s idle timeout, never 1 s without a byte.
            for (var i = 0; i < 8; i++)
            {
                await Task.Delay(300, context.RequestAborted);
                await context.Response.WriteAsync("piece;", context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), OneSecondIdle);

        using var response = await interceptor.Client.SendAsync(Get("/stream"), HttpCompletionOption.ResponseHeadersRead);
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(string.Concat(Enumerable.Repeat("piece;", 8)), text);
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
