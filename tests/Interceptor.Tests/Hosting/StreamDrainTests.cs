using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.V1;

namespace Updraft.Interceptor.Tests.Hosting;

/// <summary>SIGTERM to a real interceptor process while a scaler's count stream is open.</summary>
public sealed class StreamDrainTests
{
    private static readonly TimeSpan ShutdownDelay = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Sigterm_CountStreamOpen_StreamEndsAtOnceNewStreamsRefusedAndExitsAfterTheDelayNotTheDrainTimeout()
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", Routes.InterceptorRoute("app", TestUpstream.FreePort()));
        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"], new Dictionary<string, string>
        {
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = $"{ShutdownDelay.TotalSeconds}s",
            ["KEDA_HTTP_DRAIN_TIMEOUT"] = $"{DrainTimeout.TotalSeconds}s",
        });
        var (_, adminPort) = await process.WaitForPortsAsync();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{adminPort}");
        var client = new InterceptorCounts.InterceptorCountsClient(channel);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // A long interval: a snapshot after SIGTERM can only be the last one.
        using var call = client.WatchCounts(new WatchCountsRequest { IntervalMs = 600_000 }, cancellationToken: cancel.Token);
        Assert.True(await call.ResponseStream.MoveNext(cancel.Token));

        var terminated = Stopwatch.StartNew();
        process.Terminate();
        // One last snapshot, then the stream ends with status OK, well inside the shutdown delay.
        var last = await call.ResponseStream.MoveNext(cancel.Token) ? call.ResponseStream.Current : null;
        var ended = !await call.ResponseStream.MoveNext(cancel.Token);
        var endedAfter = terminated.Elapsed;
        // While it drains, a new stream is refused (the scaler polls /queue instead).
        using var again = client.WatchCounts(new WatchCountsRequest(), cancellationToken: cancel.Token);
        var refused = await Assert.ThrowsAsync<RpcException>(() => again.ResponseStream.MoveNext(cancel.Token));
        var exitCode = await process.WaitForExitAsync();
        var exitedAfter = terminated.Elapsed;

        Assert.NotNull(last);
        Assert.True(ended);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
        Assert.True(endedAfter < ShutdownDelay, $"the stream ended {endedAfter} after SIGTERM");
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Equal(CountsStreamService.DrainingDetail, refused.Status.Detail);
        Assert.Equal(0, exitCode);
        // About the shutdown delay; far from delay + drain timeout, which an open stream used to hold it to.
        Assert.True(exitedAfter >= ShutdownDelay, $"exited {exitedAfter} after SIGTERM, before the shutdown delay");
        Assert.True(exitedAfter < ShutdownDelay + TimeSpan.FromSeconds(10), $"exited {exitedAfter} after SIGTERM");
    }
}
