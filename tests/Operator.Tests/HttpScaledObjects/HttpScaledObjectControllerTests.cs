using System.Text.Json.Nodes;
using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.HttpScaledObjects;

/// <summary>The HTTPScaledObject controller against the real kube-apiserver, one namespace per test.</summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class HttpScaledObjectControllerTests(RealApiServer api)
{
    private static int _namespaces;

    [Fact]
    public async Task Create_WritesTheScaledObjectStatusAndEvent_AndASecondPassWritesNothing()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "web", min: 1, max: 7, change: o =>
        {
            o["metadata"]!["labels"] = new JsonObject { ["team"] = "shop" };
            o["spec"]!["scaledownPeriod"] = 120;
        }));

        var so = await WaitForScaledObjectAsync(ns, "web", so => so["spec"]?["maxReplicaCount"]?.GetValue<int>() == 7);
        var httpso = await api.GetAsync(In(HttpScaledObjectsPath, ns, "web"));
        Assert.Equal("keda-add-ons-http-external-scaler.updraft-system:9090", so["spec"]!["triggers"]![0]!["metadata"]!["scalerAddress"]!.GetValue<string>());
        Assert.Equal("external-push", so["spec"]!["triggers"]![0]!["type"]!.GetValue<string>());
        Assert.Equal("web", so["spec"]!["triggers"]![0]!["metadata"]!["httpScaledObject"]!.GetValue<string>());
        Assert.Equal(1, so["spec"]!["minReplicaCount"]!.GetValue<int>());
        Assert.Equal(120, so["spec"]!["cooldownPeriod"]!.GetValue<int>());
        Assert.Equal(15, so["spec"]!["pollingInterval"]!.GetValue<int>());
        Assert.Equal("shop", so["metadata"]!["labels"]!["team"]!.GetValue<string>());
        var owner = so["metadata"]!["ownerReferences"]![0]!;
        Assert.Equal(httpso!["metadata"]!["uid"]!.GetValue<string>(), owner["uid"]!.GetValue<string>());
        Assert.True(owner["controller"]!.GetValue<bool>());
        Assert.Equal("HTTPScaledObject", owner["kind"]!.GetValue<string>());

        httpso = await WaitForReadyAsync(ns, "web", "True");
        Assert.Equal("apps/v1/Deployment/web", httpso["status"]!["targetWorkload"]!.GetValue<string>());
        Assert.Equal("web:8080", httpso["status"]!["targetService"]!.GetValue<string>());
        Assert.Equal("Reconciled", Ready(httpso)!["reason"]!.GetValue<string>());
        Assert.Null(httpso["metadata"]!["finalizers"]);
        await Eventually.TrueAsync(async () => (await EventsAsync(ns, "web")).Contains("ScaledObjectCreated"), () => "a ScaledObjectCreated event");

        await op.IdleAsync();
        var writes = op.Writes;
        await op.ResyncAsync();
        Assert.Equal(writes, op.Writes);
    }

    [Fact]
    public async Task SpecChanges_UpdateTheScaledObject_AndUnsetFieldsAreRemoved()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "web", min: 0, max: 10, change: o => o["spec"]!["scaledownPeriod"] = 60));
        await WaitForScaledObjectAsync(ns, "web", so => so["spec"]?["cooldownPeriod"]?.GetValue<int>() == 60);

        await api.ReplaceAsync(In(HttpScaledObjectsPath, ns, "web"), HttpScaledObject(ns, "web", min: 2, max: 20, change: o => o["spec"]!["initialCooldownPeriod"] = 30));
        var so = await WaitForScaledObjectAsync(ns, "web", so => so["spec"]?["maxReplicaCount"]?.GetValue<int>() == 20);
        Assert.Equal(2, so["spec"]!["minReplicaCount"]!.GetValue<int>());
        Assert.Equal(30, so["spec"]!["initialCooldownPeriod"]!.GetValue<int>());
        Assert.Null(so["spec"]!["cooldownPeriod"]);
    }

    [Fact]
    public async Task UserEditsOfOwnedFields_ArePutBack_OtherFieldsAndAnnotationsAreLeftAlone()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "web", min: 0, max: 10));
        var so = await WaitForScaledObjectAsync(ns, "web", _ => true);
        await WaitForReadyAsync(ns, "web", "True");

        so["spec"]!["maxReplicaCount"] = 50;
        so["spec"]!["triggers"] = new JsonArray(new JsonObject { ["type"] = "cpu", ["metadata"] = new JsonObject { ["value"] = "50" } });
        so["spec"]!["idleReplicaCount"] = 0;
        so["metadata"]!["annotations"] = new JsonObject { ["autoscaling.keda.sh/paused"] = "true" };
        await api.ReplaceAsync(In(ScaledObjectsPath, ns, "web"), so);

        so = await WaitForScaledObjectAsync(ns, "web", s => s["spec"]?["maxReplicaCount"]?.GetValue<int>() == 10);
        Assert.Equal("external-push", so["spec"]!["triggers"]![0]!["type"]!.GetValue<string>());
        Assert.Single(so["spec"]!["triggers"]!.AsArray());
        Assert.Equal(0, so["spec"]!["idleReplicaCount"]!.GetValue<int>());
        Assert.Equal("true", so["metadata"]!["annotations"]!["autoscaling.keda.sh/paused"]!.GetValue<string>());

        // A deleted ScaledObject comes back.
        await api.DeleteAsync(In(ScaledObjectsPath, ns, "web"));
        await WaitForScaledObjectAsync(ns, "web", s => s["spec"]?["idleReplicaCount"] is null);
    }

    [Fact]
    public async Task OrphanAnnotation_RemovesTheOwnerReference_AndKeepsTheScaledObject()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "web"));
        await WaitForScaledObjectAsync(ns, "web", so => so["metadata"]?["ownerReferences"] is JsonArray { Count: 1 });

        await api.ReplaceAsync(In(HttpScaledObjectsPath, ns, "web"), HttpScaledObject(ns, "web", change: o =>
            o["metadata"]!["annotations"] = new JsonObject { ["httpscaledobject.keda.sh/orphan-scaledobject"] = "true" }));
        var so = await WaitForScaledObjectAsync(ns, "web", s => s["metadata"]?["ownerReferences"] is null or JsonArray { Count: 0 });
        Assert.Equal("external-push", so["spec"]!["triggers"]![0]!["type"]!.GetValue<string>());
        await WaitForReadyAsync(ns, "web", "True", message => message.Contains("without an owner", StringComparison.Ordinal));

        // Stays orphaned: later passes change nothing.
        await op.IdleAsync();
        var writes = op.Writes;
        await op.ResyncAsync();
        Assert.Equal(writes, op.Writes);
        so = (await api.GetAsync(In(ScaledObjectsPath, ns, "web")))!;
        Assert.True(so["metadata"]?["ownerReferences"] is null or JsonArray { Count: 0 });

        // Without the annotation the ScaledObject is adopted again.
        await api.ReplaceAsync(In(HttpScaledObjectsPath, ns, "web"), HttpScaledObject(ns, "web"));
        var uid = (await api.GetAsync(In(HttpScaledObjectsPath, ns, "web")))!["metadata"]!["uid"]!.GetValue<string>();
        await WaitForScaledObjectAsync(ns, "web", s => s["metadata"]?["ownerReferences"] is JsonArray { Count: 1 } owners && owners[0]!["uid"]!.GetValue<string>() == uid);
    }

    [Fact]
    public async Task SkipAnnotation_DeletesTheOwnedScaledObject_AndRemovingItCreatesOneAgain()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "web"));
        await WaitForScaledObjectAsync(ns, "web", _ => true);

        await api.ReplaceAsync(In(HttpScaledObjectsPath, ns, "web"), HttpScaledObject(ns, "web", change: o =>
            o["metadata"]!["annotations"] = new JsonObject { ["httpscaledobject.keda.sh/skip-scaledobject-creation"] = "true" }));
        await Eventually.TrueAsync(async () => await api.GetAsync(In(ScaledObjectsPath, ns, "web")) is null, () => "the ScaledObject is deleted");
        await WaitForReadyAsync(ns, "web", "True", message => message.Contains("skip-scaledobject-creation", StringComparison.Ordinal));

        // A user's own ScaledObject of another name is not touched.
        var mine = new JsonObject
        {
            ["apiVersion"] = "keda.sh/v1alpha1",
            ["kind"] = "ScaledObject",
            ["metadata"] = new JsonObject { ["name"] = "mine", ["namespace"] = ns },
            ["spec"] = new JsonObject
            {
                ["scaleTargetRef"] = new JsonObject { ["name"] = "web" },
                ["triggers"] = new JsonArray(new JsonObject { ["type"] = "external-push", ["metadata"] = new JsonObject { ["httpScaledObject"] = "web", ["scalerAddress"] = "x:9090" } }),
            },
        };
        await api.CreateAsync(In(ScaledObjectsPath, ns), mine);

        await api.ReplaceAsync(In(HttpScaledObjectsPath, ns, "web"), HttpScaledObject(ns, "web"));
        await WaitForScaledObjectAsync(ns, "web", _ => true);
        var untouched = await api.GetAsync(In(ScaledObjectsPath, ns, "mine"));
        Assert.Equal("x:9090", untouched!["spec"]!["triggers"]![0]!["metadata"]!["scalerAddress"]!.GetValue<string>());
    }

    [Fact]
    public async Task Delete_ReleasesTheAddOnsFinalizer_AndTheScaledObjectIsLeftToTheGarbageCollector()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        // As the add-on's operator left it: with its finalizer.
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "web", change: o =>
            o["metadata"]!["finalizers"] = new JsonArray("httpscaledobject.http.keda.sh", "example.com/other")));
        var so = await WaitForScaledObjectAsync(ns, "web", _ => true);
        var uid = (await api.GetAsync(In(HttpScaledObjectsPath, ns, "web")))!["metadata"]!["uid"]!.GetValue<string>();
        Assert.Equal(uid, so["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());

        await api.DeleteAsync(In(HttpScaledObjectsPath, ns, "web"));
        await Eventually.TrueAsync(
            async () => (await api.GetAsync(In(HttpScaledObjectsPath, ns, "web")))?["metadata"]?["finalizers"] is JsonArray { Count: 1 } remaining
                && remaining[0]!.GetValue<string>() == "example.com/other",
            () => "the add-on's finalizer is released and the other is kept");

        // Someone else's finalizer is theirs to remove; then the object is gone.
        var current = (await api.GetAsync(In(HttpScaledObjectsPath, ns, "web")))!;
        current["metadata"]!["finalizers"] = new JsonArray();
        await api.ReplaceAsync(In(HttpScaledObjectsPath, ns, "web"), current);
        await Eventually.TrueAsync(async () => await api.GetAsync(In(HttpScaledObjectsPath, ns, "web")) is null, () => "the HTTPScaledObject is gone");
        await Eventually.TrueAsync(async () => await api.GetAsync(In(ScaledObjectsPath, ns, "web")) is null, () => "the garbage collector deletes its ScaledObject", TimeSpan.FromSeconds(90));
    }

    [Fact]
    public async Task ObjectsTheRulesReject_GetReadyFalseAndAWarning_AndTheOthersStillReconcile()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "both-ports", change: o => o["spec"]!["scaleTargetRef"]!["portName"] = "http"));
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "unknown-kind", change: o => o["spec"]!["scaleTargetRef"]!["kind"] = "Gadget"));
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "unserved", change: o => o["spec"]!["scaleTargetRef"]!["apiVersion"] = "example.com/v9"));
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "min-over-max", min: 5, max: 2));
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "both-metrics", change: o => o["spec"]!["scalingMetric"] = new JsonObject
        {
            ["concurrency"] = new JsonObject { ["targetValue"] = 10 },
            ["requestRate"] = new JsonObject { ["targetValue"] = 10 },
        }));
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "good"));

        await WaitForScaledObjectAsync(ns, "good", _ => true);
        (string Name, string Expected)[] rejected =
        [
            ("both-ports", "spec.scaleTargetRef: must define either the 'portName' or the 'port'"),
            ("unknown-kind", "apps/v1 has no kind Gadget"),
            ("unserved", "does not serve example.com/v9"),
            ("min-over-max", "spec.replicas: min (5) must not be greater than max (2)"),
            ("both-metrics", "set either concurrency or requestRate, not both"),
        ];
        foreach (var (name, expected) in rejected)
        {
            var item = await WaitForReadyAsync(ns, name, "False");
            Assert.Equal("CreateError", Ready(item)!["reason"]!.GetValue<string>());
            Assert.Contains(expected, Ready(item)!["message"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Null(await api.GetAsync(In(ScaledObjectsPath, ns, name)));
            await Eventually.TrueAsync(async () => (await EventsAsync(ns, name)).Contains("Warning CreateError"), () => $"a Warning event for {name}");
        }

        // Fixing one makes it reconcile.
        await api.ReplaceAsync(In(HttpScaledObjectsPath, ns, "min-over-max"), HttpScaledObject(ns, "min-over-max", min: 1, max: 2));
        await WaitForScaledObjectAsync(ns, "min-over-max", _ => true);
        await WaitForReadyAsync(ns, "min-over-max", "True");

        // Rejected objects are not written again and again.
        await op.IdleAsync();
        var writes = op.Writes;
        await op.ResyncAsync();
        Assert.Equal(writes, op.Writes);
    }

    [Fact]
    public async Task ScaledObjectControlledBySomethingElse_IsNotTakenOver()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        // A real owner (left to OpenFunction's controller), or the garbage collector would delete its ScaledObject.
        var owner = await api.CreateAsync($"/apis/core.openfunction.io/v1beta2/namespaces/{ns}/functions", new JsonObject
        {
            ["apiVersion"] = "core.openfunction.io/v1beta2",
            ["kind"] = "Function",
            ["metadata"] = new JsonObject { ["name"] = "web", ["namespace"] = ns, ["annotations"] = new JsonObject { ["updraft.dev/reconcile"] = "false" } },
            ["spec"] = new JsonObject { ["image"] = "example/web", ["serving"] = new JsonObject() },
        });
        var foreign = new JsonObject
        {
            ["apiVersion"] = "keda.sh/v1alpha1",
            ["kind"] = "ScaledObject",
            ["metadata"] = new JsonObject
            {
                ["name"] = "web",
                ["namespace"] = ns,
                ["ownerReferences"] = new JsonArray(new JsonObject
                {
                    ["apiVersion"] = "core.openfunction.io/v1beta2",
                    ["kind"] = "Function",
                    ["name"] = "web",
                    ["uid"] = owner["metadata"]!["uid"]!.GetValue<string>(),
                    ["controller"] = true,
                }),
            },
            ["spec"] = new JsonObject
            {
                ["scaleTargetRef"] = new JsonObject { ["name"] = "web" },
                ["maxReplicaCount"] = 3,
                ["triggers"] = new JsonArray(new JsonObject { ["type"] = "cpu", ["metadata"] = new JsonObject { ["value"] = "50" } }),
            },
        };
        await api.CreateAsync(In(ScaledObjectsPath, ns), foreign);
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "web"));

        var item = await WaitForReadyAsync(ns, "web", "False");
        Assert.Contains("controlled by Function web", Ready(item)!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        var so = await api.GetAsync(In(ScaledObjectsPath, ns, "web"));
        Assert.Equal(3, so!["spec"]!["maxReplicaCount"]!.GetValue<int>());
        Assert.Equal("cpu", so["spec"]!["triggers"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task Restart_MidWay_LeavesOneScaledObjectPerHttpScaledObject_AndRewritesNothingDone()
    {
        var ns = await NamespaceAsync();
        var first = await OperatorHarness.StartAsync(api, ns);
        for (var i = 0; i < 20; i++)
        {
            await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "app" + i));
        }

        // Stopped while some are reconciled and others are not.
        await WaitForScaledObjectAsync(ns, "app0", _ => true);
        await first.DisposeAsync();

        await using var second = await OperatorHarness.StartAsync(api, ns);
        await Eventually.TrueAsync(async () => (await ListAsync(In(ScaledObjectsPath, ns))).Count == 20, () => "20 ScaledObjects");
        for (var i = 0; i < 20; i++)
        {
            await WaitForReadyAsync(ns, "app" + i, "True");
        }

        var scaledObjects = await ListAsync(In(ScaledObjectsPath, ns));
        Assert.All(scaledObjects, so => Assert.Single(so["metadata"]!["ownerReferences"]!.AsArray()));
        await second.IdleAsync();
        var writes = second.Writes;
        await using var third = await OperatorHarness.StartAsync(api, ns);
        await third.IdleAsync();
        await third.ResyncAsync();
        Assert.Equal(0, third.Writes);
        Assert.Equal(writes, second.Writes);
    }

    [Fact]
    public async Task Probes_AndMetrics_ServeOnTheirOwnPorts()
    {
        var ns = await NamespaceAsync();
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(HttpScaledObjectsPath, ns), HttpScaledObject(ns, "web"));
        await WaitForReadyAsync(ns, "web", "True");
        await Eventually.TrueAsync(async () => (await OperatorHarness.GetAsync(op.HealthPort, "/readyz")).StartsWith("200", StringComparison.Ordinal), () => "/readyz is 200");
        Assert.StartsWith("200", await OperatorHarness.GetAsync(op.HealthPort, "/healthz"), StringComparison.Ordinal);
        Assert.StartsWith("404", await OperatorHarness.GetAsync(op.HealthPort, "/metrics"), StringComparison.Ordinal);
        Assert.StartsWith("404", await OperatorHarness.GetAsync(op.MetricsPort, "/healthz"), StringComparison.Ordinal);
        var metrics = await OperatorHarness.GetAsync(op.MetricsPort, "/metrics");
        Assert.Contains("controller_runtime_reconcile_total{controller=\"httpscaledobject\",result=\"success\"}", metrics, StringComparison.Ordinal);
        Assert.Contains("workqueue_depth{name=\"httpscaledobject\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("updraft_operator_api_writes_total{resource=\"scaledobjects\",verb=\"create\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("leader_election_master_status{name=\"updraft-operator\"} 1", metrics, StringComparison.Ordinal);
    }

    private async Task<string> NamespaceAsync()
    {
        await api.ApplyCrdsWithKedaAsync();
        var ns = "op-httpso-" + Interlocked.Increment(ref _namespaces);
        await api.EnsureNamespaceAsync(ns);
        return ns;
    }

    private async Task<JsonObject> WaitForScaledObjectAsync(string ns, string name, Func<JsonObject, bool> condition)
    {
        JsonObject? last = null;
        await Eventually.TrueAsync(
            async () => (last = await api.GetAsync(In(ScaledObjectsPath, ns, name))) is { } so && condition(so),
            () => $"ScaledObject {ns}/{name}: {last?.ToJsonString() ?? "missing"}");
        return last!;
    }

    private async Task<JsonObject> WaitForReadyAsync(string ns, string name, string status, Func<string, bool>? message = null)
    {
        JsonObject? last = null;
        await Eventually.TrueAsync(
            async () => (last = await api.GetAsync(In(HttpScaledObjectsPath, ns, name))) is { } item
                && Ready(item)?["status"]?.GetValue<string>() == status
                && (message is null || message(Ready(item)!["message"]!.GetValue<string>())),
            () => $"HTTPScaledObject {ns}/{name} Ready={status}: {last?["status"]?.ToJsonString() ?? "missing"}");
        return last!;
    }

    private async Task<List<JsonObject>> ListAsync(string collection)
    {
        var list = await api.GetAsync(collection);
        return [.. list!["items"]!.AsArray().Select(item => item!.AsObject())];
    }

    /// <summary>"type reason" of every Event about <paramref name="name"/>.</summary>
    private async Task<HashSet<string>> EventsAsync(string ns, string name)
    {
        var events = await ListAsync(In(EventsPath, ns));
        return [.. events.Where(e => e["involvedObject"]?["name"]?.GetValue<string>() == name)
            .Select(e => e["type"]!.GetValue<string>() + " " + e["reason"]!.GetValue<string>())
            .Concat(events.Where(e => e["involvedObject"]?["name"]?.GetValue<string>() == name).Select(e => e["reason"]!.GetValue<string>()))];
    }
}
