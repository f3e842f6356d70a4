using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Tests.Infrastructure;
using Updraft.Kubernetes.Watching;
using Updraft.Shared.Crds;

namespace Updraft.Kubernetes.Tests.Watching;

/// <summary>List-then-watch behaviour that any API server shows; run against the fake and the real server.</summary>
public abstract class ResourceWatchScenarios : ClusterTests
{
    [Fact]
    public async Task RunAsync_ObjectsAddedModifiedDeleted_ItemsFollowInOrder()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "first"));
        var watch = Watch<Service>(ApiResource.Services, ns);
        var changes = new ConcurrentQueue<WatchChange<Service>>();
        _ = watch.Subscribe(changes.Enqueue);
        await using var running = Runner.Start(watch.RunAsync);

        await watch.Synced.WithinTimeout();
        Assert.Equal([$"{ns}/first"], watch.Items.Keys);

        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "second"));
        await Eventually.TrueAsync(() => watch.Items.ContainsKey($"{ns}/second"), () => "second added");
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "first", ("tier", "web")));
        await Eventually.TrueAsync(() => Label(watch.Items[$"{ns}/first"], "tier") == "web", () => "first modified");
        await Cluster.DeleteAsync(ApiResource.Services, ns, "second");
        await Eventually.TrueAsync(() => !watch.Items.ContainsKey($"{ns}/second"), () => "second deleted");

        Assert.Equal([$"{ns}/first"], watch.Items.Keys);
        Assert.Equal(80, watch.Items[$"{ns}/first"].Spec!.Ports![0].Port);
        Assert.Equal(1, watch.Lists);
        Assert.Equal(0, watch.Failures);
        Assert.Collection(
            changes,
            c => Assert.Equal(WatchChangeKind.Reset, c.Kind),
            c => Assert.Equal((WatchChangeKind.Upsert, $"{ns}/second", true), (c.Kind, c.Key, c.Previous is null)),
            c =>
            {
                Assert.Equal((WatchChangeKind.Upsert, $"{ns}/first"), (c.Kind, c.Key));
                Assert.Null(Label(c.Previous!, "tier"));
                Assert.Equal("web", Label(c.Value!, "tier"));
            },
            c => Assert.Equal((WatchChangeKind.Delete, $"{ns}/second", "second"), (c.Kind, c.Key, c.Value!.Metadata!.Name)));
    }

    [Fact]
    public async Task RunAsync_NamespaceScoped_SeesOnlyItsNamespace()
    {
        var mine = await Cluster.CreateNamespaceAsync();
        var other = await Cluster.CreateNamespaceAsync();
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(mine, "before"));
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(other, "before"));
        var watch = Watch<Service>(ApiResource.Services, mine);
        await using var running = Runner.Start(watch.RunAsync);
        await watch.Synced.WithinTimeout();

        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(other, "after"));
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(mine, "after"));
        await Eventually.TrueAsync(() => watch.Items.ContainsKey($"{mine}/after"), () => "the last write seen");

        Assert.Equal([$"{mine}/after", $"{mine}/before"], watch.Items.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RunAsync_LabelSelector_SeesOnlyMatchingObjectsAndObjectsMovingInAndOut()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "leaves", ("app", "shop")));
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "joins", ("app", "other")));
        var watch = Watch<Service>(ApiResource.Services, ns, labelSelector: "app=shop");
        await using var running = Runner.Start(watch.RunAsync);
        await watch.Synced.WithinTimeout();
        Assert.Equal([$"{ns}/leaves"], watch.Items.Keys);

        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "unlabelled"));
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "leaves", ("app", "other")));
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "joins", ("app", "shop")));
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "last", ("app", "shop")));
        await Eventually.TrueAsync(() => watch.Items.ContainsKey($"{ns}/last"), () => "the last write seen");

        Assert.Equal([$"{ns}/joins", $"{ns}/last"], watch.Items.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RunAsync_CustomResource_ItemsFollowCreateUpdateDelete()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        var watch = Watch<InterceptorRoute>(ApiResource.InterceptorRoutes, ns);
        await using var running = Runner.Start(watch.RunAsync);
        await watch.Synced.WithinTimeout();
        Assert.Empty(watch.Items);

        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute(ns, "shop", "shop.example.com"));
        await Eventually.TrueAsync(() => watch.Items.ContainsKey($"{ns}/shop"), () => "route created");
        var created = watch.Items[$"{ns}/shop"];
        Assert.Equal(("shop", 8080), (created.Spec!.Target!.Service, created.Spec.Target.Port));
        Assert.Equal(["shop.example.com"], created.Spec.Rules![0].Hosts!);
        Assert.Equal(10, created.Spec.ScalingMetric!.Concurrency!.TargetValue);
        Assert.NotNull(created.Metadata!.ResourceVersion);

        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute(ns, "shop", "store.example.com"));
        await Eventually.TrueAsync(() => watch.Items[$"{ns}/shop"].Spec!.Rules![0].Hosts![0] == "store.example.com", () => "route updated");
        Assert.NotEqual(created.Metadata.ResourceVersion, watch.Items[$"{ns}/shop"].Metadata!.ResourceVersion);

        await Cluster.DeleteAsync(ApiResource.InterceptorRoutes, ns, "shop");
        await Eventually.TrueAsync(() => watch.Items.IsEmpty, () => "route deleted");
        Assert.Equal(1, watch.Lists);
    }

    private protected ResourceWatch<T> Watch<T>(ApiResource resource, string? ns, string? labelSelector = null, WatchTuning? tuning = null, ILogger? logger = null)
        where T : class =>
        new(Client, resource, ns, labelSelector, TimeProvider.System, logger ?? Loggers.CreateLogger("watch"), tuning ?? Fast);

    private protected static string? Label(Service service, string key) =>
        service.Metadata?.Labels is { } labels && labels.TryGetValue(key, out var value) ? value : null;
}
