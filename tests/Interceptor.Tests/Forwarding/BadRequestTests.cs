using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>
/// Odd and malformed requests over raw sockets: a clear 4xx (never a 500), hop-by-hop headers kept from the
/// upstream, and an interceptor that keeps serving afterwards.
/// </summary>
public sealed class BadRequestTests
{
    private const string Host = "app.example.com";

    [Fact]
    public async Task BadRequest_Http11WithoutHost_Returns400AndKeepsServing()
    {
        await using var upstream = await EchoUpstreamAsync("app");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await SendRawAsync(interceptor, "GET / HTTP/1.1\r\n\r\n");

        Assert.Equal(400, response.Status);
        await AssertStillServingAsync(interceptor);
    }

    [Theory]
    [InlineData("Host: exa mple.com\r\n")]
    [InlineData("Host: [::1\r\n")]
    [InlineData("Host: a..b\r\n")]
    [InlineData("Host: app.example.com:port\r\n")]
    [InlineData("Host: app.example.com/evil\r\n")]
    [InlineData("Host: \r\n")]
    [InlineData("Host: app.example.com\r\nHost: other.example.com\r\n")]
    public async Task BadRequest_MalformedHost_Returns400Or404AndKeepsServing(string hostLines)
    {
        var hits = 0;
        await using var upstream = await TestUpstream.StartAsync(context =>
        {
            Interlocked.Increment(ref hits);
            return context.Response.WriteAsync("app");
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await SendRawAsync(interceptor, "GET / HTTP/1.1\r\n" + hostLines + "\r\n");

        Assert.Contains(response.Status, new[] { 400, 404 });
        Assert.Equal(0, Volatile.Read(ref hits));
        await AssertStillServingAsync(interceptor);
    }

    [Theory]
    [InlineData(10 * 1024)]
    [InlineData(60 * 1024)]
    public async Task Forward_LongUrlWithinLimit_UpstreamSeesFullTarget(int length)
    {
        await using var upstream = await EchoUpstreamAsync("app");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], paths: ["/long"]));
        var query = "?q=" + new string('q', 1024);
        var target = "/long/" + string.Concat(Enumerable.Range(0, length).Select(i => (char)('a' + (i % 26))))[..(length - 6 - query.Length)] + query;
        Assert.Equal(length, target.Length);

        using var response = await interceptor.GetAsync(Host, target);
        var echo = Echo.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(target, echo.Target);
        await AssertStillServingAsync(interceptor, "/long/still-serving");
    }

    [Fact]
    public async Task BadRequest_RequestLineOver64KiB_Returns414AndKeepsServing()
    {
        var hits = 0;
        await using var upstream = await TestUpstream.StartAsync(context =>
        {
            Interlocked.Increment(ref hits);
            return context.Response.WriteAsync("app");
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await SendRawAsync(interceptor, $"GET /{new string('a', 65 * 1024)} HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        Assert.Equal(414, response.Status);
        Assert.Equal(0, Volatile.Read(ref hits));
        await AssertStillServingAsync(interceptor);
    }

    [Fact]
    public async Task BadRequest_HeadersOver64KiB_Returns431AndKeepsServing()
    {
        var hits = 0;
        await using var upstream = await TestUpstream.StartAsync(context =>
        {
            Interlocked.Increment(ref hits);
            return context.Response.WriteAsync("app");
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await SendRawAsync(interceptor, $"GET / HTTP/1.1\r\nHost: {Host}\r\nX-Big: {new string('a', 65 * 1024)}\r\n\r\n");

        Assert.Equal(431, response.Status);
        Assert.Equal(0, Volatile.Read(ref hits));
        await AssertStillServingAsync(interceptor);
    }

    [Theory]
    [InlineData("/a/../b", "b", "/b")]
    [InlineData("/a/../b/x?y=1", "b", "/b/x?y=1")]
    [InlineData("/b/./x/../../a/z", "a", "/a/z")]
    [InlineData("/a/./x", "a", "/a/x")]
    public async Task Forward_DotSegments_RoutedAndForwardedByTheNormalisedPath(string rawTarget, string expectedRoute, string expectedTarget)
    {
        await using var a = await EchoUpstreamAsync("a");
        await using var b = await EchoUpstreamAsync("b");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("a", a.Port, hosts: [Host], paths: ["/a"]),
            Routes.InterceptorRoute("b", b.Port, hosts: [Host], paths: ["/b"])));

        var response = await SendRawAsync(interceptor, $"GET {rawTarget} HTTP/1.1\r\nHost: {Host}\r\n\r\n");
        var echo = Echo.Parse(response.Body);

        Assert.Equal(200, response.Status);
        Assert.Equal(expectedRoute, echo.Upstream);
        Assert.Equal(expectedTarget, echo.Target);
        await AssertStillServingAsync(interceptor);
    }

    [Theory]
    [InlineData("")]
    [InlineData("X-Tenant: red\r\n")]
    [InlineData("X-Tenant: Blue\r\n")]
    [InlineData("X-Tenant: blue-ish\r\n")]
    [InlineData("X-Tenants: blue\r\n")]
    public async Task Forward_HeadersMatchNoRoute_Returns404PlainText(string headerLines)
    {
        await using var upstream = await EchoUpstreamAsync("blue");
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("blue", upstream.Port, hosts: [Host], headers: [("X-Tenant", "blue")]));

        var response = await SendRawAsync(interceptor, $"GET / HTTP/1.1\r\nHost: {Host}\r\n{headerLines}\r\n");

        Assert.Equal(404, response.Status);
        Assert.Equal("text/plain; charset=utf-8", response.Headers["Content-Type"]);
        Assert.Equal("Not Found\n", response.Body);
        // The same request with the matching header is served (names ignore case).
        using var matched = await interceptor.GetAsync(Host, "/", ("x-tenant", "blue"));
        Assert.Equal(HttpStatusCode.OK, matched.StatusCode);
    }

    [Fact]
    public async Task Forward_HopByHopRequestHeaders_NotForwarded()
    {
        await using var upstream = await EchoUpstreamAsync("app");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await SendRawAsync(interceptor,
            $"GET /hop HTTP/1.1\r\nHost: {Host}\r\n"
            + "Connection: X-Secret, X-Third-Secret\r\n"
            + "Connection: X-Other-Secret\r\n"
            + "X-Third-Secret: 3\r\n"
            + "X-Secret: 1\r\n"
            + "X-Other-Secret: 2\r\n"
            + "Keep-Alive: timeout=5\r\n"
            + "Proxy-Connection: keep-alive\r\n"
            + "TE: gzip\r\n"
            + "Upgrade: foo/1\r\n"
            + "X-End-To-End: kept\r\n"
            + "\r\n");
        var echo = Echo.Parse(response.Body);

        Assert.Equal(200, response.Status);
        Assert.Equal("/hop", echo.Target);
        Assert.Equal("kept", echo.Headers["X-End-To-End"]);
        foreach (var name in new[] { "Connection", "X-Secret", "X-Other-Secret", "X-Third-Secret", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade" })
        {
            Assert.False(echo.Headers.ContainsKey(name), $"{name} reached the upstream");
        }

        await AssertStillServingAsync(interceptor);
    }

    [Fact]
    public async Task Forward_HopByHopResponseHeaders_NotPassedToClient()
    {
        await using var upstream = await RawTcpServer.StartAsync(Encoding.ASCII.GetBytes(
            "HTTP/1.1 200 OK\r\nConnection: X-Internal\r\nX-Internal: secret\r\nKeep-Alive: timeout=5\r\nX-Public: yes\r\nContent-Length: 2\r\n\r\nok"));
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await SendRawAsync(interceptor, $"GET / HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal("ok", response.Body);
        Assert.Equal("yes", response.Headers["X-Public"]);
        Assert.False(response.Headers.ContainsKey("X-Internal"));
        Assert.False(response.Headers.ContainsKey("Keep-Alive"));
    }

    [Theory]
    [InlineData(new[] { "203.0.113.7" }, "203.0.113.7, 127.0.0.1")]
    [InlineData(new[] { "198.51.100.1, 203.0.113.7" }, "198.51.100.1, 203.0.113.7, 127.0.0.1")]
    [InlineData(new[] { "198.51.100.1", "203.0.113.7" }, "198.51.100.1, 203.0.113.7, 127.0.0.1")]
    public async Task Forward_IncomingXForwardedFor_ClientAddressAppended(string[] incoming, string expected)
    {
        await using var upstream = await EchoUpstreamAsync("app");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await SendRawAsync(interceptor,
            $"GET / HTTP/1.1\r\nHost: {Host}\r\n" + string.Concat(incoming.Select(v => $"X-Forwarded-For: {v}\r\n")) + "\r\n");
        var echo = Echo.Parse(response.Body);

        Assert.Equal(200, response.Status);
        Assert.Equal(expected, echo.Headers["X-Forwarded-For"]);
    }

    [Fact]
    public async Task Forward_IncomingXForwardedHostAndProto_Kept()
    {
        await using var upstream = await EchoUpstreamAsync("app");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        using var response = await interceptor.GetAsync(Host, "/", ("X-Forwarded-Host", "public.example.org"), ("X-Forwarded-Proto", "https"));
        var echo = Echo.Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("public.example.org", echo.Headers["X-Forwarded-Host"]);
        Assert.Equal("https", echo.Headers["X-Forwarded-Proto"]);
        Assert.Equal(Host, echo.Headers["Host"]);
    }

    /// <summary>An upstream that answers with its name, the request target as received on the wire, and every header.</summary>
    private static Task<TestUpstream> EchoUpstreamAsync(string name) =>
        TestUpstream.StartAsync(context =>
        {
            var body = new StringBuilder();
            body.Append(name).Append(' ').Append(context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget).Append('\n');
            foreach (var (key, values) in context.Request.Headers)
            {
                body.Append(key).Append(": ").Append(string.Join("|", values.ToArray())).Append('\n');
            }

            var bytes = Encoding.UTF8.GetBytes(body.ToString());
            context.Response.ContentLength = bytes.Length;
            return context.Response.Body.WriteAsync(bytes, 0, bytes.Length);
        });

    private static async Task AssertStillServingAsync(TestInterceptor interceptor, string path = "/a/still-serving")
    {
        using var response = await interceptor.GetAsync(Host, path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Writes <paramref name="request"/> on a new connection and reads one response, which must not be a 500.</summary>
    private static async Task<RawResponse> SendRawAsync(TestInterceptor interceptor, string request)
    {
        var response = await RawHttp.SendAsync(interceptor.ProxyPort, request);
        Assert.NotEqual(500, response.Status);
        return response;
    }

    /// <summary>What <see cref="EchoUpstreamAsync"/> answered.</summary>
    private sealed record Echo(string Upstream, string Target, Dictionary<string, string> Headers)
    {
        public static Echo Parse(string body)
        {
            var lines = body.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var first = lines[0].Split(' ', 2);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var line in lines.Skip(1))
            {
                var colon = line.IndexOf(": ", StringComparison.Ordinal);
                headers[line[..colon]] = line[(colon + 2)..];
            }

            return new Echo(first[0], first[1], headers);
        }
    }
}
