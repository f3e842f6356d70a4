using System.Net;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Kubernetes.Model;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Interceptor.Tests.Kubernetes.ClusterObjects;

namespace Updraft.Interceptor.Tests.Kubernetes;

/// <summary>
/// The Kubernetes-mode scenarios on the shared real kube-apiserver (v1.20: EndpointSlices only as
/// <c>discovery.k8s.io/v1beta1</c>, the chart's CRDs installed). The server outlives each test and namespaces cannot
/// be deleted, so each test writes into a new namespace and its interceptor watches only that one.
/// </summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class ClusterModeRealServerTests(RealApiServer server) : ClusterModeScenarios
{
    private protected override bool WatchTestNamespaceOnly => true;

    private protected override async Task<ITestCluster> StartClusterAsync()
    {
        await server.ApplyCrdsAsync();
        return new RealCluster(server);
    }

    [Fact]
    public async Task RealServer_Restarts_RoutesKeepServingAndLaterChangesArrive()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        await PutAsync(ApiResource.Services, Service(Ns, "app", ("http", 80)));
        await PutSliceAsync("app-1", "app", upstream.Port, ready: ["127.0.0.1"]);
        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "web", "web.test"));
        await using var interceptor = await StartInterceptorAsync();
        using (var before = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        // kube-apiserver stops (every watch breaks) and starts again on the same port with the same etcd; requests keep
        // being answered from what the interceptor already has. The statuses are checked once the restart is over, so a
        // failure never leaves the shared server half-restarted.
        var statuses = new List<HttpStatusCode>();
        var restart = server.RestartAsync();
        while (!restart.IsCompleted)
        {
            using var response = await interceptor.GetAsync("web.test", "/");
            statuses.Add(response.StatusCode);
            await Task.WhenAny(restart, Task.Delay(20));
        }

        await restart;
        Assert.NotEmpty(statuses);
        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));

        await PutAsync(ApiResource.InterceptorRoutes, Route(Ns, "late", "late.test"));
        await WaitForStatusAsync(interceptor, "late.test", HttpStatusCode.OK, "a route created after the restart serves");
        using (var after = await interceptor.GetAsync("web.test", "/"))
        {
            Assert.Equal(HttpStatusCode.OK, after.StatusCode);
            Assert.Equal("pod-a", await after.Content.ReadAsStringAsync());
        }
    }
}
