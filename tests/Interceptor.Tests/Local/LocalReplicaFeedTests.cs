using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.V1;

namespace Updraft.Interceptor.Tests.Local;

/// <summary>
/// The interceptor following a real local replicas feed (an in-test gRPC server on loopback) and forwarding to real
/// Kestrel replicas, on the run's forwarding path (lean or YARP, <c>UPDRAFT_LEAN_FORWARDING</c>).
/// </summary>
public sealed class LocalReplicaFeedTests
{
    private const int LostEvent = 61;
    private const int UnreachableEvent = 62;
    private const int ConnectedEvent = 60;
    private const int SkippedEvent = 63;
    private const int RefusedEvent = 64;
    private const int TooLargeEvent = 67;
    private const int ConnectRetryEvent = 13;

    [Fact]
    public async Task HeldRequest_SnapshotAddsAReplica_ReleasedThereWithTheColdStartHeader()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        var empty = feed.Publish(("echo", []));
        await using var replica = await Replica.StartAsync("a");
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed);
        await feed.WaitForAckAsync(empty);
        var route = interceptor.Table.ByKey["default/echo"];

        var pending = interceptor.GetAsync("echo.test", "/hello");
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(route.HoldQueue.Pending == 1), "the request is held");
        Assert.False(pending.IsCompleted);
        var ready = feed.Publish(("echo", [replica.Address]));

        using var response = await pending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("a", await response.Content.ReadAsStringAsync());
        Assert.Equal("true", Assert.Single(response.Headers.GetValues("X-KEDA-HTTP-Cold-Start")));
        await feed.WaitForAckAsync(ready);
        Assert.Equal(1, replica.Requests);
    }

    [Fact]
    public async Task TwoReplicas_RequestsTakeThemInTurn_GaugeCountsThem()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        await using var a = await Replica.StartAsync("a");
        await using var b = await Replica.StartAsync("b");
        var version = feed.Publish(("echo", [a.Address, b.Address]));
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed);
        await feed.WaitForAckAsync(version);

        var bodies = new List<string>();
        for (var i = 0; i < 20; i++)
        {
            bodies.Add(await interceptor.GetEchoAsync());
        }

        Assert.Equal(10, bodies.Count(body => body == "a"));
        Assert.Equal(10, bodies.Count(body => body == "b"));
        Assert.Equal(10, a.Requests);
        Assert.Equal(10, b.Requests);
        Assert.Contains("interceptor_local_replicas{workload=\"default/echo\"} 2", await interceptor.GetMetricsTextAsync(), StringComparison.Ordinal);
        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task SnapshotWithoutReplicaA_OnceAcknowledged_NoNewRequestReachesA()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        await using var a = await Replica.StartAsync("a");
        await using var b = await Replica.StartAsync("b");
        var both = feed.Publish(("echo", [a.Address, b.Address]));
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed);
        await feed.WaitForAckAsync(both);
        for (var i = 0; i < 4; i++)
        {
            await interceptor.GetEchoAsync();
        }

        var reachedA = a.Requests;
        Assert.True(reachedA > 0);

        var onlyB = feed.Publish(("echo", [b.Address]));
        await feed.WaitForAckAsync(onlyB);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal("b", await interceptor.GetEchoAsync());
        }

        Assert.Equal(reachedA, a.Requests);
    }

    [Fact]
    public async Task Acknowledgement_SentOnlyOnceTheSnapshotIsInForce()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        var first = feed.Publish(("echo", []));
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed);
        await feed.WaitForAckAsync(first);
        var target = interceptor.Services.GetRequiredService<LocalTargets>().For("default", "echo");
        var seenAtAck = new ConcurrentDictionary<ulong, string>();
        feed.OnAck = version => seenAtAck[version] = string.Join(",", target.Replicas.Select(r => r.Authority));

        var expected = new Dictionary<ulong, string>();
        string[][] sets =
        [
            ["127.0.0.1:1001"],
            ["127.0.0.1:1001", "127.0.0.1:1002"],
            ["127.0.0.1:1002", "[::1]:1003"],
            [],
            ["localhost:1004"],
        ];
        foreach (var set in sets)
        {
            var version = feed.Publish(("echo", set));
            expected[version] = string.Join(",", set);
            await feed.WaitForAckAsync(version);
        }

        foreach (var (version, replicas) in expected)
        {
            Assert.Equal(replicas, seenAtAck[version]);
        }
    }

    [Fact]
    public async Task FeedRestarted_LastSnapshotKeptMeanwhile_ThenReconnectsAndAppliesTheNewOne()
    {
        var feed = await TestReplicaFeed.StartAsync();
        var port = feed.Port;
        await using var a = await Replica.StartAsync("a");
        await using var b = await Replica.StartAsync("b");
        var first = feed.Publish(("echo", [a.Address]));
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed, new() { ["UPDRAFT_LOG_LEVEL"] = "Information" });
        await feed.WaitForAckAsync(first);
        var state = interceptor.Services.GetRequiredService<LocalReplicaFeed>();
        Assert.Equal("a", await interceptor.GetEchoAsync());

        await feed.DisposeAsync();
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(!state.State.Connected), "the interceptor noticed the feed is gone");
        // The replica may well still run: the last snapshot stays in force, and the interceptor stays ready.
        Assert.Equal("a", await interceptor.GetEchoAsync());
        Assert.Equal(200, await interceptor.GetReadyStatusAsync());
        var status = await StatusJsonAsync(interceptor);
        Assert.False((bool)status["connected"]!);
        Assert.Equal("127.0.0.1:" + port, (string?)status["address"]);
        Assert.Equal([a.Address], status["workloads"]![0]!["ready"]!.AsArray().Select(r => (string?)r));
        // Several reconnect attempts fail meanwhile (100, 200, 400 ms...): the loss is still logged once.
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(state.State.Problem is not null && !state.State.Problem.Contains("ended", StringComparison.Ordinal)), "a reconnect attempt failed");
        await Task.Delay(800);

        await using var restarted = await TestReplicaFeed.StartAsync(port, firstVersion: 100);
        var second = restarted.Publish(("echo", [b.Address]));
        await restarted.WaitForAckAsync(second);
        Assert.Equal("b", await interceptor.GetEchoAsync());
        Assert.True(state.State.Connected);
        status = await StatusJsonAsync(interceptor);
        Assert.True((bool)status["connected"]!);
        Assert.Equal(100UL, (ulong)status["snapshotVersion"]!);
        Assert.Equal("default/echo: 1 ready: " + b.Address, (string?)status["workloads"]![0]!["line"]);

        var entries = FeedEntries(interceptor);
        Assert.Single(entries, e => e.EventId == LostEvent);
        Assert.DoesNotContain(entries, e => e.EventId == UnreachableEvent);
        Assert.Equal(2, entries.Count(e => e.EventId == ConnectedEvent));
    }

    [Fact]
    public async Task FeedNotThereAtStart_LoggedOnce_RequestsWaitUntilItIs()
    {
        var port = TestUpstream.FreePort();
        await using var replica = await Replica.StartAsync("a");
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(null, new()
        {
            [LocalReplicasSetting.Variable] = "127.0.0.1:" + port,
            ["UPDRAFT_LOG_LEVEL"] = "Information",
        });
        var route = interceptor.Table.ByKey["default/echo"];
        var pending = interceptor.GetAsync("echo.test", "/");
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(route.HoldQueue.Pending == 1), "the request is held");
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(FeedEntries(interceptor).Any(e => e.EventId == UnreachableEvent)), "the unreachable feed is logged");
        await Task.Delay(800);

        await using var feed = await TestReplicaFeed.StartAsync(port);
        feed.Publish(("echo", [replica.Address]));
        using var response = await pending;

        // The snapshot is applied (and the request released) before the connection is logged.
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(FeedEntries(interceptor).Any(e => e.EventId == ConnectedEvent)), "the connection is logged");

        Assert.Equal("a", await response.Content.ReadAsStringAsync());
        Assert.Single(FeedEntries(interceptor), e => e.EventId == UnreachableEvent);
        Assert.Single(FeedEntries(interceptor), e => e.EventId == ConnectedEvent);
    }

    [Fact]
    public async Task MalformedEntries_SkippedWithAWarning_TheRestApplied()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        await using var a = await Replica.StartAsync("a");
        var snapshot = new ReplicaSnapshot
        {
            Workloads =
            {
                new WorkloadReplicas { Namespace = "default", Name = "echo", Ready = { "garbage", "127.0.0.1:99999", "http://127.0.0.1:1", "", "127.0.0.1:0", a.Address } },
                new WorkloadReplicas { Namespace = "default", Name = "", Ready = { "127.0.0.1:1" } },
                new WorkloadReplicas { Namespace = "default", Name = "other\n", Ready = { "127.0.0.1:1" } },
            },
        };
        var version = feed.Publish(snapshot);
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed);
        await feed.WaitForAckAsync(version);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("a", await interceptor.GetEchoAsync());
        }

        var warning = Assert.Single(FeedEntries(interceptor), e => e.EventId == SkippedEvent);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("has 7 malformed entries, skipped", warning.Message, StringComparison.Ordinal);
        Assert.Contains("\"garbage\" of default/echo", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', warning.Message);
        Assert.Equal([a.Address], interceptor.Services.GetRequiredService<LocalTargets>().For("default", "echo").Replicas.Select(r => r.Authority));
    }

    [Fact]
    public async Task SnapshotOverTheBounds_StreamDroppedAndDialledAgain_LastSnapshotKept()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        await using var a = await Replica.StartAsync("a");
        await using var b = await Replica.StartAsync("b");
        var good = feed.Publish(("echo", [a.Address]));
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed);
        await feed.WaitForAckAsync(good);

        var huge = new ReplicaSnapshot();
        for (var i = 0; i <= ReplicaSnapshotReader.MaxWorkloads; i++)
        {
            huge.Workloads.Add(new WorkloadReplicas { Namespace = "default", Name = "w" + i, Ready = { "127.0.0.1:1" } });
        }

        var refused = feed.Publish(huge);
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(feed.Streams >= 2), "the interceptor dialled the feed again");
        Assert.DoesNotContain(refused, feed.Acks);
        // Each new stream gets the same snapshot and drops it again, until the feed sends another.
        var error = FeedEntries(interceptor).First(e => e.EventId == RefusedEvent);
        Assert.Contains($"snapshot {refused} refused", error.Message, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Error, error.Level);
        Assert.Contains("1001 workloads, more than 1000", error.Message, StringComparison.Ordinal);
        Assert.Equal("a", await interceptor.GetEchoAsync());

        var next = feed.Publish(("echo", [b.Address]));
        await feed.WaitForAckAsync(next);
        Assert.Equal("b", await interceptor.GetEchoAsync());
    }

    [Fact]
    public async Task SnapshotOverTheSizeLimit_RefusedWithAnError_LastSnapshotKept()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        await using var a = await Replica.StartAsync("a");
        var good = feed.Publish(("echo", [a.Address]));
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed);
        await feed.WaitForAckAsync(good);

        var oversized = feed.Publish(("echo", [new string('x', LocalReplicaFeed.MaxSnapshotBytes)]));
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(FeedEntries(interceptor).Any(e => e.EventId == TooLargeEvent)), "the oversized snapshot is refused");

        Assert.Equal(LogLevel.Error, FeedEntries(interceptor).First(e => e.EventId == TooLargeEvent).Level);
        Assert.DoesNotContain(oversized, feed.Acks);
        Assert.Equal("a", await interceptor.GetEchoAsync());
        var small = feed.Publish(("echo", [a.Address]));
        await feed.WaitForAckAsync(small);
    }

    [Fact]
    public async Task ListedReplicaRefuses_ConnectorDialsUntilTheFeedDropsIt_ThenAnotherReplicaAnswers()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        var dead = "127.0.0.1:" + TestUpstream.FreePort();
        var first = feed.Publish(("echo", [dead]));
        await using var b = await Replica.StartAsync("b");
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed, new() { ["UPDRAFT_LOG_LEVEL"] = "Debug" });
        await feed.WaitForAckAsync(first);

        var pending = interceptor.GetAsync("echo.test", "/");
        await TestInterceptor.WaitUntilAsync(
            () => Task.FromResult(interceptor.Logs.Entries.Count(e => e.EventId == ConnectRetryEvent && e.Message.Contains(dead, StringComparison.Ordinal)) >= 2),
            "the connector dials the listed replica again");
        Assert.False(pending.IsCompleted);
        feed.Publish(("echo", [b.Address]));

        using var response = await pending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("b", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task NoFeedSet_WorkloadRouteWaitsAndTimesOutAsANotReadyTarget()
    {
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(null, new() { ["KEDA_HTTP_READINESS_TIMEOUT"] = "300ms" });

        using var response = await interceptor.GetAsync("echo.test", "/");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Null(interceptor.Services.GetService<LocalReplicaFeed>());
    }

    [Fact]
    public async Task Shutdown_WhileFollowingTheFeed_EndsCleanly()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        var version = feed.Publish(("echo", []));
        var interceptor = await LocalWorkloads.StartInterceptorAsync(feed, new() { ["UPDRAFT_LOG_LEVEL"] = "Information" });
        await feed.WaitForAckAsync(version);
        var logs = interceptor.Logs;

        await interceptor.DisposeAsync();

        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(feed.OpenStreams == 0), "the stream is closed");
        logs.AssertNoWarnings();
    }

    private static List<LogEntry> FeedEntries(TestInterceptor interceptor) =>
        [.. interceptor.Logs.Entries.Where(e => e.Category == typeof(LocalReplicaFeed).FullName)];

    private static async Task<JsonNode> StatusJsonAsync(TestInterceptor interceptor)
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{interceptor.AdminPort}") };
        var json = JsonNode.Parse(await admin.GetStringAsync("/status.json"))!;
        return json["localReplicas"]!;
    }
}
