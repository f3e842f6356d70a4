using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>
/// Headers a client names in <c>Connection</c> are dropped before forwarding, whatever they are (as Go's ReverseProxy
/// does), without ever costing a 5xx, a warning or a broken body: the body keeps its framing, and <c>Host</c> is never
/// dropped.
/// </summary>
public sealed class HopByHopTests
{
    private const string Host = "app.example.com";

    [Theory]
    [InlineData("GET", "Connection: Content-Type\r\nContent-Type: text/plain\r\n", "", "Content-Type", "")]
    [InlineData("POST", "Connection: Content-Type\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n", "hello", "Content-Type", "")]
    [InlineData("POST", "Connection: Accept\r\nAccept: text/html\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n", "hello", "Accept", "Content-Type")]
    [InlineData("POST", "Connection: Content-Type, Content-Encoding, Expires\r\nContent-Type: a/b\r\nContent-Encoding: identity\r\nExpires: 0\r\nX-Kept: 1\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n", "Content-Type,Content-Encoding,Expires", "X-Kept")]
    [InlineData("PUT", "Connection: Content-Length\r\nContent-Length: 5\r\n", "hello", "", "Content-Length")]
    [InlineData("POST", "Connection: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\n\r\n", "", "")]
    public async Task Forward_ConnectionNamesAContentHeader_DroppedWithoutA5xxOrAWarning(string method, string headerLines, string body, string dropped, string kept)
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"{method} /upload HTTP/1.1\r\nHost: {Host}\r\n{headerLines}\r\n{body}");

        Assert.Equal(200, response.Status);
        Assert.Equal("ok", response.Body);
        var received = upstream.Single();
        Assert.Equal(body.Length == 0 ? "" : "hello", received.BodyText);
        Assert.Equal([Host], received.Values("Host"));
        foreach (var name in dropped.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.False(received.Has(name), $"{name} reached the upstream");
        }

        foreach (var name in kept.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            Assert.True(received.Has(name), $"{name} did not reach the upstream");
        }

        if (kept.Contains("Content-Length", StringComparison.Ordinal))
        {
            // The body's framing is the transport's, as in Go: the length still describes the body.
            Assert.Equal(["5"], received.Values("Content-Length"));
        }

        await RequestCounts.WaitForAsync(interceptor, "app", 1);
        Assert.Equal(0, await RequestCounts.SumAsync(interceptor, "app", code => code >= 500));
        interceptor.Logs.AssertNoWarnings();
    }

    [Theory]
    [InlineData("Host")]
    [InlineData("host, X-Secret")]
    public async Task Forward_ConnectionNamesHost_UpstreamSeesTheClientsHostOnce(string connection)
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"GET / HTTP/1.1\r\nHost: {Host}\r\nConnection: {connection}\r\nX-Secret: 1\r\n\r\n");

        Assert.Equal(200, response.Status);
        var received = upstream.Single();
        Assert.Equal([Host], received.Values("Host"));
        Assert.Equal(connection.Contains("X-Secret", StringComparison.Ordinal), !received.Has("X-Secret"));
        interceptor.Logs.AssertNoWarnings();
    }
}
