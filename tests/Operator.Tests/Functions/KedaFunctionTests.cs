using System.Text.Json.Nodes;
using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.FunctionApi;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.Functions;

/// <summary>OpenFunction Functions with <c>engine: keda</c>, served by Updraft, against the real kube-apiserver.</summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class KedaFunctionTests(RealApiServer api)
{
    private readonly FunctionApi _cluster = new(api);

    [Fact]
    public async Task KedaFunction_GetsItsChildren_TheirStatusAndAddresses_AndASecondPassWritesNothing()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "podinfo", f =>
        {
            f["spec"]!["serving"]!["triggers"]!["http"]!["port"] = 9898;
            f["spec"]!["serving"]!["triggers"]!["http"]!["route"] = new JsonObject
            {
                ["hostnames"] = new JsonArray("podinfo.com"),
                ["rules"] = new JsonArray(new JsonObject { ["matches"] = new JsonArray(new JsonObject { ["path"] = new JsonObject { ["type"] = "PathPrefix", ["value"] = "/api" } }) }),
            };
            f["spec"]!["serving"]!["scaleOptions"] = new JsonObject
            {
                ["minReplicas"] = 0,
                ["maxReplicas"] = 10,
                ["keda"] = new JsonObject { ["httpScaledObject"] = new JsonObject { ["targetPendingRequests"] = 50, ["cooldownPeriod"] = 60 } },
            };
            f["spec"]!["serving"]!["params"] = new JsonObject { ["GREETING"] = "hi" };
        }));

        var deployment = await WaitForAsync(In(DeploymentsPath, ns, "podinfo"));
        var uid = (await api.GetAsync(In(FunctionsPath, ns, "podinfo")))!["metadata"]!["uid"]!.GetValue<string>();
        var container = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("function", container["name"]!.GetValue<string>());
        Assert.Equal("stefanprodan/podinfo", container["image"]!.GetValue<string>());
        Assert.Equal(9898, container["ports"]![0]!["containerPort"]!.GetValue<int>());
        Assert.Equal("function-port", container["ports"]![0]!["name"]!.GetValue<string>());
        var env = container["env"]!.AsArray().ToDictionary(e => e!["name"]!.GetValue<string>(), e => e!["value"]?.GetValue<string>());
        Assert.Equal("hi", env["GREETING"]);
        Assert.Contains("\"engine\":\"keda\"", env["FUNC_CONTEXT_V1BETA2"], StringComparison.Ordinal);
        Assert.Equal(ns, env["POD_NAMESPACE"]);
        Assert.Equal(1, deployment["spec"]!["replicas"]!.GetValue<int>());

        var direct = await WaitForAsync(In(ServicesPath, ns, "podinfo-direct"));
        Assert.Equal(9898, direct["spec"]!["ports"]![0]!["targetPort"]!.GetValue<int>());
        var entry = await WaitForAsync(In(ServicesPath, ns, "podinfo"));
        Assert.Equal("ExternalName", entry["spec"]!["type"]!.GetValue<string>());
        Assert.Equal("keda-add-ons-http-interceptor-proxy.updraft-system.svc.cluster.local", entry["spec"]!["externalName"]!.GetValue<string>());

        var route = await WaitForAsync(In(InterceptorRoutesPath, ns, "podinfo"));
        var hosts = route["spec"]!["rules"]![0]!["hosts"]!.AsArray().Select(h => h!.GetValue<string>()).ToList();
        Assert.Equal(["podinfo.com", $"podinfo.{ns}.svc.cluster.local", $"podinfo.{ns}.svc", $"podinfo.{ns}"], hosts);
        Assert.Equal("/api", route["spec"]!["rules"]![0]!["paths"]![0]!["value"]!.GetValue<string>());
        Assert.Equal(50, route["spec"]!["scalingMetric"]!["concurrency"]!["targetValue"]!.GetValue<int>());
        Assert.Equal("podinfo-direct", route["spec"]!["target"]!["service"]!.GetValue<string>());

        var so = await WaitForAsync(In(ScaledObjectsPath, ns, "podinfo"));
        Assert.Equal("podinfo", so["spec"]!["triggers"]![0]!["metadata"]!["interceptorRoute"]!.GetValue<string>());
        Assert.Equal(60, so["spec"]!["cooldownPeriod"]!.GetValue<int>());
        Assert.Equal(10, so["spec"]!["maxReplicaCount"]!.GetValue<int>());
        foreach (var child in new[] { deployment, direct, entry, route, so })
        {
            Assert.Equal(uid, child["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());
        }

        // One Event says what the first reconcile created.
        var created = await _cluster.WaitForEventAsync(ns, "podinfo", "Created");
        Assert.Equal("Created Deployment podinfo, Service podinfo-direct, InterceptorRoute podinfo, ScaledObject podinfo, Service podinfo", created);

        // No deployment controller runs here: play it, and the Function becomes Running and Ready.
        var function = await WaitForStateAsync(ns, "podinfo", "Starting");
        await RolledOutAsync(ns, "podinfo");
        function = await WaitForStateAsync(ns, "podinfo", "Running");
        Assert.Equal("True", Condition(function, "Ready")!["status"]!.GetValue<string>());
        Assert.Equal("True", Condition(function, "RouteReady")!["status"]!.GetValue<string>());
        var addresses = function["status"]!["addresses"]!.AsArray().Select(a => a!["type"]!.GetValue<string>() + " " + a["value"]!.GetValue<string>()).ToList();
        Assert.Equal([$"Internal http://podinfo.{ns}.svc.cluster.local/", "External http://podinfo.com/api"], addresses);

        await op.IdleAsync();
        var writes = op.Writes;
        await op.ResyncAsync();
        Assert.Equal(writes, op.Writes);
    }

    [Fact]
    public async Task NoHostnamesNoScaleOptions_AreReachableAtTheClusterNames_WithDefaults()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "bare"));

        var route = await WaitForAsync(In(InterceptorRoutesPath, ns, "bare"));
        Assert.Equal([$"bare.{ns}.svc.cluster.local", $"bare.{ns}.svc", $"bare.{ns}"], route["spec"]!["rules"]![0]!["hosts"]!.AsArray().Select(h => h!.GetValue<string>()));
        Assert.Equal("/", route["spec"]!["rules"]![0]!["paths"]![0]!["value"]!.GetValue<string>());
        Assert.Equal(100, route["spec"]!["scalingMetric"]!["concurrency"]!["targetValue"]!.GetValue<int>());
        var so = await WaitForAsync(In(ScaledObjectsPath, ns, "bare"));
        Assert.Equal(300, so["spec"]!["cooldownPeriod"]!.GetValue<int>());
        Assert.Equal(0, so["spec"]!["minReplicaCount"]!.GetValue<int>());
        var deployment = await WaitForAsync(In(DeploymentsPath, ns, "bare"));
        Assert.Equal(8080, deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["ports"]![0]!["containerPort"]!.GetValue<int>());
    }

    [Fact]
    public async Task ExactPath_IsRejectedWithACondition_NeverWidenedToAPrefix_AndOtherFunctionsCarryOn()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "exact", f => f["spec"]!["serving"]!["triggers"]!["http"]!["route"] = new JsonObject
        {
            ["rules"] = new JsonArray(new JsonObject { ["matches"] = new JsonArray(new JsonObject { ["path"] = new JsonObject { ["type"] = "Exact", ["value"] = "/only" } }) }),
        }));
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "fine"));

        var function = await WaitForStateAsync(ns, "exact", "Failed");
        Assert.Equal("InvalidSpec", function["status"]!["serving"]!["reason"]!.GetValue<string>());
        Assert.Contains("path.type: Exact is not supported", function["status"]!["serving"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("False", Condition(function, "Ready")!["status"]!.GetValue<string>());
        Assert.Null(await api.GetAsync(In(InterceptorRoutesPath, ns, "exact")));
        Assert.Null(await api.GetAsync(In(DeploymentsPath, ns, "exact")));
        await Eventually.TrueAsync(
            async () => (await api.GetAsync(In(EventsPath, ns)))!["items"]!.AsArray().Any(e => e?["reason"]?.GetValue<string>() == "InvalidSpec" && e["involvedObject"]?["name"]?.GetValue<string>() == "exact"),
            () => "a Warning event");
        await WaitForAsync(In(InterceptorRoutesPath, ns, "fine"));
    }

    [Fact]
    public async Task Updates_ChangeTheChildrenInPlace_KeepKedasReplicas_AndPutBackDrift()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "app"));
        var deployment = await WaitForAsync(In(DeploymentsPath, ns, "app"));
        await WaitForAsync(In(ScaledObjectsPath, ns, "app"));

        // KEDA scales the Deployment: the operator must not undo it.
        deployment["spec"]!["replicas"] = 3;
        await api.ReplaceAsync(In(DeploymentsPath, ns, "app"), deployment);

        var function = (await api.GetAsync(In(FunctionsPath, ns, "app")))!;
        function["spec"]!["image"] = "stefanprodan/podinfo:6.5.0";
        await api.ReplaceAsync(In(FunctionsPath, ns, "app"), function);
        deployment = await WaitForAsync(In(DeploymentsPath, ns, "app"), d => d["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == "stefanprodan/podinfo:6.5.0");
        Assert.Equal(3, deployment["spec"]!["replicas"]!.GetValue<int>());

        var so = (await api.GetAsync(In(ScaledObjectsPath, ns, "app")))!;
        so["spec"]!["cooldownPeriod"] = 1;
        await api.ReplaceAsync(In(ScaledObjectsPath, ns, "app"), so);
        await WaitForAsync(In(ScaledObjectsPath, ns, "app"), s => s["spec"]!["cooldownPeriod"]!.GetValue<int>() == 300);

        await api.DeleteAsync(In(ServicesPath, ns, "app"));
        await WaitForAsync(In(ServicesPath, ns, "app"));
    }

    [Fact]
    public async Task EngineChangeToKnative_RemovesTheKedaChildren_WritesAKnativeService_AndOptOut_LeavesAFunctionAlone()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "switch"));
        await WaitForAsync(In(ScaledObjectsPath, ns, "switch"));
        await WaitForAsync(In(ServicesPath, ns, "switch-direct"));

        var function = (await api.GetAsync(In(FunctionsPath, ns, "switch")))!;
        function["spec"]!["serving"]!["triggers"]!["http"]!["engine"] = "knative";
        function["spec"]!["serving"]!["scaleOptions"] = new JsonObject { ["minReplicas"] = 1, ["maxReplicas"] = 5 };
        await api.ReplaceAsync(In(FunctionsPath, ns, "switch"), function);
        foreach (var path in new[] { In(DeploymentsPath, ns, "switch"), In(ServicesPath, ns, "switch"), In(ServicesPath, ns, "switch-direct"), In(InterceptorRoutesPath, ns, "switch"), In(ScaledObjectsPath, ns, "switch") })
        {
            await Eventually.TrueAsync(async () => await api.GetAsync(path) is null, () => path + " is deleted");
        }

        // The knative engine: a Knative Service of the same name; the Function runs once Knative says it is ready.
        var knative = await WaitForAsync(In(KnativeServicesPath, ns, "switch"));
        var annotations = knative["spec"]!["template"]!["metadata"]!["annotations"]!;
        Assert.Equal("1", annotations["autoscaling.knative.dev/minScale"]!.GetValue<string>());
        Assert.Equal("1", annotations["autoscaling.knative.dev/min-scale"]!.GetValue<string>());
        Assert.Equal("5", annotations["autoscaling.knative.dev/maxScale"]!.GetValue<string>());
        Assert.Equal("stefanprodan/podinfo", knative["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        await WaitForStateAsync(ns, "switch", "Starting");
        knative["status"] = new JsonObject
        {
            ["observedGeneration"] = knative["metadata"]!["generation"]!.GetValue<long>(),
            ["url"] = $"http://switch.{ns}.example.com",
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "True" }),
        };
        await api.ReplaceAsync(In(KnativeServicesPath, ns, "switch") + "/status", knative);
        function = await WaitForStateAsync(ns, "switch", "Running");
        Assert.Equal("True", Condition(function, "Ready")!["status"]!.GetValue<string>());

        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "theirs", f => f["metadata"]!["annotations"] = new JsonObject { ["updraft.dev/reconcile"] = "false" }));
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "ours"));
        await WaitForAsync(In(ScaledObjectsPath, ns, "ours"));
        await op.IdleAsync();
        Assert.Null(await api.GetAsync(In(DeploymentsPath, ns, "theirs")));
        Assert.Null((await api.GetAsync(In(FunctionsPath, ns, "theirs")))!["status"]);
    }

    [Fact]
    public async Task Delete_LeavesNothingBehind_DaprChildrenIncluded()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "gone", f =>
        {
            var serving = f["spec"]!["serving"]!;
            serving["annotations"] = new JsonObject { ["openfunction.io/dapr-service-mode"] = "standalone" };
            serving["outputs"] = new JsonArray(new JsonObject { ["dapr"] = new JsonObject { ["name"] = "audit", ["operation"] = "create" } });
            serving["bindings"] = new JsonObject { ["audit"] = new JsonObject { ["type"] = "bindings.kafka", ["version"] = "v1", ["metadata"] = new JsonArray() } };
        }));
        var children = new[]
        {
            In(DeploymentsPath, ns, "gone"), In(DeploymentsPath, ns, "gone-dapr-proxy"), In(ServicesPath, ns, "gone"),
            In(ServicesPath, ns, "gone-direct"), In(InterceptorRoutesPath, ns, "gone"), In(ScaledObjectsPath, ns, "gone"),
            In(ComponentsPath, ns, "gone-bindings-audit"),
        };
        foreach (var child in children)
        {
            await WaitForAsync(child);
        }

        // Owner references, not the operator, remove them: the garbage collector runs beside the test API server.
        await api.DeleteAsync(In(FunctionsPath, ns, "gone"));
        foreach (var child in children)
        {
            await Eventually.TrueAsync(async () => await api.GetAsync(child) is null, () => child + " is deleted with its Function", TimeSpan.FromSeconds(90));
        }
    }

    private Task<string> NamespaceAsync() => _cluster.NamespaceAsync("op-fn");

    private static JsonObject Function(string ns, string name, Action<JsonObject>? change = null)
    {
        var function = new JsonObject
        {
            ["apiVersion"] = "core.openfunction.io/v1beta2",
            ["kind"] = "Function",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = new JsonObject
            {
                ["version"] = "v2.0.0",
                ["image"] = "stefanprodan/podinfo",
                ["serving"] = new JsonObject
                {
                    ["triggers"] = new JsonObject { ["http"] = new JsonObject { ["engine"] = "keda" } },
                    ["template"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "function", ["imagePullPolicy"] = "IfNotPresent" }) },
                },
            },
        };
        change?.Invoke(function);
        return function;
    }

    private Task RolledOutAsync(string ns, string name) => _cluster.RolledOutAsync(DeploymentsPath, ns, name);

    private Task<JsonObject> WaitForAsync(string path, Func<JsonObject, bool>? condition = null) => _cluster.WaitForAsync(path, condition);

    private Task<JsonObject> WaitForStateAsync(string ns, string name, string state) => _cluster.WaitForStateAsync(ns, name, state);
}
