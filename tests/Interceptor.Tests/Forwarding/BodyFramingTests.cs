using System.Net;
using System.Text;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>
/// Bodies that are framed wrongly: responses that cannot have a body (204, 205, 304) pass through with their status and
/// without a body, whatever length the upstream claimed, over HTTP/1.1 and h2 alike; a client's broken request body is
/// the client's 400, never a warning.
/// </summary>
public sealed class BodyFramingTests
{
    private const string Host = "app.example.com";

    [Theory]
    [InlineData(204, "No Content")]
    [InlineData(205, "Reset Content")]
    [InlineData(304, "Not Modified")]
    public async Task Forward_BodylessStatusWithContentLength_PassedThroughWithoutABody(int status, string reason)
    {
        await using var upstream = await RawTcpServer.StartAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {status} {reason}\r\nContent-Length: 5\r\nX-Upstream: yes\r\n\r\nhello"));
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"GET / HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        Assert.Equal(status, response.Status);
        Assert.Equal("yes", response.Headers["X-Upstream"]);
        Assert.Equal("", response.Body);
        if (status != 304)
        {
            // RFC 9110 §8.6: no Content-Length on a 204; a 205 may only say 0.
            Assert.True(!response.Headers.TryGetValue("Content-Length", out var length) || length == "0", $"Content-Length: {length}");
        }

        await RequestCounts.WaitForAsync(interceptor, "app", 1);
        Assert.Equal(1, await RequestCounts.SumAsync(interceptor, "app", code => code == status));
        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task Forward_NoContentWithContentLengthToAnH2Client_PassedThroughWithoutABody()
    {
        await using var upstream = await RawTcpServer.StartAsync("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello"u8.ToArray());
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        using var client = interceptor.NewClient(new SocketsHttpHandler { UseProxy = false });
        using var request = new HttpRequestMessage(HttpMethod.Get, "/") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        request.Headers.Host = Host;

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Empty(await response.Content.ReadAsByteArrayAsync());
        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task Forward_MalformedChunkedRequestBody_Returns400WithoutAWarning()
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"POST / HTTP/1.1\r\nHost: {Host}\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz\r\n");

        Assert.Equal(400, response.Status);
        await RequestCounts.WaitForAsync(interceptor, "app", 1);
        Assert.Equal(0, await RequestCounts.SumAsync(interceptor, "app", code => code >= 500));
        interceptor.Logs.AssertNoWarnings();
    }
}
