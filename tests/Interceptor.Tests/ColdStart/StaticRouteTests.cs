using System.Net;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.ColdStart;

/// <summary><c>spec.staticRoutes[]</c> (§1.7 and the last bullet of §4.2 of the add-on reference).</summary>
public sealed class StaticRouteTests
{
    private const string Host = "app.example.com";
    private const string Key = "default/app";

    private const string Matchers = """
        staticRoutes:
          - rules: [{paths: [{value: /healthz}]}]
            responseMode: Always
            response: {body: healthz}
          - rules: [{hosts: ["*.example.com"], paths: [{value: /wild}]}]
            responseMode: Always
            response: {body: wild}
          - rules: [{paths: [{value: /tenant}], headers: [{name: X-Tenant, value: blue}]}]
            responseMode: Always
            response: {body: tenant-blue}
          - rules: [{paths: [{value: /first}]}, {paths: [{value: /either}]}]
            responseMode: Always
            response: {body: first}
          - rules: [{paths: [{value: /first}]}]
            responseMode: Always
            response: {body: second}
        """;

    [Theory]
    // Paths match at segment boundaries; hosts as wildcards (not the bare domain); headers AND; rules OR; first match wins.
    [InlineData("app.example.com", "/healthz", null, "healthz")]
    [InlineData("app.example.com", "/healthz/deep", null, "healthz")]
    [InlineData("app.example.com", "/healthzx", null, "upstream")]
    [InlineData("a.b.example.com", "/wild", null, "wild")]
    [InlineData("example.com", "/wild", null, "upstream")]
    [InlineData("app.example.com", "/tenant", "blue", "tenant-blue")]
    [InlineData("app.example.com", "/tenant", "red", "upstream")]
    [InlineData("app.example.com", "/tenant", null, "upstream")]
    [InlineData("app.example.com", "/first", null, "first")]
    [InlineData("app.example.com", "/either", null, "first")]
    [InlineData("app.example.com", "/other", null, "upstream")]
    public async Task StaticRoute_Rules_MatchLikeTheAddOn(string host, string path, string? tenant, string expectedBody)
    {
        await using var upstream = await TestUpstream.StartNamedAsync("upstream");
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host, "*.example.com", "example.com"], extraSpec: Matchers));

        using var response = tenant is null ? await interceptor.GetAsync(host, path) : await interceptor.GetAsync(host, path, ("X-Tenant", tenant));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(expectedBody, await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task StaticRoute_Always_AnswersWithoutUpstreamAndIsNotCounted()
    {
        var hits = 0;
        await using var upstream = await TestUpstream.StartAsync(context =>
        {
            Interlocked.Increment(ref hits);
            return context.Response.WriteAsync("upstream");
        });
        var spec = """
            staticRoutes:
              - rules: [{paths: [{value: /robots.txt}]}]
                responseMode: Always
                response: {statusCode: 203, body: "User-agent: *", headers: {Cache-Control: max-age=60, Content-Type: text/x-robots}}
            """;
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], extraSpec: spec));

        using var response = await interceptor.GetAsync(Host, "/robots.txt");

        Assert.Equal(203, (int)response.StatusCode);
        Assert.Equal("User-agent: *", await response.Content.ReadAsStringAsync());
        Assert.Equal("max-age=60", response.Headers.CacheControl!.ToString());
        Assert.Equal("text/x-robots", response.Content.Headers.ContentType!.ToString());
        Assert.Equal(0, hits);
        Assert.Equal(new QueueEntry(0, 0), (await interceptor.GetQueueAsync())[Key]);

        using var other = await interceptor.GetAsync(Host, "/page");
        Assert.Equal("upstream", await other.Content.ReadAsStringAsync());
        Assert.Equal(new QueueEntry(0, 1), (await interceptor.GetQueueAsync())[Key]);
    }

    [Fact]
    public async Task StaticRoute_WhenUnavailable_ForwardsWhileReadyAndAnswersWhileNot()
    {
        var port = TestUpstream.FreePort();
        var spec = """
            staticRoutes:
              - rules: [{paths: [{value: /status}]}]
                response: {body: sleeping}
            """;
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: spec));

        // Nothing listens: the forward attempt is refused and the static response answers instead of waiting.
        using (var cold = await interceptor.GetAsync(Host, "/status"))
        {
            Assert.Equal(HttpStatusCode.OK, cold.StatusCode);
            Assert.Equal("sleeping", await cold.Content.ReadAsStringAsync());
        }

        using (var again = await interceptor.GetAsync(Host, "/status"))
        {
            Assert.Equal("sleeping", await again.Content.ReadAsStringAsync());
        }

        await using var upstream = await TestUpstream.StartOnPortAsync(port, context => context.Response.WriteAsync("awake"));
        await TestInterceptor.WaitUntilAsync(
            async () =>
            {
                using var response = await interceptor.GetAsync(Host, "/status");
                return await response.Content.ReadAsStringAsync() == "awake";
            },
            "the static route forwards once the target is ready");

        Assert.Equal(new QueueEntry(0, 0), (await interceptor.GetQueueAsync())[Key]);
        Assert.Equal(0, HoldQueueTests.Readiness(interceptor, port).Waiters);
    }

    [Fact]
    public async Task StaticRoute_BodyFromConfigMapInStandaloneMode_Returns500()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("upstream");
        var spec = """
            staticRoutes:
              - rules: [{paths: [{value: /page}]}]
                responseMode: Always
                response: {bodyFromConfigMap: {name: pages}}
            """;
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], extraSpec: spec));

        using var response = await interceptor.GetAsync(Host, "/page");

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("Internal Server Error\n", await response.Content.ReadAsStringAsync());
    }
}
