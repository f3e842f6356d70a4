using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Updraft.ExternalScaler.Hosting;
using Updraft.ExternalScaler.Http;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Http;

/// <summary>Interceptor replicas that misbehave: the others keep being counted and no RPC ever waits on them.</summary>
public sealed class InterceptorFaultTests
{
    private const string Host = "app.example.com";

    private static readonly Dictionary<string, string?> FastTicks = new()
    {
        ["KEDA_HTTP_QUEUE_TICK_DURATION"] = "100ms",
        ["KEDA_HTTP_SCALER_STREAM_INTERVAL_MS"] = "50",
    };

    [Fact]
    public async Task StuckAndGarbageReplicas_GoodReplicaStillCountedAndRpcsAnswerAtOnce()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context => await release.Task.WaitAsync(context.RequestAborted));
        using var silent = new SilentServer();
        await using var garbage = await FakeInterceptor.StartAsync();
        garbage.ReportRaw("this is { not json");
        await using var harness = await StartAsync(
            RoutesYaml.InterceptorRoute("app", upstream.Port, Host),
            extraInterceptorAddresses: [silent.Address, garbage.Address],
            settings: FastTicks);
        var reference = Ref("so", ("interceptorRoute", "app"));
        using var client = harness.ProxyClient();
        var pending = Enumerable.Range(0, 3).Select(_ => client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = Host } })).ToArray();

        await WaitUntilAsync(async () => await harness.MetricAsync(reference, "http_app_concurrency") == 3, "the good replica's 3 requests are counted");
        await WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref garbage.Polls) >= 3), "the garbage replica is polled");
        for (var i = 0; i < 20; i++)
        {
            // A deadline far below the silent replica's timeouts: answers come from memory.
            var values = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference }, deadline: DateTime.UtcNow.AddSeconds(5));
            Assert.Equal(3, values.MetricValues.Single().MetricValueFloat);
        }

        var ready = await harness.Health.CheckAsync(new HealthCheckRequest { Service = ScalerApplication.ReadinessService });
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, ready.Status);
        Assert.Equal(3, harness.Aggregator.Current.Replicas);
        Assert.Equal(1, harness.Aggregator.Current.FreshReplicas);
        release.SetResult();
        foreach (var response in await Task.WhenAll(pending))
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task QueuePolling_CounterResetOnRestart_CountsFromZeroInsteadOfGoingNegative()
    {
        await using var fake = await FakeInterceptor.StartAsync();
        fake.Report("default/app", concurrency: 1, requestCount: 100);
        await using var harness = await StartAsync(
            RoutesYaml.InterceptorRoute("app", FreePort(), Host, "{requestRate: {targetValue: 10, window: 24h, granularity: 24h}}"),
            interceptors: 0,
            extraInterceptorAddresses: [fake.Address],
            settings: FastTicks);
        var reference = Ref("so", ("interceptorRoute", "app"));

        // The first report only sets the baseline: 100 requests since the replica started are not a burst now.
        await WaitUntilAsync(() => Task.FromResult(harness.Aggregator.Current.FreshReplicas == 1), "the fake replica is polled");
        Assert.Equal(0, await RateAsync(harness, reference));
        fake.Report("default/app", concurrency: 1, requestCount: 130);
        await WaitUntilAsync(async () => await RateAsync(harness, reference) == 30, "30 new requests are counted");
        fake.Report("default/app", concurrency: 0, requestCount: 5);
        await WaitUntilAsync(async () => await RateAsync(harness, reference) == 35, "the restarted replica's 5 requests are added");

        // Stays at 35: a reset is never a negative delta.
        await Task.Delay(300);
        Assert.Equal(35, await RateAsync(harness, reference));
    }

    [Fact]
    public async Task ReplicaDisappears_LastConcurrencyReplayedForTheLimitThenDropped()
    {
        await using var stays = await FakeInterceptor.StartAsync();
        var goes = await FakeInterceptor.StartAsync();
        stays.Report("default/app", concurrency: 2, requestCount: 2);
        goes.Report("default/app", concurrency: 3, requestCount: 3);
        // Well beyond the freshness limit (1 s here), so a loaded machine still sees several snapshots in between.
        var limit = TimeSpan.FromSeconds(5);
        await using var harness = await StartAsync(
            RoutesYaml.InterceptorRoute("app", FreePort(), Host),
            interceptors: 0,
            extraInterceptorAddresses: [stays.Address, goes.Address],
            settings: new Dictionary<string, string?>(FastTicks) { ["UPDRAFT_SCALER_REPLAY_LIMIT"] = "5s" });
        var reference = Ref("so", ("interceptorRoute", "app"));
        await WaitUntilAsync(async () => harness.Aggregator.Current.FreshReplicas == 2 && await harness.MetricAsync(reference, "http_app_concurrency") == 5, "both replicas are counted");

        await goes.DisposeAsync();
        // Silent for longer than the freshness limit (1 s here), so its last report no longer changes.
        await WaitUntilAsync(() => Task.FromResult(harness.Aggregator.Current.FreshReplicas == 1), "the stopped replica is no longer fresh");
        var lastReport = harness.Services.GetRequiredService<InterceptorFleet>().Replicas.Single(r => r.Address == goes.Address).Latest!.ReceivedAt;

        // Every snapshot from here on, judged by its own time: no timing assumption about when the test looks.
        var replayed = new List<int>();
        var dropped = new List<int>();
        var seen = DateTimeOffset.MinValue;
        await WaitUntilAsync(() =>
        {
            var snapshot = harness.Aggregator.Current;
            if (snapshot.At > seen)
            {
                seen = snapshot.At;
                (snapshot.At - lastReport <= limit ? replayed : dropped).Add(snapshot["default/app"].Concurrency);
            }

            return Task.FromResult(dropped.Count >= 3);
        }, "three snapshots after the replay limit");

        // Silent but within the limit: its 3 still count; past the limit: only the live replica's 2.
        Assert.NotEmpty(replayed);
        Assert.All(replayed, value => Assert.Equal(5, value));
        Assert.All(dropped, value => Assert.Equal(2, value));
        Assert.Equal(2, await harness.MetricAsync(reference, "http_app_concurrency"));
        Assert.Equal(1, harness.Aggregator.Current.FreshReplicas);
    }

    [Fact]
    public async Task EveryReplicaSilent_ReadinessFailsAndMetricsAreUnavailableNotZero()
    {
        var fake = await FakeInterceptor.StartAsync();
        fake.Report("default/app", concurrency: 4, requestCount: 4);
        await using var harness = await StartAsync(
            RoutesYaml.InterceptorRoute("app", FreePort(), Host),
            interceptors: 0,
            extraInterceptorAddresses: [fake.Address],
            settings: FastTicks);
        var reference = Ref("so", ("interceptorRoute", "app"));
        await WaitUntilAsync(async () => harness.Aggregator.Current.FreshReplicas == 1 && await harness.MetricAsync(reference, "http_app_concurrency") == 4, "the replica is counted");

        await fake.DisposeAsync();
        await WaitUntilAsync(async () =>
            (await harness.Health.CheckAsync(new HealthCheckRequest { Service = ScalerApplication.ReadinessService })).Status == HealthCheckResponse.Types.ServingStatus.NotServing,
            "readiness reports the stale counts");
        var error = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference }));
        var live = await harness.Health.CheckAsync(new HealthCheckRequest { Service = ScalerApplication.LivenessService });

        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        Assert.Contains("reported recently", error.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, live.Status);
    }

    private static async Task<double> RateAsync(ScalerHarness harness, ScaledObjectRef reference) =>
        (await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = "http_app_rate" })).MetricValues.Single().MetricValueFloat;
}
