using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.ColdStart;

/// <summary>The readiness broadcast and the standalone TCP-probe rule, against real sockets.</summary>
public sealed class EndpointReadinessTests
{
    [Fact]
    public async Task Set_NotReadyToReady_WakesEveryWaiterAtOnce()
    {
        var readiness = new EndpointReadiness("127.0.0.1:1");
        Assert.True(readiness.IsReady); // unknown: ready to try
        Assert.True(readiness.Set(EndpointState.NotReady));
        Assert.False(readiness.Set(EndpointState.NotReady));

        var waiters = Enumerable.Range(0, 50).Select(_ => readiness.WaitUntilReadyAsync(CancellationToken.None)).ToArray();
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(readiness.Waiters == 50), "every waiter is registered");
        Assert.DoesNotContain(waiters, w => w.IsCompleted);

        Assert.True(readiness.Set(EndpointState.Ready));
        await Task.WhenAll(waiters);

        Assert.Equal(0, readiness.Waiters);
    }

    [Fact]
    public async Task WaitUntilReadyAsync_Cancelled_ThrowsAndLeaves()
    {
        var readiness = new EndpointReadiness("127.0.0.1:1");
        readiness.Set(EndpointState.NotReady);
        using var cancel = new CancellationTokenSource();
        var waiting = readiness.WaitUntilReadyAsync(cancel.Token);
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(readiness.Waiters == 1), "the waiter is registered");

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(0, readiness.Waiters);
    }

    [Fact]
    public async Task TcpProbe_WaiterAndListenerAppears_FlipsToReady()
    {
        var source = new TcpProbeReadiness(new OptionsWrapper<InterceptorOptions>(new InterceptorOptions()), TimeProvider.System, NullLogger<TcpProbeReadiness>.Instance);
        var port = TestUpstream.FreePort();
        var endpoint = $"127.0.0.1:{port}";
        var readiness = source.For(endpoint);
        Assert.Same(readiness, source.For(endpoint));
        Assert.Equal(EndpointState.Unknown, readiness.State);

        Assert.True(source.ConnectionRefused(endpoint));
        Assert.Equal(EndpointState.NotReady, readiness.State);
        var waiting = readiness.WaitUntilReadyAsync(CancellationToken.None);
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(readiness.Waiters == 1), "the waiter is registered");
        Assert.False(waiting.IsCompleted);

        await using var upstream = await TestUpstream.StartOnPortAsync(port, _ => Task.CompletedTask);
        await waiting;

        Assert.Equal(EndpointState.Ready, readiness.State);
    }

    [Fact]
    public async Task TcpProbe_NoWaiters_DoesNotProbe()
    {
        var source = new TcpProbeReadiness(new OptionsWrapper<InterceptorOptions>(new InterceptorOptions()), TimeProvider.System, NullLogger<TcpProbeReadiness>.Instance);
        var port = TestUpstream.FreePort();
        var endpoint = $"127.0.0.1:{port}";
        source.ConnectionRefused(endpoint);
        await using var upstream = await TestUpstream.StartOnPortAsync(port, _ => Task.CompletedTask);

        // Nobody waits and nobody asked: the target stays not ready until a request wants it.
        await Task.Delay(200);
        Assert.Equal(EndpointState.NotReady, source.For(endpoint).State);

        // Each request that finds the target not ready without waiting (placeholder, static route) asks for one probe.
        await TestInterceptor.WaitUntilAsync(
            () =>
            {
                source.For(endpoint).Want();
                return Task.FromResult(source.For(endpoint).State == EndpointState.Ready);
            },
            "a probe finds the listener");
    }
}
