using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Admin;

/// <summary>The status page's endpoints on a running interceptor, over real sockets (the browser tests drive the page itself).</summary>
public sealed class StatusPageTests
{
    private const string Host = "app.example.com";

    [Theory]
    [InlineData("/", "text/html; charset=utf-8")]
    [InlineData("/status", "text/html; charset=utf-8")]
    [InlineData("/status.json", "application/json; charset=utf-8")]
    public async Task Status_EveryEndpoint_SafeHeaders(string path, string contentType)
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        using var admin = Admin(interceptor);

        using var response = await admin.GetAsync(path);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(contentType, response.Content.Headers.ContentType!.ToString());
        Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("no-store", response.Headers.CacheControl!.ToString());
        var policy = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.StartsWith("default-src 'none';", policy, StringComparison.Ordinal);
        Assert.DoesNotContain("http", policy, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("unsafe", policy, StringComparison.Ordinal);
        Assert.Contains("default/app", body, StringComparison.Ordinal);
        if (contentType.StartsWith("text/html", StringComparison.Ordinal))
        {
            Assert.Contains("<meta name=\"viewport\"", body, StringComparison.Ordinal);
            // Nothing external: no element loads anything from elsewhere.
            Assert.DoesNotContain(" src=", body, StringComparison.Ordinal);
            Assert.DoesNotContain("http://", body, StringComparison.Ordinal);
            Assert.DoesNotContain("https://", body, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Status_Post_NotAllowed()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        using var admin = Admin(interceptor);

        using var response = await admin.PostAsync("/status.json", new StringContent("x"));

        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }

    [Fact]
    public async Task StatusJson_ColdRouteWithFullQueue_HeldRejectedThenColdStartRecorded()
    {
        var port = TestUpstream.FreePort();
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: "coldStart: {maxPendingRequests: 1, overflow: Reject}"));
        var held = interceptor.GetAsync(Host, "/first");
        await TestInterceptor.WaitUntilAsync(async () => (int)(await RouteAsync(interceptor))["held"]! == 1, "the first request is held");

        using (var rejected = await interceptor.GetAsync(Host, "/second"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, rejected.StatusCode);
        }

        var whileCold = await RouteAsync(interceptor);
        Assert.Equal(1, (long)whileCold["overflowRejections"]!);
        Assert.Equal("not-ready", (string?)whileCold["readiness"]);
        Assert.Null(whileCold["lastColdStart"]);

        await using var upstream = await TestUpstream.StartOnPortAsync(port, context => context.Response.WriteAsync("late"));
        using (var response = await held)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await TestInterceptor.WaitUntilAsync(async () => (await RouteAsync(interceptor))["lastColdStart"] is not null, "the cold start is recorded");
        var afterwards = await RouteAsync(interceptor);
        Assert.Equal(0, (int)afterwards["held"]!);
        Assert.Equal("ready", (string?)afterwards["readiness"]);
        Assert.Equal(1, (int)afterwards["lastColdStart"]!["released"]!);
        Assert.True((double)afterwards["lastColdStart"]!["seconds"]! > 0);
        Assert.Equal(1, (long)afterwards["overflowRejections"]!);
    }

    [Fact]
    public async Task StatusJson_RoutesFileReloads_VersionCountsThemAndABadOneMakesTheSourceUnhealthy()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        var before = (await StatusAsync(interceptor))["interceptor"]!;
        Assert.Equal(1, (long)before["routeTable"]!["version"]!);
        Assert.True((bool)before["source"]!["healthy"]!);

        await File.WriteAllTextAsync(interceptor.RoutesFile, Routes.Documents(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            Routes.InterceptorRoute("more", upstream.Port, hosts: ["more.example.com"])));
        await TestInterceptor.WaitUntilAsync(async () => (long)(await StatusAsync(interceptor))["interceptor"]!["routeTable"]!["version"]! == 2, "the reload is published");
        await File.WriteAllTextAsync(interceptor.RoutesFile, "kind: [unclosed");
        await TestInterceptor.WaitUntilAsync(async () => !(bool)(await StatusAsync(interceptor))["interceptor"]!["source"]!["healthy"]!, "the bad version is reported");

        var after = await StatusAsync(interceptor);
        Assert.Equal(2, (long)after["interceptor"]!["routeTable"]!["version"]!);
        Assert.Equal(2, (int)after["routes"]!["matched"]!);
        Assert.Contains(after["interceptor"]!["source"]!["details"]!.AsArray(), line => ((string?)line)!.StartsWith("last reload failed", StringComparison.Ordinal));
    }

    private static HttpClient Admin(TestInterceptor interceptor) => new() { BaseAddress = new Uri($"http://127.0.0.1:{interceptor.AdminPort}") };

    private static async Task<JsonNode> StatusAsync(TestInterceptor interceptor)
    {
        using var admin = Admin(interceptor);
        return (await admin.GetFromJsonAsync<JsonNode>("/status.json"))!;
    }

    private static async Task<JsonNode> RouteAsync(TestInterceptor interceptor) =>
        (await StatusAsync(interceptor))["routes"]!["items"]!.AsArray().Single(r => (string?)r!["key"] == "default/app")!;
}
