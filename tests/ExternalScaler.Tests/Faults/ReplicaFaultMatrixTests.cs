using Microsoft.AspNetCore.Http;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Faults;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using Xunit.Abstractions;

namespace Updraft.ExternalScaler.Tests.Faults;

/// <summary>
/// The process half of the fault matrix: the interceptor and the scaler binaries as child processes, one of them
/// killed (SIGKILL) and started again in the middle of a bounded load. Every request gets a status (a connection error
/// only for the requests in flight at the interceptor that was killed), <c>/queue</c> returns to 0, the scaler counts
/// the live requests again afterwards, and the interceptor's settled heap returns to its baseline.
/// </summary>
public sealed class ReplicaFaultMatrixTests(ITestOutputHelper output)
{
    private const string Host = "app.example.com";
    private const string Route = "default/app";
    private const string Concurrency = "http_app_concurrency";
    private const int Requests = 1_500;
    private const int Loops = 16;
    private const int Held = 5;

    /// <summary>See <c>UpstreamFaultMatrixTests.HeapGrowthBound</c>: the same reasoning, the same bound.</summary>
    private const long HeapGrowthBound = 12L << 20;

    private static readonly ScaledObjectRef App = ScalerChild.Ref("so", ("interceptorRoute", "app"));

    [Fact]
    public async Task InterceptorKilledAndRestartedDuringLoad_OnlyInFlightRequestsFail_NewProcessCountsFromZero_ScalerSeesItGoAndComeBack()
    {
        var upstream = new HoldingUpstream();
        await using var server = await TestUpstream.StartAsync(upstream.HandleAsync);
        var routes = RoutesYaml.InterceptorRoute("app", server.Port, Host);
        await using var interceptor = await InterceptorChild.StartStandaloneAsync(routes);
        await using var scaler = ScalerChild.Start(routes, new()
        {
            ["UPDRAFT_INTERCEPTORS"] = interceptor.AdminAddress,
            ["UPDRAFT_SCALER_REPLAY_LIMIT"] = "1s",
        });
        await scaler.WaitForMetricAsync(App, Concurrency, 0, "the scaler reports the interceptor's counts");
        using var client = FaultLoad.Client(interceptor.Address, interceptor.ProxyPort);
        var baseline = await WarmUpAndSettleAsync(interceptor, client);

        // While the process is down the loops wait (as a Service stops sending to a dead pod; outside the per-request
        // limit), so a connection error can only be a request that was in flight at the kill: at most one per loop.
        var open = new Gate();
        var load = FaultLoad.Start(Requests, Loops, async (_, token) =>
        {
            await open.WaitAsync();
            using var request = FaultLoad.Get(Host);
            return await FaultLoad.SendAsync(client, request, token);
        });
        await Poll.UntilAsync(() => Task.FromResult(load.Completed >= Requests / 3), "a third of the load is done");
        open.Close();
        await interceptor.KillAsync();
        await Poll.UntilAsync(async () => double.IsNaN(await scaler.MetricAsync(App, Concurrency)), "the scaler stops reporting the killed replica (Unavailable)");
        await interceptor.RestartAsync();
        var fresh = await interceptor.RequestCountAsync(Route);
        open.Open();
        await load.WaitAsync(TimeSpan.FromSeconds(60));

        output.WriteLine($"outcomes: {load}");
        Assert.Equal(0L, fresh);
        // In flight at the kill: no status (connection error), or a status whose body the kill cut.
        var inFlight = load.Count(FaultLoad.ConnectionError) + load.Count("200" + FaultLoad.CutSuffix);
        Assert.Equal(Requests, load.Count("200") + inFlight);
        Assert.InRange(inFlight, 0, Loops);
        await interceptor.WaitForIdleAsync(Route);
        await scaler.WaitForStreamsOpenedAsync(2, "the scaler opens the push stream to the new process");
        await AssertScalerCountsLiveRequestsAsync(scaler, interceptor, client, upstream);
        var after = await interceptor.SettledHeapBytesAsync(Host);
        // The new process against the old one's baseline: same binary, same warm-up (the load) behind it.
        output.WriteLine($"heap {baseline >> 10} KiB → {after >> 10} KiB (restarted process)");
        Assert.True(after <= baseline + HeapGrowthBound, $"the settled heap grew from {baseline} B to {after} B");
    }

    [Fact]
    public async Task ScalerKilledAndRestartedDuringLoad_InterceptorServesEveryRequest_CountsReachTheNewScaler()
    {
        var upstream = new HoldingUpstream();
        await using var server = await TestUpstream.StartAsync(upstream.HandleAsync);
        var routes = RoutesYaml.InterceptorRoute("app", server.Port, Host);
        await using var interceptor = await InterceptorChild.StartStandaloneAsync(routes);
        await using var scaler = ScalerChild.Start(routes, new() { ["UPDRAFT_INTERCEPTORS"] = interceptor.AdminAddress });
        await scaler.WaitForMetricAsync(App, Concurrency, 0, "the scaler reports the interceptor's counts");
        using var client = FaultLoad.Client(interceptor.Address, interceptor.ProxyPort);
        var baseline = await WarmUpAndSettleAsync(interceptor, client);

        var load = FaultLoad.Start(Requests, Loops, async (_, token) =>
        {
            using var request = FaultLoad.Get(Host);
            return await FaultLoad.SendAsync(client, request, token);
        });
        await Poll.UntilAsync(() => Task.FromResult(load.Completed >= Requests / 3), "a third of the load is done");
        await scaler.RestartAsync();
        await load.WaitAsync(TimeSpan.FromSeconds(60));

        output.WriteLine($"outcomes: {load}");
        Assert.Equal(Requests, load.Count("200"));
        await interceptor.WaitForIdleAsync(Route);
        await scaler.WaitForStreamsOpenedAsync(1, "the new scaler opens the push stream");
        await AssertScalerCountsLiveRequestsAsync(scaler, interceptor, client, upstream);
        var after = await interceptor.SettledHeapBytesAsync(Host);
        output.WriteLine($"heap {baseline >> 10} KiB → {after >> 10} KiB");
        Assert.True(after <= baseline + HeapGrowthBound, $"the settled heap grew from {baseline} B to {after} B");
        Assert.False(interceptor.Process.HasExited);
    }

    /// <summary>The same load once before the fault, so the baseline includes JIT and pools at their working size.</summary>
    private static async Task<long> WarmUpAndSettleAsync(InterceptorChild interceptor, HttpClient client)
    {
        var warmUp = FaultLoad.Start(Requests / 3, Loops, async (_, token) =>
        {
            using var request = FaultLoad.Get(Host);
            return await FaultLoad.SendAsync(client, request, token);
        });
        await warmUp.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(warmUp.Total, warmUp.Count("200"));
        await interceptor.WaitForIdleAsync(Route);
        return await interceptor.SettledHeapBytesAsync(Host);
    }

    /// <summary>Requests held at the upstream show in the scaler's metric, and their end brings it back to 0.</summary>
    private static async Task AssertScalerCountsLiveRequestsAsync(ScalerChild scaler, InterceptorChild interceptor, HttpClient client, HoldingUpstream upstream)
    {
        var release = upstream.Hold();
        var held = Enumerable.Range(0, Held).Select(_ => FaultLoad.SendAsync(client, FaultLoad.Get(Host, "/hold"), CancellationToken.None)).ToArray();
        await Poll.UntilAsync(async () => await interceptor.ConcurrencyAsync(Route) == Held, $"the interceptor holds {Held} requests");
        await scaler.WaitForMetricAsync(App, Concurrency, Held, $"the scaler reports the {Held} live requests");
        release.SetResult();
        Assert.All(await Task.WhenAll(held), outcome => Assert.Equal("200", outcome));
        await scaler.WaitForMetricAsync(App, Concurrency, 0, "the scaler reports them finished");
    }

    /// <summary>Answers at once, except <c>/hold</c>, which waits for the current <see cref="Hold"/> to be released.</summary>
    private sealed class HoldingUpstream
    {
        private TaskCompletionSource _release = Released();

        public TaskCompletionSource Hold() => _release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task HandleAsync(HttpContext context)
        {
            if (context.Request.Path == "/hold")
            {
                await _release.Task.WaitAsync(context.RequestAborted);
            }

            await context.Response.WriteAsync("ok", context.RequestAborted);
        }

        private static TaskCompletionSource Released()
        {
            var released = new TaskCompletionSource();
            released.SetResult();
            return released;
        }
    }

    /// <summary>Lets the load's loops through while open; they wait while it is closed.</summary>
    private sealed class Gate
    {
        private volatile TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Gate() => _open.SetResult();

        public Task WaitAsync() => _open.Task;

        public void Close() => _open = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _open.SetResult();
    }
}
