using System.Net;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Hosting;

/// <summary>SIGTERM to a real interceptor process with requests in flight.</summary>
public sealed class GracefulDrainTests
{
    [Fact]
    public async Task Sigterm_RequestsInFlight_ReadinessFailsAtOnceNoneDroppedAndExitsZero()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            if (context.Request.Path == "/slow")
            {
                Interlocked.Increment(ref arrived);
                await release.Task;
            }

            await context.Response.WriteAsync("done");
        });
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", Routes.InterceptorRoute("app", upstream.Port));
        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"], new Dictionary<string, string>
        {
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = "5s",
            ["KEDA_HTTP_DRAIN_TIMEOUT"] = "60s",
        });
        var (proxyPort, adminPort) = await process.WaitForPortsAsync();
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, MaxConnectionsPerServer = 100 })
        {
            BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}"),
            Timeout = TimeSpan.FromSeconds(90),
        };
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode);
        var inFlight = Enumerable.Range(0, 5).Select(_ => client.GetAsync(new Uri("/slow", UriKind.Relative))).ToArray();
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref arrived) == 5), "five requests are in flight");

        process.Terminate();
        await TestInterceptor.WaitUntilAsync(
            async () => (await admin.GetAsync(new Uri("/readyz", UriKind.Relative))).StatusCode == HttpStatusCode.ServiceUnavailable,
            "readiness turns 503");
        // Still serving during the shutdown delay, telling HTTP/1 clients to reconnect elsewhere.
        using var duringDelay = await client.GetAsync(new Uri("/fast", UriKind.Relative));
        release.SetResult();
        var finished = await Task.WhenAll(inFlight);
        var bodies = await Task.WhenAll(finished.Select(response => response.Content.ReadAsStringAsync()));
        var exitCode = await process.WaitForExitAsync();

        Assert.Equal(HttpStatusCode.OK, duringDelay.StatusCode);
        Assert.True(duringDelay.Headers.ConnectionClose);
        Assert.All(finished, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.All(bodies, body => Assert.Equal("done", body));
        Assert.Equal(0, exitCode);
        foreach (var response in finished)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task Sigterm_RequestHeldForTargetThatNeverComesUp_Answered503BeforeExit()
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", Routes.InterceptorRoute("cold", TestUpstream.FreePort()));
        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"], new Dictionary<string, string>
        {
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = "1s",
            ["KEDA_HTTP_DRAIN_TIMEOUT"] = "3s",
        });
        var (proxyPort, adminPort) = await process.WaitForPortsAsync();
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}"), Timeout = TimeSpan.FromSeconds(90) };
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") };
        var held = client.GetAsync(new Uri("/", UriKind.Relative));
        await TestInterceptor.WaitUntilAsync(async () => (await admin.GetStringAsync(new Uri("/queue", UriKind.Relative))).Contains("\"Concurrency\":1", StringComparison.Ordinal), "the request is held");

        process.Terminate();
        using var response = await held;
        var exitCode = await process.WaitForExitAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("Service Unavailable\n", await response.Content.ReadAsStringAsync());
        Assert.Equal(0, exitCode);
    }
}
