using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>The outcome matrix for upstream failures (§4.3 of the add-on reference), through real sockets.</summary>
public sealed class UpstreamFailureTests
{
    private const string Host = "app.example.com";

    [Fact]
    public async Task Forward_UpstreamResetsConnection_Returns502()
    {
        await using var upstream = await TestUpstream.StartAsync(context =>
        {
            context.Abort();
            return Task.CompletedTask;
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        using var response = await interceptor.GetAsync(Host, "/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("Bad Gateway\n", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_UpstreamSendsGarbage_Returns502()
    {
        await using var garbage = await RawTcpServer.StartAsync("THIS IS NOT HTTP\r\n\r\n"u8.ToArray());
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", garbage.Port, hosts: [Host]));

        using var response = await interceptor.GetAsync(Host, "/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    [Fact]
    public async Task Forward_UpstreamClosesWithoutAnswer_Returns502()
    {
        await using var eof = await RawTcpServer.StartAsync([]);
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", eof.Port, hosts: [Host]));

        using var response = await interceptor.GetAsync(Host, "/");

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
    }

    [Fact]
    public async Task Forward_ConnectionRefusedUntilDeadline_Returns504()
    {
        var port = TestUpstream.FreePort();
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: "timeouts: {request: 400ms}"));

        using var response = await interceptor.GetAsync(Host, "/");

        // Refused means not ready (standalone readiness): the request is held as a cold start until its deadline.
        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("Gateway Timeout\n", await response.Content.ReadAsStringAsync());
        // The count is released as the request ends, which may be just after its answer has reached the client.
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/app"].Concurrency == 0, "the timed-out request is released");
    }

    [Fact]
    public async Task Forward_UpstreamStartsListeningWhileConnectsRetry_Succeeds()
    {
        var port = TestUpstream.FreePort();
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: "timeouts: {request: 30s}"));
        var pending = interceptor.GetAsync(Host, "/");

        // The first connect is refused, so the request is held while the target is probed until something listens.
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/app"].Concurrency == 1, "the request is in flight");
        await using var upstream = await TestUpstream.StartOnPortAsync(port, context => context.Response.WriteAsync("late"));
        using var response = await pending;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("late", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_NoResponseHeadersWithinTimeout_Returns504()
    {
        var release = new TaskCompletionSource();
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            await release.Task.WaitAsync(context.RequestAborted);
        });
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], extraSpec: "timeouts: {responseHeader: 300ms}"));

        using var response = await interceptor.GetAsync(Host, "/");
        release.TrySetResult();

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("Gateway Timeout\n", await response.Content.ReadAsStringAsync());
    }

    // Issue 16, defect 1: the response-header clock ran during the upload, so an upload longer than the timeout was
    // cut (400, "Reading is already in progress"). It starts once the body has been sent, as Go's does.
    [Fact]
    public async Task Forward_UploadLongerThanTheResponseHeaderTimeout_IsForwardedWhole()
    {
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            var received = await ReadAllAsync(context.Request.Body, context.RequestAborted);
            await context.Response.WriteAsync(received.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], extraSpec: "timeouts: {responseHeader: 2s}"));

        // 3.2 s of upload against a 2 s limit; the upstream answers as soon as the body is in.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = new SlowUpload(pieces: 8, pieceSize: 64 * 1024, pause: TimeSpan.FromMilliseconds(400)) };
        request.Headers.Host = Host;
        using var response = await interceptor.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal((8 * 64 * 1024).ToString(System.Globalization.CultureInfo.InvariantCulture), await response.Content.ReadAsStringAsync());
        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task Forward_NoResponseHeadersAfterASlowUpload_Returns504()
    {
        var received = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            received.TrySetResult(await ReadAllAsync(context.Request.Body, context.RequestAborted));
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        });
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], extraSpec: "timeouts: {responseHeader: 400ms}"));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = new SlowUpload(pieces: 5, pieceSize: 1024, pause: TimeSpan.FromMilliseconds(200)) };
        request.Headers.Host = Host;
        using var response = await interceptor.Client.SendAsync(request);

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Equal("Gateway Timeout\n", await response.Content.ReadAsStringAsync());
        // The whole body got through before the clock started.
        Assert.Equal(5 * 1024, await received.Task.WaitAsync(TimeSpan.FromSeconds(10)));
    }

    private static async Task<long> ReadAllAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[16 * 1024];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
        {
            total += read;
        }

        return total;
    }

    /// <summary>A chunked request body sent in pieces with a pause before each, as a slow uplink sends it.</summary>
    private sealed class SlowUpload(int pieces, int pieceSize, TimeSpan pause) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context)
        {
            var piece = new byte[pieceSize];
            for (var i = 0; i < pieces; i++)
            {
                await Task.Delay(pause);
                await stream.WriteAsync(piece);
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    [Fact]
    public async Task Forward_GlobalResponseHeaderTimeout_Returns504()
    {
        var release = new TaskCompletionSource();
        await using var upstream = await TestUpstream.StartAsync(async context => await release.Task.WaitAsync(context.RequestAborted));
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            new Dictionary<string, string?> { ["KEDA_HTTP_RESPONSE_HEADER_TIMEOUT"] = "300ms" });

        using var response = await interceptor.GetAsync(Host, "/");
        release.TrySetResult();

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
    }

    [Fact]
    public async Task Forward_ResponseHeaderTimeoutAfterFastRequests_TimesOutOnlyTheSlowOne()
    {
        // Fast requests hand their timeout sources back for reuse; a reused source must still time out, and one
        // that did must not leak into later requests.
        var release = new TaskCompletionSource();
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            if (context.Request.Path == "/slow")
            {
                await release.Task.WaitAsync(context.RequestAborted);
            }
        });
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], extraSpec: "timeouts: {responseHeader: 300ms}"));

        for (var i = 0; i < 20; i++)
        {
            using var fast = await interceptor.GetAsync(Host, "/fast");
            Assert.Equal(HttpStatusCode.OK, fast.StatusCode);
        }

        using var slow = await interceptor.GetAsync(Host, "/slow");
        release.TrySetResult();
        using var after = await interceptor.GetAsync(Host, "/fast");

        Assert.Equal(HttpStatusCode.GatewayTimeout, slow.StatusCode);
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
    }

    [Fact]
    public async Task Forward_RequestDeadlinePasses_Returns504AndUpstreamSeesAbort()
    {
        var upstreamAborted = new TaskCompletionSource();
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            context.RequestAborted.Register(() => upstreamAborted.TrySetResult());
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        });
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            new Dictionary<string, string?> { ["KEDA_HTTP_REQUEST_TIMEOUT"] = "300ms" });

        using var response = await interceptor.GetAsync(Host, "/");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        await upstreamAborted.Task.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Forward_RouteTimeoutZero_OverridesGlobalDeadline()
    {
        var release = new TaskCompletionSource();
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            await release.Task.WaitAsync(context.RequestAborted);
            await context.Response.WriteAsync("done");
        });
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], extraSpec: "timeouts: {request: 0s}"),
            new Dictionary<string, string?> { ["KEDA_HTTP_REQUEST_TIMEOUT"] = "200ms" });

        var pending = interceptor.GetAsync(Host, "/");
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/app"].Concurrency == 1, "the request is in flight");
        // Well past the global deadline: the route's 0s turned it off for this route.
        await Task.Delay(600);
        Assert.False(pending.IsCompleted);
        release.SetResult();
        using var response = await pending;

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData(404)]
    [InlineData(429)]
    [InlineData(500)]
    [InlineData(503)]
    public async Task Forward_UpstreamErrorStatus_PassesThroughUntouchedWithoutRetry(int status)
    {
        var hits = 0;
        await using var upstream = await TestUpstream.StartAsync(context =>
        {
            Interlocked.Increment(ref hits);
            context.Response.StatusCode = status;
            context.Response.Headers["X-Upstream-Error"] = "yes";
            return context.Response.WriteAsync("upstream says " + status);
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        using var request = new HttpRequestMessage(HttpMethod.Post, "/") { Content = new StringContent("payload") };
        request.Headers.Host = Host;
        using var response = await interceptor.Client.SendAsync(request);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("upstream says " + status, await response.Content.ReadAsStringAsync());
        Assert.Equal("yes", response.Headers.GetValues("X-Upstream-Error").Single());
        Assert.Equal(1, hits);
    }

    [Fact]
    public async Task Forward_ClientGoesAway_Records499AndReleasesCount()
    {
        var arrived = new TaskCompletionSource();
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            arrived.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.RequestAborted);
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, interceptor.ProxyPort);
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"GET / HTTP/1.1\r\nHost: {Host}\r\n\r\n"));
            await arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
        }

        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/app"].Concurrency == 0, "the aborted request is released");
        var metrics = await interceptor.GetMetricsTextAsync();
        Assert.Contains("interceptor_request_count_total{code=\"499\",method=\"GET\",route_name=\"app\",route_namespace=\"default\"} 1", metrics);
        Assert.DoesNotContain("code=\"502\"", metrics);
    }

    [Fact]
    public async Task Forward_ClientGoesAwayMidUpload_Records499ReleasesCountAndUpstreamSeesTheAbort()
    {
        var received = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamSaw = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            var buffer = new byte[64 * 1024];
            var total = 0;
            try
            {
                while (true)
                {
                    var read = await context.Request.Body.ReadAsync(buffer, context.RequestAborted);
                    if (read == 0)
                    {
                        upstreamSaw.TrySetResult("the whole body");
                        return;
                    }

                    total += read;
                    if (total >= 4096)
                    {
                        received.TrySetResult(total);
                    }
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException)
            {
                upstreamSaw.TrySetResult("an abort after " + total + " bytes");
            }
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        using (var client = new TcpClient())
        {
            await client.ConnectAsync(IPAddress.Loopback, interceptor.ProxyPort);
            await client.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"POST /upload HTTP/1.1\r\nHost: {Host}\r\nContent-Length: 1000000\r\n\r\n" + new string('u', 4096)));
            await received.Task.WaitAsync(TimeSpan.FromSeconds(20));
        }

        Assert.StartsWith("an abort", await upstreamSaw.Task.WaitAsync(TimeSpan.FromSeconds(20)), StringComparison.Ordinal);
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/app"].Concurrency == 0, "the aborted upload is released");
        // Counted as the client's doing: 499, or 400 when Kestrel reports the body cut short before the connection's end.
        var metrics = "";
        await TestInterceptor.WaitUntilAsync(
            async () => (metrics = await interceptor.GetMetricsTextAsync()).Contains("interceptor_request_count_total{code=", StringComparison.Ordinal),
            "the aborted upload is counted");
        var counted = Assert.Single(metrics.Split('\n'), line => line.StartsWith("interceptor_request_count_total{", StringComparison.Ordinal));
        Assert.Matches("^interceptor_request_count_total\\{code=\"(499|400)\",method=\"POST\",route_name=\"app\",route_namespace=\"default\"\\} 1$", counted);
    }
}
