using System.Globalization;
using System.Net;
using Grpc.Core;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Kubernetes;
using Updraft.Kubernetes.Model;
using Updraft.Protos.ExternalScaler;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Kubernetes;

/// <summary>
/// The whole data plane against a real kube-apiserver (v1.20, so EndpointSlices are <c>discovery.k8s.io/v1beta1</c>):
/// two real interceptor processes (on 127.0.0.1 and 127.0.0.2, one admin port) in Kubernetes mode, a scaler in
/// Kubernetes mode that finds them through the admin Service's EndpointSlices, and a real upstream on loopback that
/// the workload's EndpointSlice lists as its pod.
/// </summary>
[Collection(SharedRealApiServer.Name)]
public sealed class ClusterEndToEndTests(RealApiServer api)
{
    private const string AdminNamespace = "updraft-system";
    private const string AdminService = "updraft-interceptor-admin";
    private const string Routes = "/apis/http.keda.sh/v1beta1/namespaces/shop/interceptorroutes";
    private const string Services = "/api/v1/namespaces/shop/services";
    private const string Slices = "/apis/discovery.k8s.io/v1beta1/namespaces/shop/endpointslices";
    private static readonly ApiResource SliceApi = ApiResource.EndpointSlicesV1Beta1;

    [Fact]
    public async Task ColdRequest_HeldUntilTheSliceIsReady_CountedByTheScalerAcrossTwoDiscoveredReplicas_AndRouteChangesApply()
    {
        await api.ApplyCrdsAsync();
        await api.EnsureNamespaceAsync("shop");
        await api.EnsureNamespaceAsync(AdminNamespace);
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        await api.CreateAsync(Services, ClusterObjects.Service("shop", "app", ("http", 80)));
        await api.CreateAsync(Slices, ClusterObjects.Slice(SliceApi, "shop", "app-1", "app", upstream.Port, ready: [], notReady: ["127.0.0.1"]));
        await api.CreateAsync(Routes, ClusterObjects.Route("shop", "web", "web.test"));

        var adminPort = TestUpstream.FreePort();
        await api.CreateAsync($"/api/v1/namespaces/{AdminNamespace}/services", ClusterObjects.Service(AdminNamespace, AdminService, ("admin", adminPort)));
        await api.CreateAsync(
            $"/apis/discovery.k8s.io/v1beta1/namespaces/{AdminNamespace}/endpointslices",
            ClusterObjects.Slice(SliceApi, AdminNamespace, AdminService + "-1", AdminService, adminPort, ready: ["127.0.0.1", "127.0.0.2"], portName: "admin"));

        using var directory = new TempDirectory();
        await using var first = StartInterceptor(directory.Path, "127.0.0.1", adminPort);
        await using var second = StartInterceptor(directory.Path, "127.0.0.2", adminPort);
        var (firstProxy, _) = await first.WaitForPortsAsync();
        var (secondProxy, _) = await second.WaitForPortsAsync();
        await WaitUntilReadyAsync("127.0.0.1", adminPort);
        await WaitUntilReadyAsync("127.0.0.2", adminPort);

        await using var scaler = await ScalerHarness.StartAsync("", interceptors: 0, waitForCounts: false, settings: new Dictionary<string, string?>
        {
            ["UPDRAFT_MODE"] = "kubernetes",
            ["UPDRAFT_KUBECONFIG"] = api.Kubeconfig,
            ["UPDRAFT_ROUTES_FILE"] = null,
            ["UPDRAFT_INTERCEPTORS"] = null,
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE"] = AdminNamespace,
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE"] = AdminService,
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
            ["KEDA_HTTP_QUEUE_TICK_DURATION"] = "500ms",
        });

        // One cold request through each replica: both wait, and the scaler sees both.
        using var firstClient = Client("127.0.0.1", firstProxy);
        using var secondClient = Client("127.0.0.2", secondProxy);
        var heldOnFirst = firstClient.SendAsync(Get("web.test"));
        var heldOnSecond = secondClient.SendAsync(Get("web.test"));
        var web = Named("web");
        await WaitUntilAsync(async () => await scaler.MetricAsync(web, "http_web_concurrency") == 2, "the scaler reports both held requests");
        Assert.False(heldOnFirst.IsCompleted);
        Assert.False(heldOnSecond.IsCompleted);

        // The pod turns ready: both requests are forwarded to it.
        await api.ReplaceAsync(Slices + "/app-1", ClusterObjects.Slice(SliceApi, "shop", "app-1", "app", upstream.Port, ready: ["127.0.0.1"]));
        foreach (var held in new[] { heldOnFirst, heldOnSecond })
        {
            using var response = await held.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("pod-a", await response.Content.ReadAsStringAsync());
        }

        await WaitUntilAsync(async () => await scaler.MetricAsync(web, "http_web_concurrency") == 0, "the scaler sees the requests finish");

        // An update moves the route to another host; a delete removes it everywhere.
        await api.ReplaceAsync(Routes + "/web", ClusterObjects.Route("shop", "web", "shop.test"));
        await WaitForStatusAsync(firstClient, "shop.test", HttpStatusCode.OK);
        await WaitForStatusAsync(secondClient, "shop.test", HttpStatusCode.OK);
        await WaitForStatusAsync(firstClient, "web.test", HttpStatusCode.NotFound);

        // The API server restarts (watches break, etcd keeps the data): routes stay served, and changes made after
        // the restart arrive.
        await api.CreateAsync(Routes, ClusterObjects.Route("shop", "api", "api.test"));
        await WaitForStatusAsync(firstClient, "api.test", HttpStatusCode.OK);
        await api.RestartAsync();
        using (var during = await firstClient.SendAsync(Get("shop.test")))
        {
            Assert.Equal(HttpStatusCode.OK, during.StatusCode);
        }

        await api.CreateAsync(Routes, ClusterObjects.Route("shop", "late", "late.test"));
        await WaitForStatusAsync(firstClient, "late.test", HttpStatusCode.OK);
        await WaitForStatusAsync(secondClient, "late.test", HttpStatusCode.OK);
        await WaitUntilAsync(async () => await scaler.MetricAsync(Named("late"), "http_late_concurrency") == 0, "the scaler knows the route created after the restart");

        Assert.True(await api.DeleteAsync(Routes + "/web"));
        await WaitForStatusAsync(firstClient, "shop.test", HttpStatusCode.NotFound);
        await WaitForStatusAsync(secondClient, "shop.test", HttpStatusCode.NotFound);
        await WaitUntilAsync(async () =>
        {
            try
            {
                await scaler.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = web, MetricName = "http_web_concurrency" });
                return false;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
            {
                return true;
            }
        }, "the scaler no longer knows the deleted route");
    }

    private InterceptorProcess StartInterceptor(string directory, string address, int adminPort) =>
        InterceptorProcess.Start(directory, [], new Dictionary<string, string>
        {
            ["UPDRAFT_MODE"] = "kubernetes",
            ["UPDRAFT_KUBECONFIG"] = api.Kubeconfig,
            ["UPDRAFT_BIND_ADDRESS"] = address,
            ["KEDA_HTTP_ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
            ["UPDRAFT_KUBE_RETRY_MAX"] = "500ms",
        });

    private static async Task WaitUntilReadyAsync(string address, int adminPort)
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://{address}:{adminPort}"), Timeout = TimeSpan.FromSeconds(5) };
        await WaitUntilAsync(async () =>
        {
            try
            {
                using var response = await admin.GetAsync("/readyz");
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, $"the interceptor on {address} is ready");
    }

    private static HttpClient Client(string address, int port) =>
        new(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://{address}:{port}"), Timeout = TimeSpan.FromSeconds(60) };

    private static HttpRequestMessage Get(string host)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/");
        request.Headers.Host = host;
        return request;
    }

    private static Task WaitForStatusAsync(HttpClient client, string host, HttpStatusCode status) =>
        WaitUntilAsync(async () =>
        {
            using var response = await client.SendAsync(Get(host));
            return response.StatusCode == status;
        }, $"{host} answers {(int)status}");

    private static ScaledObjectRef Named(string route)
    {
        var reference = Ref(route + "-so", ("interceptorRoute", route));
        reference.Namespace = "shop";
        return reference;
    }
}
