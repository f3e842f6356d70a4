using System.Net;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.ColdStart;

/// <summary><c>coldStart.placeholder</c> and <c>coldStart.fallback</c> (§1.5, §1.7, §4.3 of the add-on reference).</summary>
public sealed class PlaceholderAndFallbackTests
{
    private const string Host = "app.example.com";
    private const string Key = "default/app";
    private const string ColdStartHeader = "X-KEDA-HTTP-Cold-Start";

    [Theory]
    [InlineData(null, 503)]
    [InlineData(202, 202)]
    public async Task Placeholder_TargetNotReady_AnswersAtOnceAndCountsTheRequest(int? statusCode, int expectedStatus)
    {
        var port = TestUpstream.FreePort();
        var status = statusCode is null ? "" : $"statusCode: {statusCode}, ";
        var coldStart = $"coldStart:\n  placeholder:\n    response: {{{status}body: \"<h1>Loading</h1>\", headers: {{Refresh: \"5\"}}}}";
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: coldStart));

        for (var i = 1; i <= 3; i++)
        {
            using var response = await interceptor.GetAsync(Host, "/");

            Assert.Equal(expectedStatus, (int)response.StatusCode);
            Assert.Equal("<h1>Loading</h1>", await response.Content.ReadAsStringAsync());
            Assert.Equal("5", response.Headers.GetValues("Refresh").Single());
            Assert.Equal("text/html; charset=utf-8", response.Content.Headers.ContentType!.ToString());
            Assert.False(response.Headers.Contains(ColdStartHeader));
            await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key] == new QueueEntry(0, i), $"request {i} is counted and released");
        }

        Assert.Equal(0, HoldQueueTests.Readiness(interceptor, port).Waiters);
    }

    [Fact]
    public async Task Placeholder_UpstreamComesUp_LaterRequestsAreForwarded()
    {
        var port = TestUpstream.FreePort();
        var coldStart = "coldStart:\n  placeholder:\n    response: {body: loading}";
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: coldStart));
        using (var cold = await interceptor.GetAsync(Host, "/"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, cold.StatusCode);
            Assert.Equal("text/plain; charset=utf-8", cold.Content.Headers.ContentType!.ToString());
        }

        await using var upstream = await TestUpstream.StartOnPortAsync(port, context => context.Response.WriteAsync("real"));

        // A placeholder answer does not wait, but it asks for a probe, so a target that came up is found.
        await TestInterceptor.WaitUntilAsync(
            async () =>
            {
                using var response = await interceptor.GetAsync(Host, "/");
                return response.StatusCode == HttpStatusCode.OK && await response.Content.ReadAsStringAsync() == "real";
            },
            "the upstream answers instead of the placeholder");
    }

    [Fact]
    public async Task Placeholder_BodyFromConfigMapInStandaloneMode_Returns500()
    {
        var port = TestUpstream.FreePort();
        var coldStart = "coldStart:\n  placeholder:\n    response: {bodyFromConfigMap: {name: pages, key: loading.html}}";
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: coldStart));

        using var response = await interceptor.GetAsync(Host, "/");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("Internal Server Error\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Fallback_ReadinessTimeoutPasses_ProxiesToFallbackWithoutColdStartHeader()
    {
        await using var fallback = await TestUpstream.StartNamedAsync("fallback");
        var port = TestUpstream.FreePort();
        var spec = $"timeouts: {{readiness: 200ms}}\ncoldStart:\n  fallback: {{service: {{name: 127.0.0.1, port: {fallback.Port}}}}}";
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: spec));

        using var response = await interceptor.GetAsync(Host, "/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("fallback", await response.Content.ReadAsStringAsync());
        Assert.False(response.Headers.Contains(ColdStartHeader));
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key] == new QueueEntry(0, 1), "the request is counted and released");
    }

    [Fact]
    public async Task Fallback_RequestDeadlinePassesBeforeReadinessTimeout_Returns504()
    {
        var fallbackHits = 0;
        await using var fallback = await TestUpstream.StartAsync(context =>
        {
            Interlocked.Increment(ref fallbackHits);
            return context.Response.WriteAsync("fallback");
        });
        var port = TestUpstream.FreePort();
        var spec = $"timeouts: {{request: 300ms, readiness: 1h}}\ncoldStart:\n  fallback: {{service: {{name: 127.0.0.1, port: {fallback.Port}}}}}";
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: spec));

        using var response = await interceptor.GetAsync(Host, "/");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal(0, fallbackHits);
    }

    [Fact]
    public async Task Fallback_TargetComesUpBeforeReadinessTimeout_UsesTarget()
    {
        await using var fallback = await TestUpstream.StartNamedAsync("fallback");
        var port = TestUpstream.FreePort();
        var spec = $"timeouts: {{readiness: 1h}}\ncoldStart:\n  fallback: {{service: {{name: 127.0.0.1, port: {fallback.Port}}}}}";
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: spec));
        var pending = interceptor.GetAsync(Host, "/");

        await HoldQueueTests.WaitForWaitersAsync(interceptor, port, 1);
        await using var target = await TestUpstream.StartOnPortAsync(port, context => context.Response.WriteAsync("target"));
        using var response = await pending;

        Assert.Equal("target", await response.Content.ReadAsStringAsync());
        Assert.Equal("true", response.Headers.GetValues(ColdStartHeader).Single());
    }

    [Fact]
    public async Task Placeholder_WithFallback_PlaceholderWins()
    {
        var fallbackHits = 0;
        await using var fallback = await TestUpstream.StartAsync(context =>
        {
            Interlocked.Increment(ref fallbackHits);
            return context.Response.WriteAsync("fallback");
        });
        var port = TestUpstream.FreePort();
        var spec = $"coldStart:\n  fallback: {{service: {{name: 127.0.0.1, port: {fallback.Port}}}}}\n  placeholder:\n    response: {{statusCode: 418, body: teapot}}";
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: spec));

        using var response = await interceptor.GetAsync(Host, "/");

        Assert.Equal(418, (int)response.StatusCode);
        Assert.Equal("teapot", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, fallbackHits);
    }
}
