using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Routes;
using Updraft.Kubernetes.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Kubernetes.Tests.Routes;

/// <summary>The route scenarios on the fake, plus a resource that fails or is not served.</summary>
public sealed class KubernetesRoutesFakeServerTests : KubernetesRoutesScenarios
{
    private static readonly string HttpScaledObjects = ApiResource.HttpScaledObjects.Path(null);

    private FakeApiServer Server => ((FakeCluster)Cluster).Server;

    private protected override async Task<ITestCluster> StartClusterAsync() => await FakeCluster.StartAsync();

    [Fact]
    public async Task RunAsync_OneResourceNotYetListed_NoBuildUntilBothAre()
    {
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute("shop", "new", "new.example.com"));
        await Cluster.PutAsync(ApiResource.HttpScaledObjects, KubeObjects.HttpScaledObject("shop", "old", "old.example.com"));
        Server.Failing[HttpScaledObjects] = 500;
        await using var routes = new RunningRoutes(new(Client, "shop", TimeProvider.System, Loggers, Fast));

        await routes.Routes.InterceptorRoutes.Synced.WithinTimeout();
        await Eventually.TrueAsync(() => routes.Routes.HttpScaledObjects.Failures >= 2, () => "the HTTPScaledObject list failed twice");
        Assert.False(routes.Routes.Synced.IsCompleted);
        Assert.Empty(routes.Builds);
        Assert.Equal(0, routes.Routes.Builds);

        Server.Failing.TryRemove(HttpScaledObjects, out _);
        await routes.Routes.Synced.WithinTimeout();
        Assert.Equal(["shop/new", "shop/old"], routes.Builds.First().Routes.Select(r => r.Key));
    }

    [Fact]
    public async Task RunAsync_HttpScaledObjectsNotServed_InterceptorRoutesStillBuild()
    {
        Server.Unserved[HttpScaledObjects] = true;
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute("shop", "app", "app.example.com"));
        await using var routes = await StartAsync("shop");

        Assert.Equal(["shop/app"], routes.Latest!.Routes.Select(r => r.Key));
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute("shop", "more", "more.example.com"));
        await Eventually.TrueAsync(() => routes.Route("shop/more") is not null, () => "a later InterceptorRoute built");

        // Installing the CRD later brings its objects in.
        await Cluster.PutAsync(ApiResource.HttpScaledObjects, KubeObjects.HttpScaledObject("shop", "legacy", "legacy.example.com"));
        Server.Unserved.TryRemove(HttpScaledObjects, out _);
        await Eventually.TrueAsync(() => routes.Route("shop/legacy") is not null, () => "the HTTPScaledObject built once served");
    }

    [Fact]
    public async Task RunAsync_RejectedRoute_IsLoggedOncePerResourceVersion()
    {
        var loggers = new RecordingLoggers();
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute("shop", "bad", "a.*.com"));
        await using var routes = await StartAsync("shop", loggers);

        for (var i = 0; i < 3; i++)
        {
            await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute("shop", "good" + i, $"good{i}.example.com"));
        }

        await Eventually.TrueAsync(() => routes.Route("shop/good2") is not null, () => "later builds done");
        Assert.Single(loggers.Rejections);
        Assert.Contains("shop/bad", loggers.Rejections.Single(), StringComparison.Ordinal);

        // A new version of the still-broken object is judged, and reported, afresh.
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute("shop", "bad", "b.*.com"));
        await Eventually.TrueAsync(() => loggers.Rejections.Count == 2, () => $"{loggers.Rejections.Count} rejections logged");
        Assert.Contains("b.*.com", loggers.Rejections.Last(), StringComparison.Ordinal);
    }

    /// <summary>Keeps the messages of "route rejected" log entries (event 4101).</summary>
    private sealed class RecordingLoggers : ILoggerFactory, ILogger
    {
        public ConcurrentQueue<string> Rejections { get; } = new();

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Id == 4101)
            {
                Rejections.Enqueue(formatter(state, exception));
            }
        }

        public void Dispose()
        {
        }
    }

    [Fact]
    public async Task RunAsync_ConsumerThrowsOnABuild_WatchingGoesOnAndTheNextChangeBuilds()
    {
        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute("shop", "first", "first.example.com"));
        var routes = new KubernetesRoutes(Client, "shop", TimeProvider.System, Loggers, Fast);
        var builds = new ConcurrentQueue<RouteBuild>();
        var calls = 0;
        routes.Built = build =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                throw new InvalidOperationException("a defect in the consumer");
            }

            builds.Enqueue(build);
        };
        await using var runner = Runner.Start(routes.RunAsync);
        await Eventually.TrueAsync(() => Volatile.Read(ref calls) >= 1, () => "the first build was handed over");

        await Cluster.PutAsync(ApiResource.InterceptorRoutes, KubeObjects.InterceptorRoute("shop", "second", "second.example.com"));
        await Eventually.TrueAsync(() => builds.Any(b => b.Routes.Any(r => r.Key == "shop/second")), () => "the next change is built");
        Assert.Equal(["shop/first", "shop/second"], builds.Last().Routes.Select(r => r.Key));
    }
}
