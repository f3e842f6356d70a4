using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Telemetry;

namespace Updraft.Interceptor.Tests.Local;

/// <summary>Local targets follow applied snapshots: readiness, destinations in turn, and what a refused connect means.</summary>
public sealed class LocalTargetsTests
{
    private static ReplicaAddress Address(string text) => ReplicaAddress.TryParse(text, out var address) ? address : throw new ArgumentException(text);

    private static Dictionary<string, ReplicaAddress[]> Snapshot(params (string Key, string[] Ready)[] workloads) =>
        workloads.ToDictionary(w => w.Key, w => w.Ready.Select(Address).ToArray());

    [Fact]
    public void For_BeforeAnySnapshot_NotReadyAndNowhereToSend()
    {
        var target = new LocalTargets(new InterceptorMetrics()).For("default", "echo");

        Assert.Equal(EndpointState.NotReady, target.Readiness.State);
        Assert.Null(target.Pick(tls: false));
        Assert.Equal("default/echo", target.Key);
    }

    [Fact]
    public void Apply_ReplicasInTurn_TlsRequestsToHttps_EmptyAgainIsNotReady()
    {
        var targets = new LocalTargets(new InterceptorMetrics());
        var target = targets.For("default", "echo");

        targets.Apply(Snapshot(("default/echo", ["127.0.0.1:1001", "[::1]:1002"])), 1);

        Assert.True(target.Readiness.IsReady);
        string?[] picks = [target.Pick(false), target.Pick(false), target.Pick(false), target.Pick(false)];
        Assert.Equal(2, picks.Count(p => p == "http://127.0.0.1:1001"));
        Assert.Equal(2, picks.Count(p => p == "http://[::1]:1002"));
        Assert.StartsWith("https://", target.Pick(tls: true), StringComparison.Ordinal);

        targets.Apply(Snapshot(), 2);

        Assert.Equal(EndpointState.NotReady, target.Readiness.State);
        Assert.Null(target.Pick(tls: false));
        Assert.Equal(2UL, targets.Version);
    }

    [Fact]
    public void For_AfterASnapshot_StartsFromIt_SameObjectForTheSameWorkload()
    {
        var targets = new LocalTargets(new InterceptorMetrics());
        targets.Apply(Snapshot(("team/api", ["127.0.0.1:2001"])), 5);

        var target = targets.For("team", "api");

        Assert.True(target.Readiness.IsReady);
        Assert.Equal("http://127.0.0.1:2001", target.Pick(false));
        Assert.Same(target, targets.For("team", "api"));
        Assert.NotSame(target, targets.For("other", "api"));
    }

    [Fact]
    public void ConnectionRefused_ListedKeepsDialling_DroppedPicksAgain_UnknownIsNotLocal()
    {
        var targets = new LocalTargets(new InterceptorMetrics());
        targets.Apply(Snapshot(("default/echo", ["127.0.0.1:3001", "[::1]:3002"])), 1);

        Assert.False(targets.ConnectionRefused("127.0.0.1:3001"));
        Assert.False(targets.ConnectionRefused("::1:3002"));
        Assert.Null(targets.ConnectionRefused("127.0.0.1:9999"));

        targets.Apply(Snapshot(("default/echo", ["[::1]:3002"])), 2);

        Assert.True(targets.ConnectionRefused("127.0.0.1:3001"));
        Assert.False(targets.ConnectionRefused("::1:3002"));

        targets.Apply(Snapshot(("default/echo", ["127.0.0.1:3001"])), 3);

        Assert.False(targets.ConnectionRefused("127.0.0.1:3001"));
        Assert.True(targets.ConnectionRefused("::1:3002"));
    }

    [Fact]
    public void Apply_GaugePerWorkload_RemovedWithTheWorkload()
    {
        var metrics = new InterceptorMetrics();
        var targets = new LocalTargets(metrics);

        targets.Apply(Snapshot(("default/a", ["127.0.0.1:1", "127.0.0.1:2"]), ("default/b", [])), 1);
        var first = Scrape(metrics);
        targets.Apply(Snapshot(("default/b", ["127.0.0.1:3"])), 2);
        var second = Scrape(metrics);

        Assert.Contains("interceptor_local_replicas{workload=\"default/a\"} 2", first, StringComparison.Ordinal);
        Assert.Contains("interceptor_local_replicas{workload=\"default/b\"} 0", first, StringComparison.Ordinal);
        Assert.DoesNotContain("workload=\"default/a\"", second, StringComparison.Ordinal);
        Assert.Contains("interceptor_local_replicas{workload=\"default/b\"} 1", second, StringComparison.Ordinal);
    }

    private static string Scrape(InterceptorMetrics metrics)
    {
        using var stream = new MemoryStream();
        metrics.Registry.CollectAndExportAsTextAsync(stream).GetAwaiter().GetResult();
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }
}
