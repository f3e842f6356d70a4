using System.Net;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>Upstreams that fail half way, and many stuck at once: nothing leaks and nothing starves.</summary>
public sealed class UpstreamFaultTests
{
    private const string Host = "app.example.com";

    [Fact]
    public async Task Forward_UpstreamResetsMidBody_ClientSeesTheCutAndCountReleased()
    {
        var cut = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            context.Response.ContentLength = 1000;
            await context.Response.WriteAsync("part of the body");
            await context.Response.Body.FlushAsync();
            await cut.Task;
            context.Abort();
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = Host } };
        using var response = await interceptor.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var first = new byte[16];
        await body.ReadExactlyAsync(first);
        cut.SetResult();

        // The status line went out as 200; the truncation must reach the client as an error, never as a short success.
        await Assert.ThrowsAnyAsync<IOException>(async () => await body.CopyToAsync(Stream.Null));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/app"].Concurrency == 0, "the cut request is released");
    }

    [Fact]
    public async Task Forward_UpstreamClosesAfterHeaders_ClientSeesTheCutAndCountReleased()
    {
        await using var upstream = await RawTcpServer.StartAsync("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"u8.ToArray());
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        // Depending on timing the cut reaches the client before or after the response head was relayed: either way
        // it must be an error, never a short success.
        var failure = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = Host } };
            using var response = await interceptor.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            await using var body = await response.Content.ReadAsStreamAsync();
            await body.CopyToAsync(Stream.Null);
        });

        Assert.True(failure is IOException or HttpRequestException, failure.ToString());
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/app"].Concurrency == 0, "the cut request is released");
    }

    [Fact]
    public async Task Forward_ThousandRequestsToAStuckUpstream_HealthyRouteStillServedAndAllReleased()
    {
        using var stuck = new SilentServer();
        await using var healthy = await TestUpstream.StartNamedAsync("healthy");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("stuck", stuck.Port, hosts: ["stuck.example.com"], extraSpec: "timeouts: {responseHeader: 60s}"),
            Routes.InterceptorRoute("healthy", healthy.Port, hosts: ["healthy.example.com"])));
        using var client = interceptor.NewClient();
        using var giveUp = new CancellationTokenSource();

        var held = Enumerable.Range(0, 1000)
            .Select(_ => client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = "stuck.example.com" } }, giveUp.Token))
            .ToArray();
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/stuck"].Concurrency == 1000, "1,000 requests wait on the stuck upstream");

        // The waits are asynchronous: the thread pool still serves everything else.
        for (var i = 0; i < 20; i++)
        {
            using var response = await interceptor.GetAsync("healthy.example.com", "/");
            Assert.Equal("healthy", await response.Content.ReadAsStringAsync());
        }

        await giveUp.CancelAsync();
        await Task.WhenAll(held.Select(task => task.ContinueWith(static _ => { }, TaskScheduler.Default)));
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/stuck"].Concurrency == 0, "every abandoned request is released");
        Assert.Equal(1000, (await interceptor.GetQueueAsync())["default/stuck"].RequestCount);
    }
}
