using System.Net;
using Updraft.Local.Replicas;

namespace Updraft.Local.Tests.EndToEnd;

/// <summary>
/// The story end to end: the interceptor, the scaler and the local autoscaler as real hosts on loopback, the
/// echo app's replicas as real processes.
/// </summary>
public sealed class LocalScaleToZeroTests
{
    private static string Routes(string workloadSpec, string routeSpec = "concurrency: {targetValue: 10}", string timeouts = "", string name = "echo") => $"""
        apiVersion: local.updraft.dev/v1alpha1
        kind: LocalWorkload
        metadata: {"{"}name: {name}, namespace: demo{"}"}
        spec:
          command: {LocalStack.EchoCommand}
          pollingInterval: 100ms
          {workloadSpec.Replace("\n", "\n  ", StringComparison.Ordinal)}
        ---
        apiVersion: http.keda.sh/v1beta1
        kind: InterceptorRoute
        metadata:
          name: {name}
          namespace: demo
          annotations: {"{"}updraft.dev/local-workload: {name}{"}"}
        spec:
          rules: [{"{"}hosts: [{name}.localhost]{"}"}]
          scalingMetric: {"{"}{routeSpec}{"}"}
          {timeouts}

        """;

    [Fact]
    public async Task FirstRequestAtZero_IsHeldAndAnsweredAsAColdStart_ThenTheWorkloadGoesBackToZeroAfterTheCooldown()
    {
        await using var stack = await LocalStack.StartAsync(Routes("cooldownPeriod: 1s"));
        Assert.Empty(stack.Events.Recent);

        using var first = await stack.GetAsync("echo.localhost", "/hello");
        var coldStart = first.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single();
        using var second = await stack.GetAsync("echo.localhost", "/again");
        var warm = second.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single();
        var started = Assert.Single(stack.EventsOf(ReplicaEventKind.Started));

        await stack.WaitUntilAsync(() => stack.EventsOf(ReplicaEventKind.Stopped).Count == 1, "the replica stops after the cooldown");
        // The interceptor's status page shows the replica's history, from the replicas feed.
        var status = "";
        await stack.WaitUntilAsync(() => (status = stack.Client.GetStringAsync(new Uri($"http://127.0.0.1:{stack.AdminPort}/status.json")).Result).Contains("stopped exit=", StringComparison.Ordinal), "the status page shows the stop");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Contains("\"path\": \"/hello\"", await first.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal("true", coldStart);
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal("false", warm);
        Assert.Contains("(scale 0->1: a trigger became active)", started.Detail, StringComparison.Ordinal);
        Assert.Single(stack.EventsOf(ReplicaEventKind.Ready));
        Assert.Contains("(scale 1->0: no trigger active for the cooldown period (1s))", Assert.Single(stack.EventsOf(ReplicaEventKind.Stopping)).Detail, StringComparison.Ordinal);
        Assert.Empty(stack.Runner.Workloads.Single().ReadyAddresses);
        Assert.False(LocalStack.IsRunning(started.Pid!.Value));
        Assert.Empty(stack.EventsOf(ReplicaEventKind.Crashed));
        Assert.Contains(System.Text.Json.JsonEncodedText.Encode(started.Line).ToString(), status, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BurstAboveTheTarget_StartsMoreReplicasUpToTheMaximum_AndEveryRequestIsAnswered()
    {
        await using var stack = await LocalStack.StartAsync(Routes("maxReplicaCount: 3\ncooldownPeriod: 30s", "concurrency: {targetValue: 1}"));

        var burst = Enumerable.Range(0, 8).Select(_ => stack.GetAsync("echo.localhost", "/slow?delay=4s")).ToList();
        await stack.WaitUntilAsync(() => stack.Runner.Workloads.Single().ReadyAddresses.Count == 3, "three replicas are ready");
        var responses = await Task.WhenAll(burst);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal([1, 2, 3], stack.EventsOf(ReplicaEventKind.Started).Select(e => e.Index).Order());
        Assert.Equal(3, stack.EventsOf(ReplicaEventKind.Started).Select(e => e.Port).Distinct().Count());
        foreach (var response in responses)
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task ScaleDownWithARequestInFlightOnTheStoppingReplica_TheRequestIsAnswered()
    {
        // Target 2 in flight per replica, at most 2 replicas: 4 requests make 2 replicas; once the first 4 are done, the
        // 2 long ones still in flight (one per replica, sent in turn) make 1, so one replica stops under its request.
        await using var stack = await LocalStack.StartAsync(Routes("maxReplicaCount: 2\ncooldownPeriod: 1s\nterminationGracePeriod: 30s", "concurrency: {targetValue: 2}"));

        var first = Enumerable.Range(0, 4).Select(_ => stack.GetAsync("echo.localhost", "/first?delay=2s")).ToList();
        await stack.WaitUntilAsync(() => stack.Runner.Workloads.Single().ReadyAddresses.Count == 2, "two replicas are ready");
        var long1 = stack.GetAsync("echo.localhost", "/long?delay=8s");
        var long2 = stack.GetAsync("echo.localhost", "/long?delay=8s");
        await Task.WhenAll(first);
        await stack.WaitUntilAsync(() => stack.EventsOf(ReplicaEventKind.Stopping).Count == 1, "one replica stops while the long requests are in flight");
        using var answer1 = await long1;
        using var answer2 = await long2;
        await stack.WaitUntilAsync(() => stack.EventsOf(ReplicaEventKind.Stopped).Count == 1, "the stopping replica exits");
        var stopped = Assert.Single(stack.EventsOf(ReplicaEventKind.Stopped));

        Assert.Equal(HttpStatusCode.OK, answer1.StatusCode);
        Assert.Equal(HttpStatusCode.OK, answer2.StatusCode);
        Assert.Contains("(scale 2->1:", Assert.Single(stack.EventsOf(ReplicaEventKind.Stopping)).Detail, StringComparison.Ordinal);
        // The replica had one of the long requests (seconds still to go when it was told to stop): it exited only
        // after finishing it, not when SIGTERM came (an idle echo app exits within a few tens of milliseconds).
        var stopping = Assert.Single(stack.EventsOf(ReplicaEventKind.Stopping));
        Assert.True(stopped.Time - stopping.Time > TimeSpan.FromSeconds(1), stack.EventLines);
        Assert.Empty(stack.EventsOf(ReplicaEventKind.Killed));
        Assert.Equal(0, stopped.ExitCode);
    }

    [Fact]
    public async Task CommandThatNeverBecomesReady_HeldRequestGetsTheReadinessTimeoutAnswer_AndTheFailureIsReported()
    {
        var routes = Routes("readiness: {timeout: 1s}", timeouts: "timeouts: {readiness: 3s}")
            .Replace(LocalStack.EchoCommand, "[bash, -c, \"exec sleep 600\"]", StringComparison.Ordinal);
        await using var stack = await LocalStack.StartAsync(routes);

        using var response = await stack.GetAsync("echo.localhost", "/hello");
        await stack.WaitUntilAsync(() => stack.EventsOf(ReplicaEventKind.Failed).Count >= 1, "the replica is reported as failed");

        Assert.Equal(HttpStatusCode.GatewayTimeout, response.StatusCode);
        Assert.Contains("not ready after 1s", stack.EventsOf(ReplicaEventKind.Failed)[0].Detail, StringComparison.Ordinal);
        Assert.Empty(stack.EventsOf(ReplicaEventKind.Ready));
    }

    [Fact]
    public async Task Shutdown_StopsEveryReplicaProcess()
    {
        var stack = await LocalStack.StartAsync(Routes("minReplicaCount: 2\nmaxReplicaCount: 2"));
        var events = stack.Events;
        int[] pids;
        try
        {
            await stack.WaitUntilAsync(() => stack.Runner.Workloads.Single().ReadyAddresses.Count == 2, "the minimum of two replicas is ready");
            pids = [.. stack.EventsOf(ReplicaEventKind.Started).Select(e => e.Pid!.Value)];
        }
        finally
        {
            await stack.DisposeAsync();
        }

        Assert.Equal(2, pids.Length);
        Assert.All(pids, pid => Assert.False(LocalStack.IsRunning(pid)));
        Assert.Equal(2, events.Recent.Count(e => e.Kind == ReplicaEventKind.Stopped));
        Assert.All(events.Recent.Where(e => e.Kind == ReplicaEventKind.Stopping), e => Assert.Contains("(shutdown)", e.Detail, StringComparison.Ordinal));
    }

    [Fact]
    public async Task RoutesFileChanges_AWorkloadAddedStartsOneChangedRestartsOneRemovedStops_OthersUndisturbed()
    {
        var routes = Routes("maxReplicaCount: 2\ncooldownPeriod: 30s");
        await using var stack = await LocalStack.StartAsync(routes);
        using (var warmUp = await stack.GetAsync("echo.localhost", "/"))
        {
            Assert.Equal(HttpStatusCode.OK, warmUp.StatusCode);
        }

        // A change the autoscaler does not act on (a route's rules) leaves the workload alone.
        await File.WriteAllTextAsync(stack.RoutesFile, routes.Replace("hosts: [echo.localhost]", "hosts: [echo.localhost, other.localhost]", StringComparison.Ordinal));
        await Task.Delay(TimeSpan.FromSeconds(4)); // past the watcher's settle time and poll
        var quietAfterRules = !stack.LocalLogs.Entries.Any(e => e.EventId is 11 or 12) && stack.EventsOf(ReplicaEventKind.Stopping).Count == 0;

        // A workload's change: its replicas stop and it starts again from zero with the new definition.
        var changed = routes.Replace("maxReplicaCount: 2", "maxReplicaCount: 3", StringComparison.Ordinal);
        await File.WriteAllTextAsync(stack.RoutesFile, changed);
        await stack.WaitUntilAsync(() => stack.LocalLogs.Entries.Any(e => e.EventId == 12), "the changed workload is started again");
        var stopping = Assert.Single(stack.EventsOf(ReplicaEventKind.Stopping));
        Assert.Equal(3, stack.Runner.Workloads.Single().Workload.MaxReplicas);
        using (var again = await stack.GetAsync("echo.localhost", "/"))
        {
            Assert.Equal("true", again.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single());
        }

        // A workload added, with its route: it scales from zero like the first.
        await File.WriteAllTextAsync(stack.RoutesFile, changed + Second);
        await stack.WaitUntilAsync(() => stack.Runner.Workloads.Count == 2, "the added workload runs");
        var added = await GetUntilRoutedAsync(stack, "second.localhost");

        // A file with a problem changes nothing: the problem is logged and both workloads keep running as they were.
        var stoppingBefore = stack.EventsOf(ReplicaEventKind.Stopping).Count;
        await File.WriteAllTextAsync(stack.RoutesFile, Second.Replace("cooldownPeriod: 30s", "maxReplicaCount: 65", StringComparison.Ordinal));
        await stack.WaitUntilAsync(() => stack.LocalLogs.Entries.Any(e => e.EventId == 10), "the broken file's problem is logged");
        var problem = stack.LocalLogs.Entries.First(e => e.EventId == 10).Message;
        var keptThroughProblem = stack.Runner.Workloads.Count == 2 && stack.EventsOf(ReplicaEventKind.Stopping).Count == stoppingBefore;

        // The first removed: its replica stops; the second keeps its replica.
        await File.WriteAllTextAsync(stack.RoutesFile, Second);
        await stack.WaitUntilAsync(() => stack.Runner.Workloads.Count == 1, "the removed workload is gone");
        using var stillServed = await stack.GetAsync("second.localhost", "/");

        Assert.True(quietAfterRules, "a change of a route's rules restarted the workload");
        Assert.True(keptThroughProblem, "a file with a problem changed the running workloads");
        Assert.Contains("maxReplicaCount", problem, StringComparison.Ordinal);
        Assert.Contains("(changed in the routes file)", stopping.Detail, StringComparison.Ordinal);
        Assert.Contains(stack.LocalLogs.Entries, e => e.EventId == 11 && e.Message == "demo/echo: stopping its replicas (changed in the routes file)");
        Assert.Equal(HttpStatusCode.OK, added.StatusCode);
        Assert.Equal("true", added.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single());
        Assert.Contains(stack.LocalLogs.Entries, e => e.EventId == 12 && e.Message == "demo/second: added from the routes file, scaled by 1 route(s)");
        Assert.Contains(stack.LocalLogs.Entries, e => e.EventId == 11 && e.Message == "demo/echo: stopping its replicas (removed from the routes file)");
        Assert.Equal("demo/second", stack.Runner.Workloads.Single().Workload.Key);
        Assert.Equal(HttpStatusCode.OK, stillServed.StatusCode);
        Assert.Equal("false", stillServed.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single());
        Assert.Empty(stack.EventsOf(ReplicaEventKind.Crashed));
    }

    private static string Second => "---\n" + Routes("cooldownPeriod: 30s", name: "second");

    /// <summary>The interceptor reloads the file on its own schedule: a 404 means it does not know the route yet.</summary>
    private static async Task<HttpResponseMessage> GetUntilRoutedAsync(LocalStack stack, string host)
    {
        HttpResponseMessage? response = null;
        await stack.WaitUntilAsync(() =>
        {
            response?.Dispose();
            response = stack.GetAsync(host, "/").GetAwaiter().GetResult();
            return response.StatusCode != HttpStatusCode.NotFound;
        }, $"the interceptor routes {host}");
        return response!;
    }
}
