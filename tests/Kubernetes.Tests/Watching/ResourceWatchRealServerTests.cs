using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Kubernetes.Tests.Watching;

/// <summary>The shared scenarios against a real kube-apiserver, plus what only a real server does (paged lists).</summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class ResourceWatchRealServerTests(RealApiServer server) : ResourceWatchScenarios
{
    private protected override async Task<ITestCluster> StartClusterAsync()
    {
        await server.ApplyCrdsAsync();
        return new RealCluster(server);
    }

    [Fact]
    public async Task RunAsync_MoreObjectsThanPageSize_ListsEveryPage()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        for (var i = 0; i < 5; i++)
        {
            await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "s" + i));
        }

        var watch = Watch<Service>(ApiResource.Services, ns, tuning: Fast with { PageSize = 2 });
        await using var running = Runner.Start(watch.RunAsync);
        await watch.Synced.WithinTimeout();

        Assert.Equal(5, watch.Items.Count);
        Assert.Equal(1, watch.Lists);
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "s5"));
        await Eventually.TrueAsync(() => watch.Items.Count == 6, () => $"{watch.Items.Count} items");
    }
}
