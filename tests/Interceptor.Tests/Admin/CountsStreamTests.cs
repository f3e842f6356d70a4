using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Interceptor.Counting;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.V1;

namespace Updraft.Interceptor.Tests.Admin;

/// <summary>The <c>updraft.v1</c> count stream, over h2c on the same admin port that serves <c>/queue</c>.</summary>
public sealed class CountsStreamTests
{
    private const string Host = "app.example.com";

    [Fact]
    public async Task WatchCounts_RouteBecomesBusy_PushesSnapshotBeforeTheInterval()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context => await release.Task.WaitAsync(context.RequestAborted));
        await using var interceptor = await TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            Routes.InterceptorRoute("idle", upstream.Port, hosts: ["idle.example.com"])));
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{interceptor.AdminPort}");
        var client = new InterceptorCounts.InterceptorCountsClient(channel);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // A long interval: only the push on activity can deliver the busy route within the test.
        using var call = client.WatchCounts(new WatchCountsRequest { IntervalMs = 600_000 }, cancellationToken: cancel.Token);
        var stream = call.ResponseStream;
        Assert.True(await stream.MoveNext(cancel.Token));
        var first = stream.Current;
        Assert.Equal(1UL, first.Sequence);
        Assert.False(string.IsNullOrEmpty(first.InstanceId));
        Assert.Equal(["default/app", "default/idle"], first.Routes.Select(r => r.Key).Order());
        Assert.All(first.Routes, r => Assert.Equal(0, r.Concurrency));

        var pending = interceptor.GetAsync(Host, "/");
        Assert.True(await stream.MoveNext(cancel.Token));
        var pushed = stream.Current;
        Assert.Equal(2UL, pushed.Sequence);
        Assert.True(first.Full);
        // Only what changed: the idle route is not repeated.
        Assert.False(pushed.Full);
        var app = Assert.Single(pushed.Routes);
        Assert.Equal(("default/app", 1, 1L), (app.Key, app.Concurrency, app.RequestCount));

        release.SetResult();
        using var response = await pending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task WatchCounts_MoreStreamsThanTheLimit_OneMoreIsRefusedUntilOneCloses()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("up");
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            new Dictionary<string, string?> { ["UPDRAFT_MAX_COUNT_STREAMS"] = "2" });
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{interceptor.AdminPort}");
        var client = new InterceptorCounts.InterceptorCountsClient(channel);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        using var first = client.WatchCounts(new WatchCountsRequest(), cancellationToken: cancel.Token);
        using var second = client.WatchCounts(new WatchCountsRequest(), cancellationToken: cancel.Token);
        Assert.True(await first.ResponseStream.MoveNext(cancel.Token));
        Assert.True(await second.ResponseStream.MoveNext(cancel.Token));

        using (var third = client.WatchCounts(new WatchCountsRequest(), cancellationToken: cancel.Token))
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => third.ResponseStream.MoveNext(cancel.Token));
            Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
            Assert.Contains("UPDRAFT_MAX_COUNT_STREAMS", refused.Status.Detail, StringComparison.Ordinal);
        }

        // The open streams keep flowing, and a closed one frees its place.
        Assert.True(await first.ResponseStream.MoveNext(cancel.Token));
        second.Dispose();
        await TestInterceptor.WaitUntilAsync(async () =>
        {
            using var again = client.WatchCounts(new WatchCountsRequest(), cancellationToken: cancel.Token);
            try
            {
                return await again.ResponseStream.MoveNext(cancel.Token);
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                return false;
            }
        }, "a new stream is accepted once one has closed");
    }

    [Fact]
    public async Task WatchCounts_ShortInterval_SendsPeriodicSnapshotsWithRisingSequence()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{interceptor.AdminPort}");
        var client = new InterceptorCounts.InterceptorCountsClient(channel);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        using var call = client.WatchCounts(new WatchCountsRequest { IntervalMs = 20 }, cancellationToken: cancel.Token);
        ulong last = 0;
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
            Assert.Equal(last + 1, call.ResponseStream.Current.Sequence);
            last = call.ResponseStream.Current.Sequence;
        }

        // The same port still answers the add-on's HTTP/1.1 /queue.
        Assert.Equal(0, (await interceptor.GetQueueAsync())["default/app"].Concurrency);
    }

    [Fact]
    public async Task WatchCounts_RoutesFileChanges_SendsFullSnapshotWithoutTheRemovedRoute()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            Routes.InterceptorRoute("old", upstream.Port, hosts: ["old.example.com"])));
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{interceptor.AdminPort}");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var call = new InterceptorCounts.InterceptorCountsClient(channel).WatchCounts(new WatchCountsRequest { IntervalMs = 20 }, cancellationToken: cancel.Token);
        Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
        Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
        Assert.False(call.ResponseStream.Current.Full);
        Assert.Empty(call.ResponseStream.Current.Routes);

        await File.WriteAllTextAsync(interceptor.RoutesFile, Routes.Documents(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            Routes.InterceptorRoute("new", upstream.Port, hosts: ["new.example.com"])));
        CountsSnapshot snapshot;
        do
        {
            Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
            snapshot = call.ResponseStream.Current;
        }
        while (!snapshot.Routes.Any(r => r.Key == "default/new"));

        Assert.True(snapshot.Full);
        Assert.Equal(["default/app", "default/new"], snapshot.Routes.Select(r => r.Key).Order());
    }

    [Fact]
    public async Task WatchCounts_ScalerGoesAway_StreamEndsAndCountsKeepWorking()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        // Each open count stream on the interceptor's side holds one subscription to the activity signal.
        var streams = interceptor.Services.GetRequiredService<ActivitySignal>();
        for (var i = 0; i < 20; i++)
        {
            var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{interceptor.AdminPort}");
            using var cancel = new CancellationTokenSource();
            using var call = new InterceptorCounts.InterceptorCountsClient(channel).WatchCounts(new WatchCountsRequest(), cancellationToken: cancel.Token);
            Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));
            Assert.Equal(1, streams.Subscribers);

            // The scaler goes away by closing the stream, or (a scaler process that dies) by dropping the connection.
            if (i % 2 == 0)
            {
                await cancel.CancelAsync();
                await Assert.ThrowsAnyAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
            }

            channel.Dispose();
            await TestInterceptor.WaitUntilAsync(() => Task.FromResult(streams.Subscribers == 0), $"the interceptor ends its side of stream {i}");
        }

        using var response = await interceptor.GetAsync(Host, "/");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, (await interceptor.GetQueueAsync())["default/app"].RequestCount);
    }
}
