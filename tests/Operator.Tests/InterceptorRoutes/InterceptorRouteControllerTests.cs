using System.Text.Json.Nodes;
using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.InterceptorRoutes;

/// <summary>The InterceptorRoute controller's <c>Ready</c> condition against the real kube-apiserver.</summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class InterceptorRouteControllerTests(RealApiServer api)
{
    private static int _namespaces;

    [Fact]
    public async Task Ready_FollowsTheTargetService_AndIsWrittenOnlyWhenTheAnswerChanges()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(InterceptorRoutesPath, ns), InterceptorRoute(ns, "route", "web", port: 8080));
        var route = await WaitForReadyAsync(ns, "route", "False", "TargetServiceNotFound");
        Assert.Contains("Service web does not exist", Ready(route)!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var since = Ready(route)!["lastTransitionTime"]!.GetValue<string>();

        await api.CreateAsync(In(ServicesPath, ns), Service(ns, "web", ("http", 9000)));
        route = await WaitForReadyAsync(ns, "route", "False", "TargetPortNotFound");
        Assert.Contains("has no port 8080", Ready(route)!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        // Still False: the transition time stays.
        Assert.Equal(since, Ready(route)!["lastTransitionTime"]!.GetValue<string>());

        await api.ReplaceAsync(In(ServicesPath, ns, "web"), Service(ns, "web", ("http", 8080)));
        route = await WaitForReadyAsync(ns, "route", "True", "Reconciled");
        Assert.Equal(route["metadata"]!["generation"]!.GetValue<long>(), Ready(route)!["observedGeneration"]!.GetValue<long>());

        // Nothing changed: nothing is written, even on a full resync or an unrelated Service change.
        await op.IdleAsync();
        var writes = op.Writes;
        await api.CreateAsync(In(ServicesPath, ns), Service(ns, "other", ("http", 80)));
        await op.ResyncAsync();
        Assert.Equal(writes, op.Writes);

        await api.DeleteAsync(In(ServicesPath, ns, "web"));
        await WaitForReadyAsync(ns, "route", "False", "TargetServiceNotFound");
    }

    [Fact]
    public async Task NamedPort_IsLookedUpOnTheService()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(ServicesPath, ns), Service(ns, "web", ("http", 8080)));
        await api.CreateAsync(In(InterceptorRoutesPath, ns), InterceptorRoute(ns, "good", "web", port: null, portName: "http"));
        await api.CreateAsync(In(InterceptorRoutesPath, ns), InterceptorRoute(ns, "bad", "web", port: null, portName: "grpc"));
        await WaitForReadyAsync(ns, "good", "True", "Reconciled");
        var bad = await WaitForReadyAsync(ns, "bad", "False", "TargetPortNotFound");
        Assert.Contains("has no port grpc", Ready(bad)!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task RouteTheInterceptorWouldReject_IsNotReady_WithEveryProblemAndAWarningEvent()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(ServicesPath, ns), Service(ns, "web", ("http", 8080)));
        var route = InterceptorRoute(ns, "bad", "web", port: 8080, portName: "http");
        route["spec"]!["rules"] = new JsonArray(new JsonObject { ["paths"] = new JsonArray(new JsonObject { ["value"] = "no-slash" }) });
        await api.CreateAsync(In(InterceptorRoutesPath, ns), route);

        var item = await WaitForReadyAsync(ns, "bad", "False", "InvalidRoute");
        var message = Ready(item)!["message"]!.GetValue<string>();
        Assert.Contains("spec.target: exactly one of 'port' or 'portName' must be set", message, StringComparison.Ordinal);
        Assert.Contains("spec.rules[0].paths[0]", message, StringComparison.Ordinal);
        await Eventually.TrueAsync(
            async () => (await api.GetAsync(In(EventsPath, ns)))!["items"]!.AsArray()
                .Any(e => e?["reason"]?.GetValue<string>() == "InvalidRoute" && e["type"]?.GetValue<string>() == "Warning" && e["involvedObject"]?["kind"]?.GetValue<string>() == "InterceptorRoute"),
            () => "a Warning event");

        // Fixed: Ready.
        await api.ReplaceAsync(In(InterceptorRoutesPath, ns, "bad"), InterceptorRoute(ns, "bad", "web", port: 8080));
        await WaitForReadyAsync(ns, "bad", "True", "Reconciled");
    }

    private async Task<string> NamespaceAsync()
    {
        await api.ApplyCrdsWithKedaAsync();
        var ns = "op-route-" + Interlocked.Increment(ref _namespaces);
        await api.EnsureNamespaceAsync(ns);
        return ns;
    }

    private async Task<JsonObject> WaitForReadyAsync(string ns, string name, string status, string reason)
    {
        JsonObject? last = null;
        await Eventually.TrueAsync(
            async () => (last = await api.GetAsync(In(InterceptorRoutesPath, ns, name))) is { } item
                && Ready(item)?["status"]?.GetValue<string>() == status
                && Ready(item)?["reason"]?.GetValue<string>() == reason,
            () => $"InterceptorRoute {ns}/{name} Ready={status} ({reason}): {last?["status"]?.ToJsonString() ?? "missing"}");
        return last!;
    }
}
