using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.Hosting;

/// <summary>Two operator processes against the real kube-apiserver: one leads, the other takes over when it goes.</summary>
[Collection(RealApiServerDefinition.Name)]
public sealed partial class LeaderElectionTests(RealApiServer api)
{
    private static int _namespaces;

    [Fact]
    public async Task TwoReplicas_OneReconciles_AndAfterTheLeaderIsKilledTheOtherTakesOverWithinTheLease()
    {
        var (ns, lease) = await PrepareAsync();
        var settings = Settings(ns, lease, leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "500ms");
        await using var a = OperatorProcess.Start(settings, "--leader-elect");
        await using var b = OperatorProcess.Start(settings, "--leader-elect");
        await Task.WhenAll(a.WaitForMetricsPortAsync(), b.WaitForMetricsPortAsync());
        await Eventually.TrueAsync(() => a.Logged("Leading (lease") || b.Logged("Leading (lease"), () => "one replica leads");
        var (leader, follower) = a.Logged("Leading (lease") ? (a, b) : (b, a);

        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "first"));
        await Eventually.TrueAsync(async () => await api.GetAsync(In(ScaledObjectsPath, ns, "first")) is not null, () => "the leader reconciles");
        // The follower publishes its status after its first attempt at the lease, which may come after the leader's.
        var followerPort = await follower.WaitForMetricsPortAsync();
        var followerMetrics = "";
        await Eventually.TrueAsync(
            async () => (followerMetrics = await MetricsAsync(followerPort)).Contains($"leader_election_master_status{{name=\"{lease}\"}} 0", StringComparison.Ordinal),
            () => "the follower reports that it does not lead");
        Assert.DoesNotMatch(WritesAboveZero(), followerMetrics);
        Assert.False(follower.Logged("Leading (lease"));

        var killed = Stopwatch.StartNew();
        leader.Kill();
        await follower.WaitForLineAsync(LeadingLine(), TimeSpan.FromSeconds(20));
        // The lease (4 s) must run out first; then the follower's next retry takes it. Generous for a loaded machine.
        Assert.InRange(killed.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(4 + 6));

        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "second"));
        await Eventually.TrueAsync(async () => await api.GetAsync(In(ScaledObjectsPath, ns, "second")) is not null, () => "the new leader reconciles");
    }

    [Fact]
    public async Task GracefulShutdown_ReleasesTheLease_SoTheOtherTakesOverBeforeItWouldExpire()
    {
        var (ns, lease) = await PrepareAsync();
        // A lease far longer than the wait below: only a released lease explains a quick takeover.
        var settings = Settings(ns, lease, leaseDuration: "60s", renewDeadline: "40s", retryPeriod: "500ms");
        await using var a = OperatorProcess.Start(settings, "--leader-elect");
        await a.WaitForLineAsync(LeadingLine(), TimeSpan.FromSeconds(30));
        await using var b = OperatorProcess.Start(settings, "--leader-elect");
        await b.WaitForMetricsPortAsync();

        a.Terminate();
        Assert.Equal(0, await a.WaitForExitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(a.Logged("Released the lease"), string.Join("\n", a.Output));
        await b.WaitForLineAsync(LeadingLine(), TimeSpan.FromSeconds(20));
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "after"));
        await Eventually.TrueAsync(async () => await api.GetAsync(In(ScaledObjectsPath, ns, "after")) is not null, () => "the new leader reconciles");
    }

    [Fact]
    public async Task LosingTheLease_StopsReconcilingAtOnce_UntilItIsWonBack()
    {
        var (ns, lease) = await PrepareAsync();
        var settings = Settings(ns, lease, leaseDuration: "4s", renewDeadline: "3s", retryPeriod: "500ms");
        await using var op = OperatorProcess.Start(settings, "--leader-elect");
        await op.WaitForLineAsync(LeadingLine(), TimeSpan.FromSeconds(30));

        // Someone else takes the lease (as a replica would after a network partition).
        var path = $"/apis/coordination.k8s.io/v1/namespaces/{OperatorHarness.OperatorNamespace}/leases/{lease}";
        var current = (await api.GetAsync(path))!;
        current["spec"]!["holderIdentity"] = "thief";
        current["spec"]!["leaseDurationSeconds"] = 6;
        current["spec"]!["renewTime"] = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ", CultureInfo.InvariantCulture);
        await api.ReplaceAsync(path, current);
        await op.WaitForLineAsync(LostLine(), TimeSpan.FromSeconds(15));

        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "while-lost"));
        // The thief's lease is valid for 6 s from its renewTime: nothing may be reconciled meanwhile.
        var stolenAt = Stopwatch.StartNew();
        while (stolenAt.Elapsed < TimeSpan.FromSeconds(3))
        {
            Assert.Null(await api.GetAsync(In(ScaledObjectsPath, ns, "while-lost")));
            await Task.Delay(200);
        }

        // The thief never renews; the lease expires and the operator wins it back.
        await Eventually.TrueAsync(async () => await api.GetAsync(In(ScaledObjectsPath, ns, "while-lost")) is not null, () => "reconciling resumes once the lease is won back", TimeSpan.FromSeconds(30));
    }

    private async Task<(string Namespace, string Lease)> PrepareAsync()
    {
        await api.ApplyCrdsWithKedaAsync();
        await api.EnsureNamespaceAsync(OperatorHarness.OperatorNamespace);
        var n = Interlocked.Increment(ref _namespaces);
        var ns = "op-leader-" + n;
        await api.EnsureNamespaceAsync(ns);
        return (ns, "updraft-operator-test-" + n + "-" + Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
    }

    private Dictionary<string, string?> Settings(string ns, string lease, string leaseDuration, string renewDeadline, string retryPeriod)
    {
        var settings = OperatorHarness.Settings(api.Kubeconfig, ns);
        settings["UPDRAFT_OPERATOR_LEASE_NAME"] = lease;
        settings["KEDA_HTTP_OPERATOR_LEADER_ELECTION_LEASE_DURATION"] = leaseDuration;
        settings["KEDA_HTTP_OPERATOR_LEADER_ELECTION_RENEW_DEADLINE"] = renewDeadline;
        settings["KEDA_HTTP_OPERATOR_LEADER_ELECTION_RETRY_PERIOD"] = retryPeriod;
        // The tests follow the start-up and leadership lines.
        settings["UPDRAFT_LOG_LEVEL"] = "info";
        return settings;
    }

    private static async Task<string> MetricsAsync(int port)
    {
        using var client = new HttpClient();
        return await client.GetStringAsync($"http://127.0.0.1:{port}/metrics");
    }

    [GeneratedRegex(@"Leading \(lease")]
    private static partial Regex LeadingLine();

    [GeneratedRegex(@"Lost the lease")]
    private static partial Regex LostLine();

    [GeneratedRegex(@"updraft_operator_api_writes_total\{[^}]*\} [1-9]")]
    private static partial Regex WritesAboveZero();
}
