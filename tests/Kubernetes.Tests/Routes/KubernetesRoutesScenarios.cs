using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Routes;
using Updraft.Kubernetes.Tests.Infrastructure;
using Updraft.Shared.Crds;
using Updraft.Shared.Routes;

namespace Updraft.Kubernetes.Tests.Routes;

/// <summary>Routes built from InterceptorRoutes and HTTPScaledObjects as they change on a server (fake or real).</summary>
public abstract class KubernetesRoutesScenarios : ClusterTests
{
    [Fact]
    public async Task RunAsync_RoutesCreatedUpdatedDeleted_EachBuildReflectsThem()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute(ns, "app", "app.example.com"));
        await using var routes = await StartAsync(ns);
        Assert.Equal(["app.example.com"], routes.Route($"{ns}/app")!.Rules[0].Hosts);

        await Cluster.PutAsync(ApiResource.HttpScaledObjects, KubeObjects.HttpScaledObject(ns, "legacy", "legacy.example.com"));
        await Eventually.TrueAsync(() => routes.Route($"{ns}/legacy") is not null, () => "the HTTPScaledObject's route built");
        Assert.Equal(RouteSourceKind.HttpScaledObject, routes.Route($"{ns}/legacy")!.Source);

        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute(ns, "app", "new.example.com", path: "/v2"));
        await Eventually.TrueAsync(() => routes.Route($"{ns}/app")?.Rules[0].Hosts[0] == "new.example.com", () => "the update built");
        Assert.Equal(["v2"], routes.Route($"{ns}/app")!.Rules[0].Paths);

        await Cluster.DeleteAsync(ApiResource.HttpScaledObjects, ns, "legacy");
        await Eventually.TrueAsync(() => routes.Route($"{ns}/legacy") is null, () => "the deletion built");
        Assert.Equal([$"{ns}/app"], routes.Latest!.Routes.Select(r => r.Key));
        Assert.Empty(routes.Latest.Rejected);
    }

    [Fact]
    public async Task RunAsync_InterceptorRouteDeleted_HttpScaledObjectOfSameNameTakesOver()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute(ns, "app", "ir.example.com"));
        await Cluster.PutAsync(ApiResource.HttpScaledObjects, KubeObjects.HttpScaledObject(ns, "app", "so.example.com"));
        await using var routes = await StartAsync(ns);
        var first = Assert.Single(routes.Latest!.Routes);
        Assert.Equal((RouteSourceKind.InterceptorRoute, "ir.example.com"), (first.Source, first.Rules[0].Hosts[0]));

        await Cluster.DeleteAsync(ApiResource.InterceptorRoutes, ns, "app");
        await Eventually.TrueAsync(() => routes.Route($"{ns}/app")?.Source == RouteSourceKind.HttpScaledObject, () => "the HTTPScaledObject took over");

        Assert.Equal(["so.example.com"], routes.Route($"{ns}/app")!.Rules[0].Hosts);
    }

    [Fact]
    public async Task RunAsync_ObjectsOfBothKindsBeforeStart_FirstBuildHasBoth()
    {
        var ns = await Cluster.CreateNamespaceAsync();
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute(ns, "new", "new.example.com"));
        await Cluster.PutAsync(ApiResource.HttpScaledObjects, KubeObjects.HttpScaledObject(ns, "old", "old.example.com"));
        await using var routes = await StartAsync(ns);

        var first = routes.Builds.First();
        Assert.Equal([$"{ns}/new", $"{ns}/old"], first.Routes.Select(r => r.Key));
        Assert.Equal(1, routes.Routes.InterceptorRoutes.Lists);
        Assert.Equal(1, routes.Routes.HttpScaledObjects.Lists);
    }

    [Fact]
    public async Task RunAsync_RouteOnlyOurRulesReject_IsReportedUntilFixed()
    {
        // A v1.20 server has no CEL, so it stores a target with both port and portName; current clusters refuse it.
        var ns = await Cluster.CreateNamespaceAsync();
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute(ns, "bad", "bad.example.com", port: 8080, portName: "http"));
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute(ns, "good", "good.example.com"));
        await using var routes = await StartAsync(ns);

        var rejected = Assert.Single(routes.Latest!.Rejected);
        Assert.Equal((InterceptorRoute.KindValue, $"{ns}/bad"), (rejected.Kind, rejected.Key));
        Assert.NotNull(rejected.ResourceVersion);
        Assert.Contains(rejected.Problems, p => p.Contains("exactly one of 'port' or 'portName' must be set", StringComparison.Ordinal));
        Assert.Equal([$"{ns}/good"], routes.Latest.Routes.Select(r => r.Key));

        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute(ns, "bad", "bad.example.com", port: null, portName: "http"));
        await Eventually.TrueAsync(() => routes.Route($"{ns}/bad") is not null, () => "the fixed route built");
        Assert.Empty(routes.Latest.Rejected);
    }

    /// <summary>Routes of <paramref name="ns"/>, running and synced.</summary>
    private protected async Task<RunningRoutes> StartAsync(string ns, ILoggerFactory? loggers = null)
    {
        var running = new RunningRoutes(new KubernetesRoutes(Client, ns, TimeProvider.System, loggers ?? Loggers, Fast));
        await running.Routes.Synced.WithinTimeout();
        return running;
    }

    private protected sealed class RunningRoutes : IAsyncDisposable
    {
        private readonly Runner _runner;
        private RouteBuild? _latest;

        public RunningRoutes(KubernetesRoutes routes)
        {
            Routes = routes;
            routes.Built = build =>
            {
                Builds.Enqueue(build);
                Volatile.Write(ref _latest, build);
            };
            _runner = Runner.Start(routes.RunAsync);
        }

        public KubernetesRoutes Routes { get; }

        public ConcurrentQueue<RouteBuild> Builds { get; } = new();

        public RouteBuild? Latest => Volatile.Read(ref _latest);

        /// <summary>The route with this key in the latest build, if any.</summary>
        public RouteDefinition? Route(string key) => Latest?.Routes.FirstOrDefault(r => r.Key == key);

        public ValueTask DisposeAsync() => _runner.DisposeAsync();
    }
}
