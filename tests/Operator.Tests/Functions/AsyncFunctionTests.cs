using System.Text.Json.Nodes;
using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Functions.SeedFunctions;
using static Updraft.Operator.Tests.Infrastructure.FunctionApi;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.Functions;

/// <summary>
/// Async OpenFunction Functions (Dapr and KEDA triggers, no HTTP trigger) served by Updraft's operator, against the
/// real kube-apiserver. No workload controller runs there: the tests write the status a controller would.
/// </summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class AsyncFunctionTests(RealApiServer api)
{
    private readonly FunctionApi _cluster = new(api);

    [Fact]
    public async Task TriggerTargetSample_GetsItsDeploymentScaledObjectAndComponent_AndRunsOnlyOnceItsReplicaIsReady()
    {
        var ns = await _cluster.NamespaceAsync("op-async");
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Seed(TriggerTarget, ns));
        const string Fn = "trigger-target";

        var deployment = await _cluster.WaitForAsync(In(DeploymentsPath, ns, Fn));
        var uid = (await api.GetAsync(In(FunctionsPath, ns, Fn)))!["metadata"]!["uid"]!.GetValue<string>();
        var template = deployment["spec"]!["template"]!;
        Assert.Equal("true", template["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        Assert.Equal("8080", template["metadata"]!["annotations"]!["dapr.io/app-port"]!.GetValue<string>());
        Assert.Equal($"{Fn}-{ns}", template["metadata"]!["annotations"]!["dapr.io/app-id"]!.GetValue<string>());
        Assert.Equal(1, deployment["spec"]!["replicas"]!.GetValue<int>());

        var so = await _cluster.WaitForAsync(In(ScaledObjectsPath, ns, Fn));
        Assert.Equal("Deployment", so["spec"]!["scaleTargetRef"]!["kind"]!.GetValue<string>());
        Assert.Equal("stan", so["spec"]!["triggers"]![0]!["type"]!.GetValue<string>());
        Assert.Equal("metrics", so["spec"]!["triggers"]![0]!["metadata"]!["subject"]!.GetValue<string>());
        Assert.Equal(30, so["spec"]!["cooldownPeriod"]!.GetValue<int>());

        var component = await _cluster.WaitForAsync(In(ComponentsPath, ns, $"{Fn}-pubsub-eventbus"));
        Assert.Equal("pubsub.natsstreaming", component["spec"]!["type"]!.GetValue<string>());
        Assert.Equal([$"{Fn}-{ns}"], component["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
        foreach (var child in new[] { deployment, so, component })
        {
            Assert.Equal(uid, child["metadata"]!["ownerReferences"]![0]!["uid"]!.GetValue<string>());
        }

        // v1beta1's replica counts inside scaledObject are not v1beta2 fields: the user is told, once.
        var notes = await _cluster.WaitForEventAsync(ns, Fn, "SpecNotes");
        Assert.Contains("scaledObject.minReplicaCount", notes, StringComparison.Ordinal);

        // OpenFunction reports an async function Running at once; here it is Running only with its replica ready.
        await _cluster.WaitForStateAsync(ns, Fn, "Starting");
        await _cluster.RolledOutAsync(DeploymentsPath, ns, Fn, ready: 0);
        await Eventually.TrueAsync(
            async () => (await api.GetAsync(In(FunctionsPath, ns, Fn)))!["status"]?["serving"]?["message"]?.GetValue<string>()?.Contains("0 of 1 replicas ready", StringComparison.Ordinal) == true,
            () => "the Function says how many replicas are ready");
        await _cluster.RolledOutAsync(DeploymentsPath, ns, Fn, ready: 1);
        var function = await _cluster.WaitForStateAsync(ns, Fn, "Running");
        Assert.Equal("True", Condition(function, "Ready")!["status"]!.GetValue<string>());
        Assert.Contains("Notes:", Condition(function, "Ready")!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("NoHttpTrigger", Condition(function, "RouteReady")!["reason"]!.GetValue<string>());
        Assert.Equal("ScaledObjectWritten", Condition(function, "ScalerReady")!["reason"]!.GetValue<string>());
        Assert.Null(function["status"]!["addresses"]);

        // Settled: another pass writes nothing.
        await op.IdleAsync();
        var writes = op.Writes;
        await op.ResyncAsync();
        await op.IdleAsync();
        Assert.Equal(writes, op.Writes);
    }

    [Fact]
    public async Task JobWithTriggers_IsStartedOnlyByItsScaledJob_AndBacklogTriggersGoToUpdraftsScalerWhenAsked()
    {
        var ns = await _cluster.NamespaceAsync("op-async");
        await using var op = await OperatorHarness.StartAsync(api, ns, new() { ["UPDRAFT_OPERATOR_BACKLOG_SCALER"] = "updraft" });
        await api.CreateAsync(In(FunctionsPath, ns), Async(ns, "batch", serving =>
        {
            serving["workloadType"] = "Job";
            serving["scaleOptions"] = new JsonObject
            {
                ["maxReplicas"] = 4,
                ["keda"] = new JsonObject
                {
                    ["scaledJob"] = new JsonObject { ["restartPolicy"] = "Never", ["successfulJobsHistoryLimit"] = 2 },
                    ["triggers"] = new JsonArray(new JsonObject
                    {
                        ["type"] = "kafka",
                        ["metadata"] = new JsonObject { ["bootstrapServers"] = "kafka:9092", ["consumerGroup"] = "g", ["topic"] = "orders", ["lagThreshold"] = "5" },
                    }),
                },
            };
        }));

        var scaledJob = await _cluster.WaitForAsync(In(ScaledJobsPath, ns, "batch"));
        Assert.Equal("Never", scaledJob["spec"]!["jobTargetRef"]!["template"]!["spec"]!["restartPolicy"]!.GetValue<string>());
        Assert.Equal(4, scaledJob["spec"]!["maxReplicaCount"]!.GetValue<int>());
        Assert.Equal(2, scaledJob["spec"]!["successfulJobsHistoryLimit"]!.GetValue<int>());
        var trigger = scaledJob["spec"]!["triggers"]![0]!;
        Assert.Equal("external", trigger["type"]!.GetValue<string>());
        Assert.Equal("kafka", trigger["metadata"]!["source"]!.GetValue<string>());
        Assert.Equal("orders", trigger["metadata"]!["topic"]!.GetValue<string>());
        Assert.Equal($"keda-add-ons-http-external-scaler.{OperatorHarness.OperatorNamespace}:9090", trigger["metadata"]!["scalerAddress"]!.GetValue<string>());

        // The ScaledJob is the workload: the Function runs once KEDA says it works.
        var function = await _cluster.WaitForStateAsync(ns, "batch", "Starting");
        Assert.Equal("ScaledJobWritten", Condition(function, "ScalerReady")!["reason"]!.GetValue<string>());
        await op.IdleAsync();
        Assert.Null(await api.GetAsync(In(JobsPath, ns, "batch")));
        await ScaledJobReadyAsync(ns, "batch", "True", "ScaledJobReady", "ScaledJob is defined correctly and is ready to scaling");
        function = await _cluster.WaitForStateAsync(ns, "batch", "Running");
        Assert.Equal("ScalerReady", Condition(function, "ScalerReady")!["reason"]!.GetValue<string>());

        // KEDA says the ScaledJob cannot work: the Function says so.
        await ScaledJobReadyAsync(ns, "batch", "False", "ScaledJobCheckFailed", "no such topic");
        function = await _cluster.WaitForStateAsync(ns, "batch", "Failed");
        Assert.Equal("ScaledJobCheckFailed", function["status"]!["serving"]!["reason"]!.GetValue<string>());
        Assert.Equal("False", Condition(function, "ScalerReady")!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task JobWithoutTriggers_RunsOnce_ItsStateFollowsTheJob_AndAChangedFunctionDoesNotRerunIt()
    {
        var ns = await _cluster.NamespaceAsync("op-async");
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Async(ns, "once", serving =>
        {
            serving["workloadType"] = "Job";
            serving["triggers"] = OrdersBinding();
        }));

        var job = await _cluster.WaitForAsync(In(JobsPath, ns, "once"));
        Assert.Equal("OnFailure", job["spec"]!["template"]!["spec"]!["restartPolicy"]!.GetValue<string>());
        await _cluster.WaitForStateAsync(ns, "once", "Starting");
        await _cluster.JobStatusAsync(ns, "once", new JsonObject { ["active"] = 1 });
        await _cluster.WaitForStateAsync(ns, "once", "Running");
        await _cluster.JobStatusAsync(ns, "once", new JsonObject
        {
            ["succeeded"] = 1,
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Complete", ["status"] = "True" }),
        });
        var function = await _cluster.WaitForStateAsync(ns, "once", "Succeeded");
        Assert.Equal("True", Condition(function, "Ready")!["status"]!.GetValue<string>());

        function["spec"]!["image"] = "example/async:v2";
        await api.ReplaceAsync(In(FunctionsPath, ns, "once"), function);
        await Eventually.TrueAsync(
            async () => Condition((await api.GetAsync(In(FunctionsPath, ns, "once")))!, "Ready")?["observedGeneration"]?.GetValue<long>() == 2,
            () => "the changed Function is reconciled");
        await op.IdleAsync();
        var after = (await api.GetAsync(In(JobsPath, ns, "once")))!;
        Assert.Equal(job["metadata"]!["uid"]!.GetValue<string>(), after["metadata"]!["uid"]!.GetValue<string>());
        Assert.Equal("example/async:v1", after["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());

        // A failed Job fails the Function, with the Job's reason.
        await _cluster.JobStatusAsync(ns, "once", new JsonObject
        {
            ["failed"] = 6,
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Failed", ["status"] = "True", ["reason"] = "BackoffLimitExceeded", ["message"] = "Job has reached the specified backoff limit" }),
        });
        function = await _cluster.WaitForStateAsync(ns, "once", "Failed");
        Assert.Equal("BackoffLimitExceeded", function["status"]!["serving"]!["reason"]!.GetValue<string>());
    }

    [Fact]
    public async Task StandaloneDapr_WaitsForItsProxy_WhichUsesTheConfiguredImage_AndGetsAHeadlessEventService()
    {
        var ns = await _cluster.NamespaceAsync("op-async");
        await using var op = await OperatorHarness.StartAsync(api, ns, new() { ["UPDRAFT_OPERATOR_DAPR_PROXY_IMAGE"] = "registry.test/dapr-proxy:v9" });
        await api.CreateAsync(In(FunctionsPath, ns), Seed(LogsAsyncHandler, ns, f => f["spec"]!["serving"]!["annotations"] = new JsonObject { ["openfunction.io/dapr-service-mode"] = "standalone" }));
        const string Fn = "logs-async-handler";

        var deployment = await _cluster.WaitForAsync(In(DeploymentsPath, ns, Fn));
        Assert.Equal("false", deployment["spec"]!["template"]!["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        Assert.Equal($"{Fn}-{ns}-dapr.{ns}.svc.cluster.local", Env(FunctionContainer(deployment["spec"]!["template"]!), "DAPR_HOST"));
        var proxy = await _cluster.WaitForAsync(In(DeploymentsPath, ns, $"{Fn}-dapr-proxy"));
        Assert.Equal("registry.test/dapr-proxy:v9", proxy["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Equal("true", proxy["spec"]!["template"]!["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        var service = await _cluster.WaitForAsync(In(ServicesPath, ns, Fn));
        Assert.Equal("None", service["spec"]!["clusterIP"]!.GetValue<string>());
        await _cluster.WaitForAsync(In(ComponentsPath, ns, $"{Fn}-bindings-kafka-receiver"));

        await _cluster.RolledOutAsync(DeploymentsPath, ns, Fn);
        await Eventually.TrueAsync(
            async () => (await api.GetAsync(In(FunctionsPath, ns, Fn)))!["status"]?["serving"]?["message"]?.GetValue<string>()?.StartsWith("dapr-proxy:", StringComparison.Ordinal) == true,
            () => "the Function waits for its dapr-proxy");
        Assert.Equal("Starting", (await api.GetAsync(In(FunctionsPath, ns, Fn)))!["status"]!["serving"]!["state"]!.GetValue<string>());
        await _cluster.RolledOutAsync(DeploymentsPath, ns, $"{Fn}-dapr-proxy");
        await _cluster.WaitForStateAsync(ns, Fn, "Running");
    }

    [Fact]
    public async Task StatefulSet_WaitsForEveryReplica_ThenAnEngineChangeToKedaLeavesNothingAsyncBehind_AndABadTypeFailsClearly()
    {
        var ns = await _cluster.NamespaceAsync("op-async");
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Async(ns, "stateful", serving =>
        {
            serving["workloadType"] = "StatefulSet";
            serving["triggers"] = OrdersBinding();
            serving["scaleOptions"] = new JsonObject { ["minReplicas"] = 2 };
        }));
        await api.CreateAsync(In(FunctionsPath, ns), Async(ns, "cron", serving =>
        {
            serving["workloadType"] = "CronJob";
            serving["triggers"] = OrdersBinding();
        }));

        var set = await _cluster.WaitForAsync(In(StatefulSetsPath, ns, "stateful"));
        Assert.Equal(2, set["spec"]!["replicas"]!.GetValue<int>());
        Assert.Equal("stateful", set["spec"]!["serviceName"]!.GetValue<string>());
        await _cluster.RolledOutAsync(StatefulSetsPath, ns, "stateful", ready: 1);
        await Eventually.TrueAsync(
            async () => (await api.GetAsync(In(FunctionsPath, ns, "stateful")))!["status"]?["serving"]?["message"]?.GetValue<string>()?.Contains("1 of 2 replicas ready", StringComparison.Ordinal) == true,
            () => "the Function waits for both replicas");
        await _cluster.RolledOutAsync(StatefulSetsPath, ns, "stateful", ready: 2);
        await _cluster.WaitForStateAsync(ns, "stateful", "Running");

        var bad = await _cluster.WaitForStateAsync(ns, "cron", "Failed");
        Assert.Equal("InvalidSpec", bad["status"]!["serving"]!["reason"]!.GetValue<string>());
        Assert.Contains("workloadType: \"CronJob\" is not a workload type", bad["status"]!["serving"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await _cluster.WaitForEventAsync(ns, "cron", "InvalidSpec");

        var function = (await api.GetAsync(In(FunctionsPath, ns, "stateful")))!;
        function["spec"]!["serving"]!["triggers"] = new JsonObject { ["http"] = new JsonObject { ["engine"] = "keda" } };
        await api.ReplaceAsync(In(FunctionsPath, ns, "stateful"), function);
        await _cluster.WaitForAsync(In(ScaledObjectsPath, ns, "stateful"));
        await _cluster.WaitForAsync(In(InterceptorRoutesPath, ns, "stateful"));
        await _cluster.WaitForGoneAsync(In(StatefulSetsPath, ns, "stateful"));
        await op.IdleAsync();
        Assert.Equal(
            "ExternalName",
            (await api.GetAsync(In(ServicesPath, ns, "stateful")))!["spec"]!["type"]!.GetValue<string>());
    }

    /// <summary>What KEDA writes on a ScaledJob it has checked.</summary>
    private async Task ScaledJobReadyAsync(string ns, string name, string status, string reason, string message)
    {
        var scaledJob = (await api.GetAsync(In(ScaledJobsPath, ns, name)))!;
        scaledJob["status"] = new JsonObject { ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = status, ["reason"] = reason, ["message"] = message }) };
        await api.ReplaceAsync(In(ScaledJobsPath, ns, name) + "/status", scaledJob);
    }

    private static JsonObject Seed(string yaml, string ns, Action<JsonObject>? change = null)
    {
        var json = RealApiServer.YamlToJson(yaml).Single();
        json["metadata"]!["namespace"] = ns;
        change?.Invoke(json);
        return json;
    }

    /// <summary>A Dapr trigger on an existing Component (so no Component is made): an async Function with a Dapr sidecar.</summary>
    private static JsonObject OrdersBinding() => new()
    {
        ["dapr"] = new JsonArray(new JsonObject { ["name"] = "orders", ["type"] = "bindings.kafka" }),
    };

    /// <summary>An async Function: <paramref name="serving"/> gives it its triggers and workload.</summary>
    private static JsonObject Async(string ns, string name, Action<JsonObject> serving)
    {
        var function = new JsonObject
        {
            ["apiVersion"] = "core.openfunction.io/v1beta2",
            ["kind"] = "Function",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = new JsonObject { ["version"] = "v1.0.0", ["image"] = "example/async:v1", ["serving"] = new JsonObject() },
        };
        serving((JsonObject)function["spec"]!["serving"]!);
        return function;
    }
}
