using System.Net;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Interceptor.Tests.Kubernetes.ClusterObjects;

namespace Updraft.Interceptor.Tests.Kubernetes;

/// <summary>
/// The interceptor in Kubernetes mode against an in-process API server speaking the list/watch protocol with
/// <c>discovery.k8s.io/v1</c> EndpointSlices (the shape current clusters serve); requests go over real sockets to real
/// Kestrel upstreams on loopback, whose addresses the slices carry as pod IPs.
/// </summary>
public sealed class ClusterModeTests : IAsyncLifetime
{
    private FakeApiServer _api = null!;
    private string _directory = null!;
    private string _kubeconfig = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeApiServer.StartAsync();
        _directory = Directory.CreateTempSubdirectory("updraft-k8s-").FullName;
        _kubeconfig = _api.WriteKubeconfig(Path.Combine(_directory, "kubeconfig"));
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private async Task<TestInterceptor> StartInterceptorAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var interceptor = await TestInterceptor.StartInClusterAsync(_kubeconfig, settings);
        await TestInterceptor.WaitUntilAsync(async () => await interceptor.GetReadyStatusAsync() == 200, "/readyz answers 200");
        return interceptor;
    }

    private static async Task WaitForStatusAsync(TestInterceptor interceptor, string host, HttpStatusCode status, string what)
    {
        await TestInterceptor.WaitUntilAsync(async () =>
        {
            using var response = await interceptor.GetAsync(host, "/");
            return response.StatusCode == status;
        }, what);
    }

    [Fact]
    public async Task Request_NoReadyEndpointThenSliceBecomesReady_IsHeldThenForwardedToThePod()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        _api.Upsert(Services, Service("shop", "app", ("http", 80)));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-1", "app", upstream.Port, ready: [], notReady: ["127.0.0.1"]));
        _api.Upsert(InterceptorRoutes, Route("shop", "web", "web.test"));
        await using var interceptor = await StartInterceptorAsync();

        var held = interceptor.GetAsync("web.test", "/");
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["shop/web"].Concurrency == 1, "the request is held");
        Assert.False(held.IsCompleted);

        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-1", "app", upstream.Port, ready: ["127.0.0.1"]));
        using var response = await held.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("pod-a", await response.Content.ReadAsStringAsync());
        Assert.Equal("true", response.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single());
    }

    [Fact]
    public async Task Request_ReadyEndpointTurnsNotReady_NextRequestIsHeld()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        _api.Upsert(Services, Service("shop", "app", ("http", 80)));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-1", "app", upstream.Port, ready: ["127.0.0.1"]));
        _api.Upsert(InterceptorRoutes, Route("shop", "web", "web.test"));
        await using var interceptor = await StartInterceptorAsync(new Dictionary<string, string?> { ["KEDA_HTTP_READINESS_TIMEOUT"] = "300ms" });

        using (var warm = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
            Assert.Equal("false", warm.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single());
        }

        // Scaled to zero: the pod's endpoint goes away (terminating pods are not ready).
        _api.Delete(EndpointSlicesV1, "shop", "app-1");
        await WaitForStatusAsync(interceptor, "web.test", HttpStatusCode.GatewayTimeout, "a request waits for readiness and times out");
    }

    [Fact]
    public async Task Requests_SeveralReadyPods_AreSpreadAcrossThem()
    {
        await using var a = await TestUpstream.StartNamedAsync("pod-a");
        await using var b = await TestUpstream.StartNamedAsync("pod-b");
        _api.Upsert(Services, Service("shop", "app", ("http", 80)));
        // One pod per slice: each slice carries its own port, as slices for pods with different ports would.
        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-a", "app", a.Port, ready: ["127.0.0.1"]));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-b", "app", b.Port, ready: ["127.0.0.1"]));
        _api.Upsert(InterceptorRoutes, Route("shop", "web", "web.test"));
        await using var interceptor = await StartInterceptorAsync();

        var seen = new Dictionary<string, int>();
        for (var i = 0; i < 10; i++)
        {
            using var response = await interceptor.GetAsync("web.test", "/");
            var name = await response.Content.ReadAsStringAsync();
            seen[name] = seen.GetValueOrDefault(name) + 1;
        }

        Assert.Equal(5, seen.GetValueOrDefault("pod-a"));
        Assert.Equal(5, seen.GetValueOrDefault("pod-b"));
    }

    [Fact]
    public async Task PortName_ResolvesThroughTheService_AndAServiceWithoutItHoldsUntilItAppears()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        _api.Upsert(Services, Service("shop", "app", ("metrics", 9000)));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-1", "app", upstream.Port, ready: ["127.0.0.1"], portName: "web"));
        _api.Upsert(InterceptorRoutes, Route("shop", "web", "web.test", port: null, portName: "web"));
        await using var interceptor = await StartInterceptorAsync(new Dictionary<string, string?> { ["KEDA_HTTP_READINESS_TIMEOUT"] = "300ms" });

        using (var unresolved = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, unresolved.StatusCode);
        }

        var held = interceptor.GetAsync("web.test", "/", ("X-Wait", "1"));
        await Task.Delay(50);
        _api.Upsert(Services, Service("shop", "app", ("metrics", 9000), ("web", 80)));
        await WaitForStatusAsync(interceptor, "web.test", HttpStatusCode.OK, "the named port resolves once the Service has it");
        using var response = await interceptor.GetAsync("web.test", "/");
        Assert.Equal("pod-a", await response.Content.ReadAsStringAsync());
        (await held).Dispose();
    }

    [Fact]
    public async Task Routes_CreatedUpdatedAndDeleted_TakeEffect()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        _api.Upsert(Services, Service("shop", "app", ("http", 80)));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-1", "app", upstream.Port, ready: ["127.0.0.1"]));
        await using var interceptor = await StartInterceptorAsync();

        using (var none = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        }

        _api.Upsert(InterceptorRoutes, Route("shop", "web", "web.test"));
        await WaitForStatusAsync(interceptor, "web.test", HttpStatusCode.OK, "the new route serves");

        _api.Upsert(InterceptorRoutes, Route("shop", "web", "shop.test"));
        await WaitForStatusAsync(interceptor, "shop.test", HttpStatusCode.OK, "the updated host serves");
        using (var old = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
        }

        _api.Delete(InterceptorRoutes, "shop", "web");
        await WaitForStatusAsync(interceptor, "shop.test", HttpStatusCode.NotFound, "the deleted route is gone");
    }

    [Fact]
    public async Task Route_RejectedByOurRules_IsSkippedAndCountedWhileOthersServe()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        _api.Upsert(Services, Service("shop", "app", ("http", 80)));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-1", "app", upstream.Port, ready: ["127.0.0.1"]));
        _api.Upsert(InterceptorRoutes, Route("shop", "good", "good.test"));
        _api.Upsert(InterceptorRoutes, Route("shop", "both-ports", "bad.test", port: 80, portName: "http"));
        await using var interceptor = await StartInterceptorAsync();

        using (var good = await interceptor.GetAsync("good.test", "/"))
        {
            Assert.Equal(HttpStatusCode.OK, good.StatusCode);
        }

        using (var bad = await interceptor.GetAsync("bad.test", "/"))
        {
            Assert.Equal(HttpStatusCode.NotFound, bad.StatusCode);
        }

        Assert.Contains("interceptor_routes_rejected 1", await interceptor.GetMetricsTextAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task SameName_InterceptorRouteWins_AndDeletingItLetsTheScaledObjectTakeOver()
    {
        await using var ir = await TestUpstream.StartNamedAsync("from-route");
        await using var so = await TestUpstream.StartNamedAsync("from-scaledobject");
        _api.Upsert(Services, Service("shop", "ir-svc", ("http", 80)));
        _api.Upsert(Services, Service("shop", "so-svc", ("http", 80)));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "ir-1", "ir-svc", ir.Port, ready: ["127.0.0.1"]));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "so-1", "so-svc", so.Port, ready: ["127.0.0.1"]));
        _api.Upsert(InterceptorRoutes, Route("shop", "web", "web.test", service: "ir-svc"));
        _api.Upsert(HttpScaledObjects, ScaledObject("shop", "web", "web.test", service: "so-svc"));
        await using var interceptor = await StartInterceptorAsync();

        using (var response = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal("from-route", await response.Content.ReadAsStringAsync());
        }

        _api.Delete(InterceptorRoutes, "shop", "web");
        await TestInterceptor.WaitUntilAsync(async () =>
        {
            using var response = await interceptor.GetAsync("web.test", "/");
            return await response.Content.ReadAsStringAsync() == "from-scaledobject";
        }, "the HTTPScaledObject takes over");
    }

    [Fact]
    public async Task Watches_ClosedAndExpired_RecoverWithoutLosingRoutes()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        _api.Upsert(Services, Service("shop", "app", ("http", 80)));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-1", "app", upstream.Port, ready: ["127.0.0.1"]));
        _api.Upsert(InterceptorRoutes, Route("shop", "one", "one.test"));
        await using var interceptor = await StartInterceptorAsync();
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(_api.OpenWatches >= 5), "every watch is open");

        _api.CloseWatches();
        _api.Upsert(InterceptorRoutes, Route("shop", "two", "two.test"));
        await WaitForStatusAsync(interceptor, "two.test", HttpStatusCode.OK, "a route created while watches were closed serves");

        _api.ExpireWatches();
        _api.Upsert(InterceptorRoutes, Route("shop", "three", "three.test"));
        _api.FailNext(3);
        await WaitForStatusAsync(interceptor, "three.test", HttpStatusCode.OK, "a route created after 410 Gone and errors serves");
        foreach (var host in new[] { "one.test", "two.test", "three.test" })
        {
            using var response = await interceptor.GetAsync(host, "/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task Readyz_BeforeTheFirstSync_IsNotReady()
    {
        _api.FailNext(100_000, 503);
        await using var interceptor = await TestInterceptor.StartInClusterAsync(_kubeconfig);
        Assert.Equal(503, await interceptor.GetReadyStatusAsync());

        _api.StopFailing();
        await TestInterceptor.WaitUntilAsync(async () => await interceptor.GetReadyStatusAsync() == 200, "/readyz turns 200 after the sync");
    }

    [Fact]
    public async Task Slices_ForAnUnknownService_AreHarmless()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        _api.Upsert(EndpointSlicesV1, Slice("other", "orphan-1", "nobody", 1, ready: ["127.0.0.9"]));
        _api.Upsert(Services, Service("shop", "app", ("http", 80)));
        _api.Upsert(EndpointSlicesV1, Slice("shop", "app-1", "app", upstream.Port, ready: ["127.0.0.1"]));
        _api.Upsert(InterceptorRoutes, Route("shop", "web", "web.test"));
        await using var interceptor = await StartInterceptorAsync();

        _api.Upsert(EndpointSlicesV1, Slice("other", "orphan-1", "nobody", 2, ready: []));
        using var response = await interceptor.GetAsync("web.test", "/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Placeholder_BodyFromLabelledConfigMap_IsServedAndAMissingConfigMapIs500()
    {
        _api.Upsert(Services, Service("shop", "app", ("http", 80)));
        var placeholder = new { placeholder = new { response = new { bodyFromConfigMap = new { name = "pages", key = "wait.html" } } } };
        _api.Upsert(InterceptorRoutes, Route("shop", "web", "web.test", coldStart: placeholder));
        _api.Upsert(ConfigMaps, new
        {
            apiVersion = "v1",
            kind = "ConfigMap",
            metadata = new { name = "pages", @namespace = "shop", labels = new Dictionary<string, string> { ["http.keda.sh/response-body"] = "true" } },
            data = new Dictionary<string, string> { ["wait.html"] = "<p>warming up</p>" },
        });
        await using var interceptor = await StartInterceptorAsync();

        using (var response = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("<p>warming up</p>", await response.Content.ReadAsStringAsync());
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        }

        _api.Delete(ConfigMaps, "shop", "pages");
        await WaitForStatusAsync(interceptor, "web.test", HttpStatusCode.InternalServerError, "a missing ConfigMap answers 500");
    }
}
