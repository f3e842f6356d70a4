using System.Collections.Concurrent;
using Updraft.Kubernetes.Endpoints;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Tests.Infrastructure;

namespace Updraft.Kubernetes.Tests.Endpoints;

/// <summary>
/// The catalog against a server: each server's EndpointSlice version (v1 on the fake, v1beta1 on the real v1.20),
/// per-Service merging, and change reports only when a Service's merged state changed.
/// </summary>
public abstract class EndpointSliceCatalogScenarios : ClusterTests
{
    [Fact]
    public async Task RunAsync_SliceReadinessChanges_ServiceFlipsBothWays()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await Cluster.PutAsync(ApiResource.Services, KubeObjects.Service(ns, "app"));
        await PutSliceAsync(ns, "app-1", "app", ("10.0.0.1", false));
        await using var catalog = await StartAsync(ns);

        Assert.Equal(Cluster.EndpointSlices, catalog.Catalog.Resource);
        Assert.False(catalog.Catalog.Get($"{ns}/app").Ready);

        await PutSliceAsync(ns, "app-1", "app", ("10.0.0.1", true));
        await Eventually.TrueAsync(() => catalog.Catalog.Get($"{ns}/app").Ready, () => "ready");
        Assert.Equal([new PodAddress("10.0.0.1", 8080)], catalog.Catalog.Get($"{ns}/app").AddressesByPort["http"]);

        await PutSliceAsync(ns, "app-1", "app", ("10.0.0.1", false));
        await Eventually.TrueAsync(() => !catalog.Catalog.Get($"{ns}/app").Ready, () => "not ready again");
        Assert.Equal([false, true, false], catalog.ChangesOf($"{ns}/app").Select(e => e.Ready));
    }

    [Fact]
    public async Task RunAsync_ModifiedSliceWithSameEndpoints_ReportsNoChange()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await PutSliceAsync(ns, "app-1", "app", ("10.0.0.1", true), ("10.0.0.2", true));
        await PutSliceAsync(ns, "marker-1", "marker", ("10.0.0.9", true));
        await using var catalog = await StartAsync(ns);
        Assert.Single(catalog.ChangesOf($"{ns}/app"));

        // A new label and a reordering of the same endpoints: a MODIFIED event, but the same merged Service.
        await PutSliceAsync(ns, "app-1", "app", [("10.0.0.2", true), ("10.0.0.1", true)], ("zone", "b"));
        await PutSliceAsync(ns, "marker-1", "marker", ("10.0.0.9", true), ("10.0.0.8", true));
        await Eventually.TrueAsync(() => catalog.ChangesOf($"{ns}/marker").Count == 2, () => "the later marker change seen");

        Assert.Single(catalog.ChangesOf($"{ns}/app"));
    }

    [Fact]
    public async Task RunAsync_SliceRelabelledToAnotherService_MovesBetweenServices()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await PutSliceAsync(ns, "slice", "before", ("10.0.0.1", true));
        await using var catalog = await StartAsync(ns);
        Assert.True(catalog.Catalog.Get($"{ns}/before").Ready);

        await PutSliceAsync(ns, "slice", "after", ("10.0.0.1", true));
        await Eventually.TrueAsync(() => catalog.Catalog.Get($"{ns}/after").Ready, () => "the new Service is ready");

        Assert.False(catalog.Catalog.Get($"{ns}/before").Ready);
        Assert.Equal([$"{ns}/after"], catalog.Catalog.Services.Keys);
        var emptied = catalog.ChangesOf($"{ns}/before")[^1];
        Assert.False(emptied.Ready);
        Assert.Empty(emptied.AddressesByPort);
    }

    [Fact]
    public async Task RunAsync_SlicesDeletedOneByOne_MergeShrinksThenServiceIsEmpty()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await PutSliceAsync(ns, "app-1", "app", ("10.0.0.1", true));
        await PutSliceAsync(ns, "app-2", "app", ("10.0.0.2", true), ("10.0.0.3", false));
        await using var catalog = await StartAsync(ns);
        Assert.Equal(["10.0.0.1", "10.0.0.2"], catalog.Catalog.Get($"{ns}/app").AddressesByPort["http"].Select(a => a.Ip));

        await Cluster.DeleteAsync(Cluster.EndpointSlices, ns, "app-1");
        await Eventually.TrueAsync(() => catalog.Catalog.Get($"{ns}/app").AddressesByPort["http"].Length == 1, () => "one slice left");
        Assert.Equal("10.0.0.2", catalog.Catalog.Get($"{ns}/app").AddressesByPort["http"][0].Ip);

        await Cluster.DeleteAsync(Cluster.EndpointSlices, ns, "app-2");
        await Eventually.TrueAsync(() => catalog.ChangesOf($"{ns}/app").Count == 3, () => "the last deletion reported");
        var last = catalog.ChangesOf($"{ns}/app")[^1];
        Assert.False(last.Ready);
        Assert.Empty(last.AddressesByPort);
        Assert.Empty(catalog.Catalog.Services);
        Assert.False(catalog.Catalog.Get($"{ns}/app").Ready);
    }

    [Fact]
    public async Task RunAsync_LastSliceWithoutTcpPortsDeleted_ServiceLeavesTheCatalog()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        var udpOnly = KubeObjects.Slice(Cluster.EndpointSlices, ns, "dns-1", "dns", [("10.0.0.1", true)], ("dns", 53));
        udpOnly["ports"]![0]!["protocol"] = "UDP";
        await Cluster.PutAsync(Cluster.EndpointSlices, udpOnly);
        await using var catalog = await StartAsync(ns);
        Assert.Equal([$"{ns}/dns"], catalog.Catalog.Services.Keys);
        Assert.False(catalog.Catalog.Get($"{ns}/dns").Ready);

        await Cluster.DeleteAsync(Cluster.EndpointSlices, ns, "dns-1");
        await PutSliceAsync(ns, "marker-1", "marker", ("10.0.0.9", true));
        await Eventually.TrueAsync(() => catalog.Catalog.Get($"{ns}/marker").Ready, () => "the later marker seen");

        Assert.Equal([$"{ns}/marker"], catalog.Catalog.Services.Keys);
    }

    [Fact]
    public async Task RunAsync_SlicesOfUnknownServicesOrWithoutServiceLabel_AreHandled()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await using var catalog = await StartAsync(ns);

        // No Service object and no route for "ghost"; "orphan" names no Service at all.
        await PutSliceAsync(ns, "orphan", null, ("10.0.0.5", true));
        await PutSliceAsync(ns, "ghost-1", "ghost", ("10.0.0.6", true));
        await Eventually.TrueAsync(() => catalog.Catalog.Get($"{ns}/ghost").Ready, () => "ghost tracked");

        Assert.Equal([$"{ns}/ghost"], catalog.Catalog.Services.Keys);
        Assert.Equal([$"{ns}/ghost"], catalog.Changes.Select(c => c.Key));
    }

    private protected async Task PutSliceAsync(string ns, string name, string? service, params (string Ip, bool? Ready)[] endpoints) =>
        await PutSliceAsync(ns, name, service, endpoints, []);

    private protected async Task PutSliceAsync(string ns, string name, string? service, (string Ip, bool? Ready)[] endpoints, params (string Key, string Value)[] labels)
    {
        var slice = KubeObjects.Slice(Cluster.EndpointSlices, ns, name, service, endpoints, ("http", 8080));
        foreach (var (key, value) in labels)
        {
            slice["metadata"]!["labels"]![key] = value;
        }

        await Cluster.PutAsync(Cluster.EndpointSlices, slice);
    }

    /// <summary>A running catalog of <paramref name="ns"/>, synced.</summary>
    private protected async Task<RunningCatalog> StartAsync(string? ns)
    {
        var catalog = new EndpointSliceCatalog(Client, ns, null, TimeProvider.System, Loggers, Fast);
        var running = new RunningCatalog(catalog);
        await catalog.Synced.WithinTimeout();
        return running;
    }

    private protected sealed class RunningCatalog : IAsyncDisposable
    {
        private readonly Runner _runner;

        public RunningCatalog(EndpointSliceCatalog catalog)
        {
            Catalog = catalog;
            catalog.ServiceChanged = Changes.Enqueue;
            _runner = Runner.Start(catalog.RunAsync);
        }

        public EndpointSliceCatalog Catalog { get; }

        /// <summary>Every ServiceChanged report, in order.</summary>
        public ConcurrentQueue<ServiceEndpoints> Changes { get; } = new();

        public List<ServiceEndpoints> ChangesOf(string key) => Changes.Where(c => c.Key == key).ToList();

        public ValueTask DisposeAsync() => _runner.DisposeAsync();
    }
}
