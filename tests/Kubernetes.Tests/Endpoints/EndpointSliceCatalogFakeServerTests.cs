using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Kubernetes.Tests.Endpoints;

/// <summary>The catalog scenarios on the fake (discovery.k8s.io/v1), plus version discovery and re-list faults.</summary>
public sealed class EndpointSliceCatalogFakeServerTests : EndpointSliceCatalogScenarios
{
    private FakeApiServer Server => ((FakeCluster)Cluster).Server;

    private protected override async Task<ITestCluster> StartClusterAsync() => await FakeCluster.StartAsync();

    [Fact]
    public async Task RunAsync_ServerListsV1_WatchesV1()
    {
        Server.DiscoveryVersions = ["v1beta1", "v1"];
        await PutSliceAsync("shop", "app-1", "app", ("10.0.0.1", true));
        await using var catalog = await StartAsync("shop");

        Assert.Equal(ApiResource.EndpointSlicesV1, catalog.Catalog.Resource);
        Assert.True(catalog.Catalog.Get("shop/app").Ready);
        Assert.Contains(Server.Requests, r => r.StartsWith("/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices?", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_ServerListsOnlyV1Beta1_WatchesV1Beta1()
    {
        Server.DiscoveryVersions = ["v1beta1"];
        // A v1 slice the server would not serve to this client, to show which collection is read.
        Server.Upsert(ApiResource.EndpointSlicesV1.Path(null), KubeObjects.Slice(ApiResource.EndpointSlicesV1, "shop", "v1-slice", "v1only", [("10.0.0.9", true)], ("http", 8080)));
        await PutSliceAsync("shop", "app-1", "app", ("10.0.0.1", true));
        await using var catalog = await StartAsync("shop");

        Assert.Equal(ApiResource.EndpointSlicesV1Beta1, catalog.Catalog.Resource);
        Assert.Equal(["shop/app"], catalog.Catalog.Services.Keys);
        Assert.DoesNotContain(Server.Requests, r => r.StartsWith("/apis/discovery.k8s.io/v1/", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RunAsync_DiscoveryFailsAtFirst_RetriesAndSyncs()
    {
        await PutSliceAsync("shop", "app-1", "app", ("10.0.0.1", true));
        Server.FailNext(2, 503);
        await using var catalog = await StartAsync("shop");

        Assert.True(catalog.Catalog.Get("shop/app").Ready);
        Assert.Equal(3, Server.Requests.Count(r => r == "/apis/discovery.k8s.io"));
    }

    [Fact]
    public async Task RunAsync_SliceDeletedWhileDisconnectedAndHistoryExpired_RelistReportsServiceEmpty()
    {
        await PutSliceAsync("shop", "app-1", "app", ("10.0.0.1", true));
        await PutSliceAsync("shop", "other-1", "other", ("10.0.0.2", true));
        await using var catalog = await StartAsync("shop");
        await Eventually.TrueAsync(() => Server.OpenWatches == 1, () => "watching");

        Server.FailNext(3);
        Server.ExpireWatches();
        await Eventually.TrueAsync(() => Server.Requests.Count(r => !r.Contains("watch=true", StringComparison.Ordinal) && r.Contains("endpointslices", StringComparison.Ordinal)) >= 2, () => "re-list attempted");
        Server.Delete(Cluster.EndpointSlices.Path(null), "shop", "app-1");

        // The catalog changes first, then the change is reported: wait for the report.
        await Eventually.TrueAsync(() => !catalog.Catalog.Get("shop/app").Ready && !catalog.ChangesOf("shop/app")[^1].Ready, () => "app reported empty after the re-list");
        Assert.Equal(["shop/other"], catalog.Catalog.Services.Keys);
        // The Service whose slices did not change is not reported again by the re-list.
        Assert.Single(catalog.ChangesOf("shop/other"));
    }
}
