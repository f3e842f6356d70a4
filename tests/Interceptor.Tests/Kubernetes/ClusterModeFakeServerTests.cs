using System.Net;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Kubernetes.Model;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Interceptor.Tests.Kubernetes.ClusterObjects;

namespace Updraft.Interceptor.Tests.Kubernetes;

/// <summary>
/// The Kubernetes-mode scenarios on a fresh in-process fake per test (<c>discovery.k8s.io/v1</c>, watching the whole
/// cluster), plus the faults only the fake can inject: closed and expired watches, failing requests.
/// </summary>
public sealed class ClusterModeFakeServerTests : ClusterModeScenarios
{
    private FakeApiServer Server => ((FakeCluster)Cluster).Server;

    private protected override bool WatchTestNamespaceOnly => false;

    private protected override async Task<ITestCluster> StartClusterAsync() => await FakeCluster.StartAsync();

    [Fact]
    public async Task Watches_ClosedAndExpired_RecoverWithoutLosingRoutes()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        await PutSliceAsync("app-1", "app", upstream.Port, ready: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "one", "one.test"));
        await using var interceptor = await StartInterceptorAsync();
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(Server.OpenWatches >= 5), "every watch is open");

        Server.CloseWatches();
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "two", "two.test"));
        await WaitForStatusAsync(interceptor, "two.test", HttpStatusCode.OK, "a route created while watches were closed serves");

        Server.ExpireWatches();
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "three", "three.test"));
        Server.FailNext(3);
        await WaitForStatusAsync(interceptor, "three.test", HttpStatusCode.OK, "a route created after 410 Gone and errors serves");
        foreach (var host in new[] { "one.test", "two.test", "three.test" })
        {
            using var response = await interceptor.GetAsync(host, "/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // What happened is visible to operators: the re-list after 410 Gone, and each failed request.
        await TestInterceptor.WaitUntilAsync(async () => WatchMetric(await interceptor.GetMetricsTextAsync(), "failures") == 3, "the three failed requests are counted");
        var metrics = await interceptor.GetMetricsTextAsync();
        Assert.Matches(@"interceptor_kube_watch_lists_total\{resource=""interceptorroutes""\} [2-9]", metrics);
    }

    /// <summary>The sum over resources of <c>interceptor_kube_watch_{kind}_total</c>.</summary>
    private static double WatchMetric(string metrics, string kind)
    {
        var prefix = $"interceptor_kube_watch_{kind}_total{{";
        return metrics.Split('\n')
            .Where(line => line.StartsWith(prefix, StringComparison.Ordinal))
            .Sum(line => double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Readyz_BeforeTheFirstSync_IsNotReady()
    {
        Server.FailNext(100_000, 503);
        await using var interceptor = await StartUnreadyInterceptorAsync();
        Assert.Equal(503, await interceptor.GetReadyStatusAsync());

        Server.StopFailing();
        await TestInterceptor.WaitUntilAsync(async () => await interceptor.GetReadyStatusAsync() == 200, "/readyz turns 200 after the sync");
    }
}
