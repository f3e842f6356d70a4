using System.Text.Json.Nodes;
using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.Hosting;

/// <summary>
/// The operator's roles in the chart (<c>charts/updraft/rbac/</c>) are enough: against the real kube-apiserver with RBAC
/// on, an operator that authenticates as a user bound only through them leads, reconciles, writes status and
/// Events, and releases finalizers; with the scaler's read-only role it never becomes ready.
/// </summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class RbacTests(RealApiServer api) : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("updraft-operator-rbac-").FullName;

    [Fact]
    public async Task DocumentedRole_IsEnoughForEverythingTheOperatorDoes()
    {
        await api.ApplyCrdsWithKedaAsync();
        await ApplyRolesAsync();
        const string ns = "op-rbac";
        await api.EnsureNamespaceAsync(ns);
        var settings = OperatorHarness.Settings(KubeconfigFor("updraft-operator-token"), "");
        settings["KEDA_HTTP_OPERATOR_WATCH_NAMESPACE"] = null;
        settings["UPDRAFT_OPERATOR_LEADER_ELECT"] = "true";
        settings["UPDRAFT_OPERATOR_LEASE_NAME"] = "updraft-operator-rbac";
        await using var op = await OperatorHarness.StartAsync(api, ns, settings);

        await api.CreateAsync(In(ServicesPath, ns), Service(ns, "web", ("http", 8080)));
        await api.CreateAsync(In(InterceptorRoutesPath, ns), InterceptorRoute(ns, "route", "web"));
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "web", change: o =>
            o["metadata"]!["finalizers"] = new JsonArray("httpscaledobject.http.keda.sh")));
        await Eventually.TrueAsync(async () => await api.GetAsync(In(ScaledObjectsPath, ns, "web")) is not null, () => "the ScaledObject is created");
        await Eventually.TrueAsync(
            async () => Ready(await api.GetAsync(In(HttpScaledObjectsPath, ns, "web")))?["status"]?.GetValue<string>() == "True",
            () => "the HTTPScaledObject's status is written");
        await Eventually.TrueAsync(
            async () => Ready(await api.GetAsync(In(InterceptorRoutesPath, ns, "route")))?["status"]?.GetValue<string>() == "True",
            () => "the InterceptorRoute's status is written");
        await Eventually.TrueAsync(
            async () => (await api.GetAsync(In(EventsPath, ns)))!["items"]!.AsArray().Any(e => e?["reason"]?.GetValue<string>() == "ScaledObjectCreated"),
            () => "an Event is recorded");
        Assert.NotNull(await api.GetAsync($"/apis/coordination.k8s.io/v1/namespaces/{OperatorHarness.OperatorNamespace}/leases/updraft-operator-rbac"));

        await api.DeleteAsync(In(HttpScaledObjectsPath, ns, "web"));
        await Eventually.TrueAsync(async () => await api.GetAsync(In(HttpScaledObjectsPath, ns, "web")) is null, () => "the finalizer is released");
    }

    [Fact]
    public async Task ReadOnlyRole_IsNotEnough_AndTheOperatorSaysSo()
    {
        await api.ApplyCrdsWithKedaAsync();
        await ApplyRolesAsync();
        const string ns = "op-rbac-denied";
        await api.EnsureNamespaceAsync(ns);
        var settings = OperatorHarness.Settings(KubeconfigFor("updraft-scaler-token"), "");
        settings["KEDA_HTTP_OPERATOR_WATCH_NAMESPACE"] = null;
        settings["UPDRAFT_LOG_LEVEL"] = "info";
        await using var op = OperatorProcess.Start(settings);
        await op.WaitForMetricsPortAsync();
        await Eventually.TrueAsync(() => op.Logged("403"), () => "the operator reports 403 Forbidden");
        var health = int.Parse(op.Output.First(l => l.Contains("Operator started", StringComparison.Ordinal)).Split("probes port ")[1].TrimEnd(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.StartsWith("503", await OperatorHarness.GetAsync(health, "/readyz"), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Creates the chart's roles (charts/updraft/rbac/); each binding also names the test user of the same name.</summary>
    private Task ApplyRolesAsync() => api.ApplyChartRolesAsync(OperatorHarness.OperatorNamespace);

    private string KubeconfigFor(string token)
    {
        var path = Path.Combine(_directory, token + ".kubeconfig");
        File.WriteAllText(path, File.ReadAllText(api.Kubeconfig).Replace(RealApiServer.KnownToken, token, StringComparison.Ordinal));
        return path;
    }
}
