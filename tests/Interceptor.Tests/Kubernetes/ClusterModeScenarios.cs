using System.Net;
using System.Text.Json.Nodes;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Kubernetes.Model;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Interceptor.Tests.Kubernetes.ClusterObjects;

namespace Updraft.Interceptor.Tests.Kubernetes;

/// <summary>
/// The interceptor in Kubernetes mode against an API server (chosen by the subclass): the in-process fake serving
/// <c>discovery.k8s.io/v1</c> EndpointSlices (the shape current clusters serve), or a real v1.20 kube-apiserver serving
/// <c>discovery.k8s.io/v1beta1</c>. Requests go over real sockets to real Kestrel upstreams on loopback, whose
/// addresses the slices carry as pod IPs. Each test writes into a namespace of its own.
/// </summary>
public abstract class ClusterModeScenarios : IAsyncLifetime
{
    private ITestCluster? _cluster;

    private protected ITestCluster Cluster => _cluster!;

    /// <summary>This test's namespace.</summary>
    private protected string Ns { get; private set; } = "";

    private protected abstract Task<ITestCluster> StartClusterAsync();

    /// <summary>
    /// Whether the interceptor watches only <see cref="Ns"/> (<c>KEDA_HTTP_WATCH_NAMESPACE</c>) instead of the whole
    /// cluster: needed on a server shared by tests, where earlier tests' routes for the same hosts remain.
    /// </summary>
    private protected abstract bool WatchTestNamespaceOnly { get; }

    public async Task InitializeAsync()
    {
        _cluster = await StartClusterAsync();
        Ns = await _cluster.CreateNamespaceAsync();
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }

    private protected Task PutAsync(ApiResource resource, JsonObject value) => Cluster.PutAsync(resource, value);

    /// <summary>Writes an EndpointSlice in the version the server serves, in <see cref="Ns"/> unless <paramref name="ns"/> is given.</summary>
    private protected Task PutSliceAsync(string name, string service, int port, string[] ready, string[]? notReady = null, string portName = "http", string? ns = null) =>
        Cluster.PutAsync(Cluster.EndpointSlices, Slice(Cluster.EndpointSlices, ns ?? Ns, name, service, port, ready, notReady, portName));

    private protected Task DeleteSliceAsync(string name) => Cluster.DeleteAsync(Cluster.EndpointSlices, Ns, name);

    /// <summary>Starts the interceptor on <see cref="Cluster"/> without waiting for it to be ready.</summary>
    private protected Task<TestInterceptor> StartUnreadyInterceptorAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>(settings ?? new Dictionary<string, string?>());
        if (WatchTestNamespaceOnly)
        {
            all["KEDA_HTTP_WATCH_NAMESPACE"] = Ns;
        }

        return TestInterceptor.StartInClusterAsync(Cluster.Kubeconfig, all);
    }

    private protected async Task<TestInterceptor> StartInterceptorAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var interceptor = await StartUnreadyInterceptorAsync(settings);
        await TestInterceptor.WaitUntilAsync(async () => await interceptor.GetReadyStatusAsync() == 200, "/readyz answers 200");
        return interceptor;
    }

    private protected static async Task WaitForStatusAsync(TestInterceptor interceptor, string host, HttpStatusCode status, string what)
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
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        await PutSliceAsync("app-1", "app", upstream.Port, ready: [], notReady: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test"));
        await using var interceptor = await StartInterceptorAsync();

        var held = interceptor.GetAsync("web.test", "/");
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[$"{Ns}/web"].Concurrency == 1, "the request is held");
        Assert.False(held.IsCompleted);

        await PutSliceAsync("app-1", "app", upstream.Port, ready: ["127.0.0.1"]);
        using var response = await held.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("pod-a", await response.Content.ReadAsStringAsync());
        Assert.Equal("true", response.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single());
    }

    [Fact]
    public async Task Request_ReadyEndpointTurnsNotReady_NextRequestIsHeld()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        await PutSliceAsync("app-1", "app", upstream.Port, ready: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test"));
        await using var interceptor = await StartInterceptorAsync(new Dictionary<string, string?> { ["KEDA_HTTP_READINESS_TIMEOUT"] = "300ms" });

        using (var warm = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
            Assert.Equal("false", warm.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single());
        }

        // Scaled to zero: the pod's endpoint goes away (terminating pods are not ready).
        await DeleteSliceAsync("app-1");
        await WaitForStatusAsync(interceptor, "web.test", HttpStatusCode.GatewayTimeout, "a request waits for readiness and times out");
    }

    [Fact]
    public async Task Requests_SeveralReadyPods_AreSpreadAcrossThem()
    {
        await using var a = await TestUpstream.StartNamedAsync("pod-a");
        await using var b = await TestUpstream.StartNamedAsync("pod-b");
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        // One pod per slice: each slice carries its own port, as slices for pods with different ports would.
        await PutSliceAsync("app-a", "app", a.Port, ready: ["127.0.0.1"]);
        await PutSliceAsync("app-b", "app", b.Port, ready: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test"));
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
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("metrics", 9000)));
        await PutSliceAsync("app-1", "app", upstream.Port, ready: ["127.0.0.1"], portName: "web");
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test", port: null, portName: "web"));
        await using var interceptor = await StartInterceptorAsync(new Dictionary<string, string?> { ["KEDA_HTTP_READINESS_TIMEOUT"] = "2s" });

        using (var unresolved = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, unresolved.StatusCode);
        }

        var held = interceptor.GetAsync("web.test", "/");
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[$"{Ns}/web"].Concurrency == 1, "the request is held");
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("metrics", 9000), ("web", 80)));
        using var released = await held;

        Assert.Equal(HttpStatusCode.OK, released.StatusCode);
        Assert.Equal("pod-a", await released.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Routes_CreatedUpdatedAndDeleted_TakeEffect()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        await PutSliceAsync("app-1", "app", upstream.Port, ready: ["127.0.0.1"]);
        await using var interceptor = await StartInterceptorAsync();

        using (var none = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.NotFound, none.StatusCode);
        }

        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test"));
        await WaitForStatusAsync(interceptor, "web.test", HttpStatusCode.OK, "the new route serves");

        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "shop.test"));
        await WaitForStatusAsync(interceptor, "shop.test", HttpStatusCode.OK, "the updated host serves");
        using (var old = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.NotFound, old.StatusCode);
        }

        await Cluster.DeleteAsync(ApiResource.InterceptorRoutes, Ns, "web");
        await WaitForStatusAsync(interceptor, "shop.test", HttpStatusCode.NotFound, "the deleted route is gone");
    }

    [Fact]
    public async Task Route_RejectedByOurRules_IsSkippedAndCountedWhileOthersServe()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        await PutSliceAsync("app-1", "app", upstream.Port, ready: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "good", "good.test"));
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "both-ports", "bad.test", port: 80, portName: "http"));
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
        await PutAsync(ApiResource.Services, Service(Ns, "ir-svc", ("http", 80)));
        await PutAsync(ApiResource.Services, Service(Ns, "so-svc", ("http", 80)));
        await PutSliceAsync("ir-1", "ir-svc", ir.Port, ready: ["127.0.0.1"]);
        await PutSliceAsync("so-1", "so-svc", so.Port, ready: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test", service: "ir-svc"));
        await PutAsync(ApiResource.HttpScaledObjects, ScaledObject(Ns, "web", "web.test", service: "so-svc"));
        await using var interceptor = await StartInterceptorAsync();

        using (var response = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal("from-route", await response.Content.ReadAsStringAsync());
        }

        await Cluster.DeleteAsync(ApiResource.InterceptorRoutes, Ns, "web");
        await TestInterceptor.WaitUntilAsync(async () =>
        {
            using var response = await interceptor.GetAsync("web.test", "/");
            return await response.Content.ReadAsStringAsync() == "from-scaledobject";
        }, "the HTTPScaledObject takes over");
    }

    [Fact]
    public async Task Slices_ForAnUnknownService_AreHarmless()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        var other = await Cluster.CreateNamespaceAsync();
        await PutSliceAsync("orphan-1", "nobody", 1, ready: ["127.0.0.9"], ns: other);
        await PutSliceAsync("orphan-2", "nobody", 1, ready: ["127.0.0.9"]);
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        await PutSliceAsync("app-1", "app", upstream.Port, ready: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test"));
        await using var interceptor = await StartInterceptorAsync();

        await PutSliceAsync("orphan-1", "nobody", 2, ready: [], ns: other);
        await PutSliceAsync("orphan-2", "nobody", 2, ready: []);
        // One watch carries every slice in order: once a slice put after the orphans' makes its route serve, the orphan
        // updates were handled before it.
        await PutAsync(ApiResource.Services, Service(Ns, "marker", ("http", 80)));
        await PutSliceAsync("marker-1", "marker", upstream.Port, ready: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "after", "after.test", service: "marker"));
        await WaitForStatusAsync(interceptor, "after.test", HttpStatusCode.OK, "changes made after the orphan slices are served");
        using var response = await interceptor.GetAsync("web.test", "/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("pod-a", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Placeholder_BodyFromLabelledConfigMap_IsServedAndAMissingConfigMapIs500()
    {
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        var placeholder = new { placeholder = new { response = new { bodyFromConfigMap = new { name = "pages", key = "wait.html" } } } };
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test", coldStart: placeholder));
        await PutAsync(ApiResource.ConfigMaps, BodyConfigMap(Ns, "pages", "wait.html", "<p>warming up</p>"));
        await using var interceptor = await StartInterceptorAsync();

        using (var response = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            Assert.Equal("<p>warming up</p>", await response.Content.ReadAsStringAsync());
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        }

        await Cluster.DeleteAsync(ApiResource.ConfigMaps, Ns, "pages");
        await WaitForStatusAsync(interceptor, "web.test", HttpStatusCode.InternalServerError, "a missing ConfigMap answers 500");
    }

    [Fact]
    public async Task ApiServerUnreachable_ReadyzTurns503AfterMaxStaleness_AndBackTo200_RoutesKeepServing()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        await PutSliceAsync("app-1", "app", upstream.Port, ready: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test"));
        // The interceptor reaches the API server through a relay the test can freeze (a hung server, a dead connection).
        var kubeconfig = await File.ReadAllTextAsync(Cluster.Kubeconfig);
        var server = new Uri(System.Text.RegularExpressions.Regex.Match(kubeconfig, @"server:\s*(\S+)").Groups[1].Value);
        await using var relay = new TcpRelay(new IPEndPoint(IPAddress.Loopback, server.Port));
        using var directory = new TempDirectory();
        var relayed = Path.Combine(directory.Path, "kubeconfig");
        await File.WriteAllTextAsync(relayed, kubeconfig.Replace(server.Authority, $"127.0.0.1:{relay.Port}", StringComparison.Ordinal));
        var settings = new Dictionary<string, string?>
        {
            ["KEDA_HTTP_ROUTING_TABLE_REFRESH_INTERVAL"] = "200ms",
            ["KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS"] = "2s",
        };
        if (WatchTestNamespaceOnly)
        {
            settings["KEDA_HTTP_WATCH_NAMESPACE"] = Ns;
        }

        await using var interceptor = await TestInterceptor.StartInClusterAsync(relayed, settings);
        await TestInterceptor.WaitUntilAsync(async () => await interceptor.GetReadyStatusAsync() == 200, "/readyz answers 200");

        relay.Freeze();
        var body = "";
        await TestInterceptor.WaitUntilAsync(
            async () =>
            {
                int status;
                (status, body) = await interceptor.GetReadinessAsync();
                return status == 503 && body.Contains("interceptorroutes", StringComparison.Ordinal);
            },
            "/readyz answers 503, naming the InterceptorRoute watch, while the API server cannot be reached");
        Assert.StartsWith("Service Unavailable: the routing table has not been confirmed current within KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS (2s)", body, StringComparison.Ordinal);
        using (var meanwhile = await interceptor.GetAsync("web.test", "/"))
        {
            // Readiness moves traffic away; what still arrives is answered from the routes in force.
            Assert.Equal(HttpStatusCode.OK, meanwhile.StatusCode);
            Assert.Equal("pod-a", await meanwhile.Content.ReadAsStringAsync());
        }

        relay.Thaw();
        try
        {
            await TestInterceptor.WaitUntilAsync(
                async () =>
                {
                    int status;
                    (status, body) = await interceptor.GetReadinessAsync();
                    return status == 200;
                },
                "/readyz answers 200 once the API server answers again");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} The last answer: {body}", e);
        }

        Assert.Equal("OK", body);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "late", "late.test"));
        await WaitForStatusAsync(interceptor, "late.test", HttpStatusCode.OK, "a route created after the outage serves");
    }
}
