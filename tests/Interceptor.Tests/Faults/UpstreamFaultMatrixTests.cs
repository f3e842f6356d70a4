using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Updraft.Interceptor.Tests.Faults;

/// <summary>
/// The upstream half of the fault matrix, against the interceptor binary as a child process: for each way an upstream
/// can fail, a bounded load of <see cref="Requests"/> requests from <see cref="Loops"/> concurrent loops; every
/// request gets one of the documented outcomes, <c>/queue</c> returns to 0 and the settled managed heap returns to its
/// baseline. (The single-request versions of these faults are in Forwarding/UpstreamFailureTests and
/// UpstreamFaultTests.)
/// </summary>
public sealed class UpstreamFaultMatrixTests(ITestOutputHelper output)
{
    private const string Host = "app.example.com";
    private const string Route = "default/app";
    private const int Requests = 2_000;
    private const int Loops = 100;
    private const int WarmUpRequests = 200;

    /// <summary>
    /// The settled heap may grow this much over the fault: pools (Kestrel's blocks, ArrayPool, connection pools) keep
    /// what the peak of <see cref="Loops"/> connections needed, and tiered JIT and PGO add code data. Holding even 8 KB
    /// per request of <see cref="Requests"/> (a request's context, its Kestrel and upstream buffers are more than that)
    /// is 16 MB on top, which breaks this bound; <see cref="HangHold_MemoryPerHeldRequest_MakesTheBoundCatchALeak"/>
    /// checks that premise by measuring what a held request really weighs.
    /// </summary>
    internal const long HeapGrowthBound = 12L << 20;

    [Fact]
    public async Task UpstreamHangs_ResponseHeaderTimeout_Every504_QueueAndHeapReturn()
    {
        var upstream = new HangingUpstream();
        await using var server = await TestUpstream.StartAsync(upstream.HandleAsync);

        var load = await RunAsync(server.Port, "timeouts: {responseHeader: 250ms}", SendAsync);

        Assert.Equal(Requests, load.Count("504"));
        // The interceptor gave up on each upstream request, not only on the client's side.
        await Poll.UntilAsync(() => Task.FromResult(upstream.InFlight == 0), "the upstream sees every hung request aborted");
    }

    [Fact]
    public async Task UpstreamResetsMidBody_EveryRequestA502OrACutBody_NeverAShortSuccess()
    {
        await using var server = await TestUpstream.StartAsync(async context =>
        {
            context.Response.ContentLength = 1000;
            await context.Response.WriteAsync("part of the body");
            await context.Response.Body.FlushAsync();
            context.Abort();
        });

        var load = await RunAsync(server.Port, null, SendAsync);

        // 502 when the reset arrives before the response head was relayed, a cut body after it.
        Assert.Equal(Requests, load.Count("502") + load.Count("200" + FaultLoad.CutSuffix));
    }

    [Fact]
    public async Task UpstreamSendsGarbage_Every502()
    {
        await using var server = await RawTcpServer.StartAsync("THIS IS NOT HTTP\r\n\r\n"u8.ToArray());

        var load = await RunAsync(server.Port, null, SendAsync);

        Assert.Equal(Requests, load.Count("502"));
    }

    [Fact]
    public async Task UpstreamClosesAfterHeaders_EveryRequestA502OrACutBody_NeverAShortSuccess()
    {
        await using var server = await RawTcpServer.StartAsync("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this"u8.ToArray());

        var load = await RunAsync(server.Port, null, SendAsync);

        Assert.Equal(Requests, load.Count("502") + load.Count("200" + FaultLoad.CutSuffix));
    }

    [Fact]
    public async Task UpstreamDribblesBody_ClientGoesAway_UpstreamAbortedQueueAndHeapReturn()
    {
        var upstream = new DribblingUpstream();
        await using var server = await TestUpstream.StartAsync(upstream.HandleAsync);

        var load = await RunAsync(server.Port, null, LeaveAfterFirstBytesAsync);

        Assert.Equal(Requests, load.Count(LeftAfter200));
        await Poll.UntilAsync(() => Task.FromResult(upstream.InFlight == 0), "the upstream sees every abandoned response aborted");
    }

    /// <summary>
    /// The premise of <see cref="HeapGrowthBound"/>: requests held by a hung upstream weigh enough that a leak of all
    /// <see cref="Requests"/> of a case would exceed the bound several times over.
    /// </summary>
    [Fact]
    public async Task HangHold_MemoryPerHeldRequest_MakesTheBoundCatchALeak()
    {
        const int held = 400;
        var upstream = new HangingUpstream();
        await using var server = await TestUpstream.StartAsync(upstream.HandleAsync);
        await using var interceptor = await InterceptorChild.StartStandaloneAsync(Routes.InterceptorRoute("app", server.Port, hosts: [Host]));
        using var client = FaultLoad.Client(interceptor.Address, interceptor.ProxyPort);
        await WarmUpAsync(client, upstream, held / 4, interceptor);
        var idle = await interceptor.SettledHeapBytesAsync(Host);

        using var release = new CancellationTokenSource();
        var pending = Enumerable.Range(0, held).Select(_ => FaultLoad.SendAsync(client, FaultLoad.Get(Host), release.Token)).ToArray();
        await Poll.UntilAsync(async () => await interceptor.ConcurrencyAsync(Route) == held && upstream.InFlight == held, $"{held} requests are held");
        var holding = await interceptor.SettledHeapBytesAsync(Host);
        await release.CancelAsync();
        await Task.WhenAll(pending.Select(p => p.ContinueWith(_ => { }, TaskScheduler.Default)));
        await interceptor.WaitForIdleAsync(Route);

        var perRequest = (holding - idle) / held;
        output.WriteLine($"idle {idle >> 10} KiB, holding {held}: {holding >> 10} KiB, {perRequest} B per held request");
        Assert.True(perRequest * Requests > 2 * HeapGrowthBound, $"a held request weighs {perRequest} B: {Requests} of them would not exceed the bound twice over");
    }

    private const string LeftAfter200 = "200 left";

    private async Task<FaultLoad> RunAsync(int upstreamPort, string? extraSpec, Func<HttpClient, CancellationToken, Task<string>> send)
    {
        await using var interceptor = await InterceptorChild.StartStandaloneAsync(Routes.InterceptorRoute("app", upstreamPort, hosts: [Host], extraSpec: extraSpec));
        using var client = FaultLoad.Client(interceptor.Address, interceptor.ProxyPort);

        // The same fault first, so the baseline already includes what the first requests allocate for good (JIT,
        // pools at their working size).
        var warmUp = FaultLoad.Start(WarmUpRequests, Loops, (_, token) => send(client, token));
        await warmUp.WaitAsync(TimeSpan.FromSeconds(60));
        await interceptor.WaitForIdleAsync(Route);
        var baseline = await interceptor.SettledHeapBytesAsync(Host);

        var load = FaultLoad.Start(Requests, Loops, (_, token) => send(client, token));
        await load.WaitAsync(TimeSpan.FromSeconds(60));
        await interceptor.WaitForIdleAsync(Route);
        var after = await interceptor.SettledHeapBytesAsync(Host);

        output.WriteLine($"outcomes: {load}; heap {baseline >> 10} KiB → {after >> 10} KiB");
        Assert.Equal(0, load.Count(FaultLoad.NoAnswer));
        Assert.Equal(0, load.Count(FaultLoad.ConnectionError));
        Assert.True(after <= baseline + HeapGrowthBound, $"the settled heap grew from {baseline} B to {after} B over {Requests} faulty requests");
        Assert.False(interceptor.Process.HasExited);
        return load;
    }

    private static async Task<string> SendAsync(HttpClient client, CancellationToken cancellationToken)
    {
        using var request = FaultLoad.Get(Host);
        return await FaultLoad.SendAsync(client, request, cancellationToken);
    }

    /// <summary>Reads the status and the first bytes, then drops the connection mid-body.</summary>
    private static async Task<string> LeaveAfterFirstBytesAsync(HttpClient client, CancellationToken cancellationToken)
    {
        using var request = FaultLoad.Get(Host);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await using (var body = await response.Content.ReadAsStreamAsync(cancellationToken))
        {
            var first = new byte[1];
            await body.ReadExactlyAsync(first, cancellationToken);
        }

        return (int)response.StatusCode + " left";
    }

    private static async Task WarmUpAsync(HttpClient client, HangingUpstream upstream, int count, InterceptorChild interceptor)
    {
        using var release = new CancellationTokenSource();
        var pending = Enumerable.Range(0, count).Select(_ => FaultLoad.SendAsync(client, FaultLoad.Get(Host), release.Token)).ToArray();
        await Poll.UntilAsync(() => Task.FromResult(upstream.InFlight == count), "the warm-up requests are held");
        await release.CancelAsync();
        await Task.WhenAll(pending.Select(p => p.ContinueWith(_ => { }, TaskScheduler.Default)));
        await interceptor.WaitForIdleAsync(Route);
    }

    /// <summary>Never answers; counts the requests it is sitting on until their connection goes.</summary>
    private sealed class HangingUpstream
    {
        private int _inFlight;

        public int InFlight => Volatile.Read(ref _inFlight);

        public async Task HandleAsync(HttpContext context)
        {
            Interlocked.Increment(ref _inFlight);
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }

    /// <summary>Sends the head and then one byte every 50 ms, for as long as anyone listens.</summary>
    private sealed class DribblingUpstream
    {
        private int _inFlight;

        public int InFlight => Volatile.Read(ref _inFlight);

        public async Task HandleAsync(HttpContext context)
        {
            Interlocked.Increment(ref _inFlight);
            try
            {
                context.Response.ContentLength = 1_000_000;
                while (!context.RequestAborted.IsCancellationRequested)
                {
                    await context.Response.Body.WriteAsync("x"u8.ToArray(), context.RequestAborted);
                    await context.Response.Body.FlushAsync(context.RequestAborted);
                    await Task.Delay(50, context.RequestAborted);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException)
            {
            }
            finally
            {
                Interlocked.Decrement(ref _inFlight);
            }
        }
    }
}
