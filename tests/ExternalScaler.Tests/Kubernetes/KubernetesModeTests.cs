using System.Net;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Updraft.ExternalScaler.Hosting;
using Updraft.ExternalScaler.Http;
using Updraft.ExternalScaler.Routes;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Kubernetes;

/// <summary>
/// The scaler in Kubernetes mode against a fake API server: routes from InterceptorRoutes, interceptor replicas from
/// the admin Service's EndpointSlices (two fake replicas on 127.0.0.1 and 127.0.0.2 sharing one admin port).
/// </summary>
public sealed class KubernetesModeTests
{
    private const string Route = "default/app";

    private static readonly IPAddress First = IPAddress.Parse("127.0.0.1");
    private static readonly IPAddress Second = IPAddress.Parse("127.0.0.2");

    private static readonly ScaledObjectRef App = Ref("so", ("interceptorRoute", "app"));

    [Fact]
    public async Task GetMetricSpecAndGetMetrics_InterceptorRouteCreatedInCluster_AnswerWithTheRoutesMetric()
    {
        await using var cluster = await FakeCluster.StartAsync();
        var port = FreePort();
        await using var replica = await FakeInterceptor.StartAsync(First, port, stream: true);
        replica.Report(Route, concurrency: 3, requestCount: 0);
        cluster.UpsertSlice("admin-1", port, (First, true));
        await using var scaler = await cluster.StartScalerAsync(port);
        await WaitUntilAsync(() => Task.FromResult(scaler.Services.GetRequiredService<RouteCatalog>().Current.Loaded), "the routes are synced");
        var before = await Assert.ThrowsAsync<RpcException>(async () => await scaler.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = App }));

        cluster.UpsertRoute("app", concurrencyTarget: 7);
        await WaitUntilAsync(async () => (await scaler.Client.GetMetricSpecAsync(App)).MetricSpecs.Single().TargetSizeFloat == 7, "the route's target is served");
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 3, "the replica's count is served");
        var spec = await scaler.Client.GetMetricSpecAsync(App);
        var metrics = await scaler.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = App });

        Assert.Equal(StatusCode.NotFound, before.StatusCode);
        Assert.Equal("http_app_concurrency", spec.MetricSpecs.Single().MetricName);
        Assert.Equal(("http_app_concurrency", 3.0), (metrics.MetricValues.Single().MetricName, metrics.MetricValues.Single().MetricValueFloat));
    }

    [Fact]
    public async Task GetMetrics_TwoReplicasInTheAdminServicesSlice_SumsTheirStreamedCounts()
    {
        await using var cluster = await FakeCluster.StartAsync();
        await using var replicas = await StreamingReplicas.StartAsync(cluster);
        var (port, first, second) = (replicas.Port, replicas.First, replicas.Second);
        cluster.UpsertSlice("admin-1", port, (First, true), (Second, true));

        await using var scaler = await cluster.StartScalerAsync(port);
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 7, "both replicas are counted");

        Assert.Equal([$"127.0.0.1:{port}", $"127.0.0.2:{port}"], Addresses(scaler));
        Assert.Equal((1, 1), (first.OpenStreams, second.OpenStreams));
        Assert.Equal(0, second.Polls);
    }

    [Fact]
    public async Task GetMetrics_ReplicaEndpointBecomesNotReady_DroppedAndItsStreamClosed()
    {
        await using var cluster = await FakeCluster.StartAsync();
        await using var replicas = await StreamingReplicas.StartAsync(cluster);
        var (port, first, second) = (replicas.Port, replicas.First, replicas.Second);
        cluster.UpsertSlice("admin-1", port, (First, true), (Second, true));
        await using var scaler = await cluster.StartScalerAsync(port);
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 7, "both replicas are counted");

        cluster.UpsertSlice("admin-1", port, (First, true), (Second, false));
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 3, "only the ready replica is counted");
        await WaitUntilAsync(() => Task.FromResult(second.OpenStreams == 0), "the dropped replica's stream is closed");

        Assert.Equal([$"127.0.0.1:{port}"], Addresses(scaler));
        Assert.Equal(1, first.OpenStreams);
        Assert.Equal(1, second.Streams);
    }

    [Fact]
    public async Task GetMetrics_SliceOfAReplicaDeleted_DroppedAndItsStreamClosed()
    {
        await using var cluster = await FakeCluster.StartAsync();
        await using var replicas = await StreamingReplicas.StartAsync(cluster);
        var (port, first, second) = (replicas.Port, replicas.First, replicas.Second);
        cluster.UpsertSlice("admin-1", port, (First, true));
        cluster.UpsertSlice("admin-2", port, (Second, true));
        await using var scaler = await cluster.StartScalerAsync(port);
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 7, "both slices' replicas are counted");

        cluster.DeleteSlice("admin-2");
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 3, "the deleted slice's replica is no longer counted");
        await WaitUntilAsync(() => Task.FromResult(second.OpenStreams == 0), "its stream is closed");

        Assert.Equal([$"127.0.0.1:{port}"], Addresses(scaler));
        Assert.Equal(1, first.OpenStreams);
    }

    [Fact]
    public async Task GetMetrics_ReplicaAddedToTheSliceLater_SubscribedAndCounted()
    {
        await using var cluster = await FakeCluster.StartAsync();
        await using var replicas = await StreamingReplicas.StartAsync(cluster);
        var (port, first, second) = (replicas.Port, replicas.First, replicas.Second);
        cluster.UpsertSlice("admin-1", port, (First, true));
        await using var scaler = await cluster.StartScalerAsync(port);
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 3, "the first replica is counted");
        var streamsBefore = second.Streams;

        cluster.UpsertSlice("admin-1", port, (First, true), (Second, true));
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 7, "the added replica is counted");

        Assert.Equal(0, streamsBefore);
        Assert.Equal(1, second.OpenStreams);
        Assert.Equal(1, first.Streams);
    }

    [Fact]
    public async Task GetMetrics_ReplicaWithoutCountStream_PolledAtQueueAndSummed()
    {
        await using var cluster = await FakeCluster.StartAsync();
        var port = FreePort();
        await using var streaming = await FakeInterceptor.StartAsync(First, port, stream: true);
        await using var polled = await FakeInterceptor.StartAsync(Second, port);
        streaming.Report(Route, concurrency: 3, requestCount: 0);
        polled.Report(Route, concurrency: 5, requestCount: 0);
        cluster.UpsertRoute("app");
        cluster.UpsertSlice("admin-1", port, (First, true), (Second, true));

        await using var scaler = await cluster.StartScalerAsync(port);
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 8, "both replicas are counted");
        var polls = Volatile.Read(ref polled.Polls);
        await WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref polled.Polls) >= polls + 3), "the replica keeps being polled");

        var replicas = scaler.Services.GetRequiredService<InterceptorFleet>().Replicas;
        Assert.True(replicas.Single(r => r.Address == streaming.Address).Streaming);
        Assert.False(replicas.Single(r => r.Address == polled.Address).Streaming);
    }

    [Fact]
    public async Task GetMetrics_RouteWithBothPortAndPortName_SkippedOthersServedAndCounted()
    {
        await using var cluster = await FakeCluster.StartAsync();
        var port = FreePort();
        await using var replica = await FakeInterceptor.StartAsync(First, port, stream: true);
        replica.Report(Route, concurrency: 2, requestCount: 0);
        cluster.UpsertRoute("app");
        cluster.UpsertRoute("broken", portName: "http");
        cluster.UpsertSlice("admin-1", port, (First, true));

        await using var scaler = await cluster.StartScalerAsync(port);
        await WaitUntilAsync(async () => await scaler.MetricAsync(App, "http_app_concurrency") == 2, "the valid route is served");
        var broken = await Assert.ThrowsAsync<RpcException>(async () =>
            await scaler.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = Ref("so", ("interceptorRoute", "broken")) }));
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(new Uri($"http://127.0.0.1:{scaler.MetricsPort}/metrics"));

        Assert.Equal(StatusCode.NotFound, broken.StatusCode);
        Assert.Contains("default/broken", broken.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(["default/app"], scaler.Services.GetRequiredService<RouteCatalog>().Current.Routes.Select(r => r.Key));
        Assert.Contains("updraft_scaler_route_rejections_total{kind=\"InterceptorRoute\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("updraft_scaler_routes_rejected 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Readiness_UntilRoutesAndEndpointSlicesAreListed_NotServing()
    {
        await using var cluster = await FakeCluster.StartAsync();
        var port = FreePort();
        cluster.UpsertRoute("app");
        cluster.Api.Hold(FakeCluster.InterceptorRoutes);
        cluster.Api.Hold(FakeCluster.EndpointSlices);
        await using var scaler = await cluster.StartScalerAsync(port);
        var routesHeld = await ReadinessAsync(scaler);

        cluster.Api.Release(FakeCluster.InterceptorRoutes);
        await WaitUntilAsync(() => Task.FromResult(scaler.Services.GetRequiredService<RouteCatalog>().Current.Loaded), "the routes are synced");
        var slicesHeld = await ReadinessAsync(scaler);
        var addresses = scaler.Services.GetRequiredService<IInterceptorAddresses>();
        var listedWhileHeld = addresses.Synced;
        cluster.Api.Release(FakeCluster.EndpointSlices);
        await WaitUntilAsync(async () => await ReadinessAsync(scaler) == HealthCheckResponse.Types.ServingStatus.Serving, "readiness once both are listed");

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, routesHeld);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, slicesHeld);
        Assert.False(listedWhileHeld);
        Assert.True(addresses.Synced);
    }

    private static async Task<HealthCheckResponse.Types.ServingStatus> ReadinessAsync(ScalerHarness scaler) =>
        (await scaler.Health.CheckAsync(new HealthCheckRequest { Service = ScalerApplication.ReadinessService })).Status;

    private static string[] Addresses(ScalerHarness scaler) =>
        [.. scaler.Services.GetRequiredService<InterceptorFleet>().Replicas.Select(r => r.Address).Order(StringComparer.Ordinal)];

    /// <summary>Two streaming replicas on one admin port, reporting 3 and 4 requests in flight for the route, which the
    /// cluster holds; which EndpointSlices list them is up to each test.</summary>
    private sealed class StreamingReplicas : IAsyncDisposable
    {
        private StreamingReplicas(int port, FakeInterceptor first, FakeInterceptor second) => (Port, First, Second) = (port, first, second);

        public int Port { get; }

        public FakeInterceptor First { get; }

        public FakeInterceptor Second { get; }

        public static async Task<StreamingReplicas> StartAsync(FakeCluster cluster)
        {
            var port = FreePort();
            var first = await FakeInterceptor.StartAsync(KubernetesModeTests.First, port, stream: true);
            var second = await FakeInterceptor.StartAsync(KubernetesModeTests.Second, port, stream: true);
            first.Report(Route, concurrency: 3, requestCount: 0);
            second.Report(Route, concurrency: 4, requestCount: 0);
            cluster.UpsertRoute("app");
            return new StreamingReplicas(port, first, second);
        }

        public async ValueTask DisposeAsync()
        {
            await Second.DisposeAsync();
            await First.DisposeAsync();
        }
    }
}
