using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>
/// The request target reaches the upstream as the client sent it (percent-encoding untouched, so <c>%2F</c> and
/// <c>%252F</c> stay two different URLs), after routing on the decoded, dot-segment-free path. Recorded by a raw
/// upstream that sees the request line byte for byte.
/// </summary>
public sealed class RequestTargetTests
{
    private const string Host = "app.example.com";

    [Theory]
    [InlineData("/api/a%2Fb", "api", "/api/a%2Fb")]
    [InlineData("/api/a%252Fb", "api", "/api/a%252Fb")]
    [InlineData("/api/@scope%2fpkg", "api", "/api/@scope%2fpkg")]
    [InlineData("/api/a%2Fb?q=a%2Fb&r=%252F", "api", "/api/a%2Fb?q=a%2Fb&r=%252F")]
    [InlineData("/api/%41%62c", "api", "/api/%41%62c")]
    [InlineData("/api/caf%C3%A9", "api", "/api/caf%C3%A9")]
    [InlineData("/api/x%2Fy/../z%2Fw", "api", "/api/z%2Fw")]
    [InlineData("/api/%2e%2e/admin/a%2Fb", "admin", "/admin/a%2Fb")]
    [InlineData("/api/.%2E/admin/%2E/a%2Fb?x=%2F", "admin", "/admin/a%2Fb?x=%2F")]
    public async Task Forward_PercentEncodedTarget_RoutedByTheDecodedPathAndForwardedAsSent(string target, string expectedRoute, string expectedTarget)
    {
        await using var api = RecordingUpstream.Start();
        await using var admin = RecordingUpstream.Start();
        await using var interceptor = await StartAsync(api, admin);

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"GET {target} HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        Assert.Equal(200, response.Status);
        var (routed, other) = expectedRoute == "api" ? (api, admin) : (admin, api);
        Assert.Equal(expectedTarget, routed.Single().Target);
        Assert.Empty(other.Requests);
    }

    [Fact]
    public async Task Forward_EncodedAndDoubleEncodedSlash_UpstreamSeesTwoDifferentTargets()
    {
        await using var api = RecordingUpstream.Start();
        await using var admin = RecordingUpstream.Start();
        await using var interceptor = await StartAsync(api, admin);

        await RawHttp.SendAsync(interceptor.ProxyPort, $"GET /api/a%2Fb HTTP/1.1\r\nHost: {Host}\r\n\r\n");
        await RawHttp.SendAsync(interceptor.ProxyPort, $"GET /api/a%252Fb HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        Assert.Equal(["/api/a%252Fb", "/api/a%2Fb"], api.Requests.Select(r => r.Target).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Forward_AbsoluteFormTarget_UpstreamSeesTheOriginFormAsSent()
    {
        await using var api = RecordingUpstream.Start();
        await using var admin = RecordingUpstream.Start();
        await using var interceptor = await StartAsync(api, admin);

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"GET http://{Host}/api/a%2Fb?q=%2F HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        Assert.Equal(200, response.Status);
        var received = api.Single();
        Assert.Equal("/api/a%2Fb?q=%2F", received.Target);
        Assert.Equal([Host], received.Values("Host"));
    }

    [Fact]
    public async Task Forward_H2PathWithEncodedSlashes_UpstreamSeesEachPathAsSent()
    {
        await using var api = RecordingUpstream.Start();
        await using var admin = RecordingUpstream.Start();
        await using var interceptor = await StartAsync(api, admin);
        await using var h2 = await RawH2Client.ConnectAsync(interceptor.ProxyPort);

        var encoded = await h2.SendAsync([(":method", "GET"), (":scheme", "http"), (":authority", Host), (":path", "/api/a%2Fb")]);
        var doubled = await h2.SendAsync([(":method", "GET"), (":scheme", "http"), (":authority", Host), (":path", "/api/a%252Fb?q=%2F")]);

        Assert.Equal(200, encoded.Status);
        Assert.Equal(200, doubled.Status);
        Assert.Equal(["/api/a%252Fb?q=%2F", "/api/a%2Fb"], api.Requests.Select(r => r.Target).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Forward_AsteriskFormOptions_ForwardedToTheRootWithoutA5xx()
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"OPTIONS * HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        Assert.Equal(200, response.Status);
        var received = upstream.Single();
        Assert.Equal(("OPTIONS", "/"), (received.Method, received.Target));
        interceptor.Logs.AssertNoWarnings();
    }

    private static Task<TestInterceptor> StartAsync(RecordingUpstream api, RecordingUpstream admin) =>
        TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("api", api.Port, hosts: [Host], paths: ["/api"]),
            Routes.InterceptorRoute("admin", admin.Port, hosts: [Host], paths: ["/admin"])));
}
