using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.AccessLog;

/// <summary>
/// <c>KEDA_HTTP_LOG_REQUESTS=true</c> on a real interceptor process: each request it answers (forwarded on the lean
/// path or through YARP, over HTTP/1.1 or h2c, 404, placeholder, cold-start timeout) is exactly one stdout line that
/// parses back to what the client sent, whatever bytes the client put in its target and headers.
/// </summary>
public sealed class AccessLogProcessTests
{
    private const string Body = "hello";

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task LogRequests_EveryAnswerIsOneParsableLine(bool leanForwarding)
    {
        await using var upstream = await TestUpstream.StartAsync(context => context.Response.WriteAsync(Body), Microsoft.AspNetCore.Server.Kestrel.Core.HttpProtocols.Http1);
        var down = TestUpstream.FreePort();
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", Routes.Documents(
            Routes.InterceptorRoute("app", upstream.Port, hosts: ["app.example.com"]),
            Routes.InterceptorRoute("loading", down, hosts: ["loading.example.com"], extraSpec: "coldStart:\n  placeholder:\n    response: {body: wait}"),
            Routes.InterceptorRoute("cold", down, hosts: ["cold.example.com"], extraSpec: "timeouts: {readiness: 200ms}")));
        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"], new Dictionary<string, string>
        {
            ["KEDA_HTTP_LOG_REQUESTS"] = "true",
            ["UPDRAFT_LEAN_FORWARDING"] = leanForwarding ? "true" : "false",
        });
        var (proxyPort, _) = await process.WaitForPortsAsync();

        // The client's values as sent (raw bytes on the wire where an HTTP client would refuse them).
        var hostileAgent = "evil\" agent\\ \t\"end";
        var hostileReferer = "http://x/\"quoted\" and \\";
        var hostileTarget = "/p/\"quote\\back?q=\"1\"&b=\\";
        var forwarded = await RawHttp.SendAsync(proxyPort, Encoding.Latin1.GetBytes(
            $"GET {hostileTarget} HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: {hostileAgent}\r\nReferer: {hostileReferer}\r\nConnection: close\r\n\r\n"));
        var unrouted = await RawHttp.SendAsync(proxyPort, "GET /nothing HTTP/1.1\r\nHost: nowhere.example.com\r\nConnection: close\r\n\r\n");
        var placeholder = await RawHttp.SendAsync(proxyPort, "GET /page HTTP/1.1\r\nHost: loading.example.com\r\nUser-Agent: probe\r\nConnection: close\r\n\r\n");
        var timedOut = await RawHttp.SendAsync(proxyPort, "GET /slow HTTP/1.1\r\nHost: cold.example.com\r\nConnection: close\r\n\r\n");
        using var h2 = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var h2Request = new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{proxyPort}/h2?x=1")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new StringContent("payload"),
        };
        h2Request.Headers.Host = "app.example.com";
        using var h2Response = await h2.SendAsync(h2Request);

        Assert.Equal(200, forwarded.Status);
        Assert.Equal(404, unrouted.Status);
        Assert.Equal(503, placeholder.Status);
        Assert.Equal(504, timedOut.Status);
        Assert.Equal(HttpStatusCode.OK, h2Response.StatusCode);

        List<AccessLogLine> lines = [];
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult((lines = Parsed(process)).Count >= 5), "five access-log lines are written");
        Assert.Equal(5, lines.Count);
        Assert.All(lines, line => Assert.Equal("127.0.0.1", line.RemoteHost));
        Assert.All(lines, line => Assert.InRange(line.Time, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(1)));

        var app = Assert.Single(lines, l => l.Target == hostileTarget);
        Assert.Equal(("GET", "HTTP/1.1", 200, (long)Body.Length, hostileReferer, hostileAgent), (app.Method, app.Protocol, app.Status, app.Bytes, app.Referer, app.UserAgent));
        var missing = Assert.Single(lines, l => l.Target == "/nothing");
        Assert.Equal((404, (long)unrouted.Body.Length, "-", "-"), (missing.Status, missing.Bytes, missing.Referer, missing.UserAgent));
        var loading = Assert.Single(lines, l => l.Target == "/page");
        Assert.Equal((503, 4L, "probe"), (loading.Status, loading.Bytes, loading.UserAgent));
        var cold = Assert.Single(lines, l => l.Target == "/slow");
        Assert.Equal((504, (long)timedOut.Body.Length), (cold.Status, cold.Bytes));
        // The 200 ms wait is timed by a timer, which may fire a little early by the stopwatch the duration uses.
        Assert.True(cold.Seconds >= 0.18, $"the cold-start wait is in the duration ({cold.Seconds})");
        var viaH2 = Assert.Single(lines, l => l.Target == "/h2?x=1");
        Assert.Equal(("POST", "HTTP/2", 200, (long)Body.Length), (viaH2.Method, viaH2.Protocol, viaH2.Status, viaH2.Bytes));
    }

    [Fact]
    public async Task LogRequestsOff_NoAccessLogLines()
    {
        await using var upstream = await TestUpstream.StartAsync(context => context.Response.WriteAsync(Body));
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", Routes.InterceptorRoute("app", upstream.Port));
        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"]);
        var (proxyPort, _) = await process.WaitForPortsAsync();

        var response = await RawHttp.SendAsync(proxyPort, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
        var second = await RawHttp.SendAsync(proxyPort, "GET /y HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal(200, second.Status);
        process.Terminate();
        await process.WaitForExitAsync();
        Assert.Empty(Parsed(process));
        Assert.DoesNotContain(process.StdoutLines, line => line.Contains("\"GET /x HTTP/1.1\"", StringComparison.Ordinal));
    }

    private static List<AccessLogLine> Parsed(InterceptorProcess process)
    {
        var lines = new List<AccessLogLine>();
        foreach (var text in process.StdoutLines)
        {
            if (AccessLogLine.TryParse(text, out var line))
            {
                lines.Add(line);
            }
        }

        return lines;
    }
}
