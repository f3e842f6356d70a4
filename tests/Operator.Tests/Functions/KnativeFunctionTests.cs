using System.Text.Json.Nodes;
using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.FunctionApi;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.Functions;

/// <summary>OpenFunction Functions with <c>engine: knative</c> (or none), against the real kube-apiserver with the Knative Service CRD fixture.</summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class KnativeFunctionTests(RealApiServer api)
{
    private readonly FunctionApi _cluster = new(api);

    [Fact]
    public async Task Updates_ChangeTheKnativeServiceInPlace_SoKnativeRollsANewRevision_AndDriftIsPutBack()
    {
        var ns = await _cluster.NamespaceAsync("op-knative");
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "greeter"));
        var first = await _cluster.WaitForAsync(In(KnativeServicesPath, ns, "greeter"));
        var template = first["spec"]!["template"]!;
        Assert.Equal("example/greeter:v1", template["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
        Assert.Null(template["metadata"]!["name"]);

        // OpenFunction deleted the old Knative Service and made one with a new random name (its issue #504); here the
        // same Service changes, which Knative turns into a new revision with traffic moving over once it is ready.
        var function = (await api.GetAsync(In(FunctionsPath, ns, "greeter")))!;
        function["spec"]!["image"] = "example/greeter:v2";
        function["spec"]!["serving"]!["scaleOptions"] = new JsonObject { ["minReplicas"] = 2, ["maxReplicas"] = 4, ["knative"] = new JsonObject { ["autoscaling.knative.dev/target"] = "30" } };
        await api.ReplaceAsync(In(FunctionsPath, ns, "greeter"), function);
        var second = await _cluster.WaitForAsync(In(KnativeServicesPath, ns, "greeter"), s => s["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == "example/greeter:v2");
        Assert.Equal(first["metadata"]!["uid"]!.GetValue<string>(), second["metadata"]!["uid"]!.GetValue<string>());
        var annotations = second["spec"]!["template"]!["metadata"]!["annotations"]!;
        Assert.Equal("2", annotations["autoscaling.knative.dev/min-scale"]!.GetValue<string>());
        Assert.Equal("4", annotations["autoscaling.knative.dev/max-scale"]!.GetValue<string>());
        Assert.Equal("30", annotations["autoscaling.knative.dev/target"]!.GetValue<string>());

        // An edit of an owned field is put back; a field Knative or the user adds (traffic) is left alone.
        second["spec"]!["template"]!["spec"]!["containers"]![0]!["image"] = "example/greeter:hacked";
        second["spec"]!["traffic"] = new JsonArray(new JsonObject { ["latestRevision"] = true, ["percent"] = 100 });
        await api.ReplaceAsync(In(KnativeServicesPath, ns, "greeter"), second);
        var repaired = await _cluster.WaitForAsync(In(KnativeServicesPath, ns, "greeter"), s => s["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>() == "example/greeter:v2");
        Assert.Equal(100, repaired["spec"]!["traffic"]![0]!["percent"]!.GetValue<int>());
    }

    [Fact]
    public async Task KnativeSaysNotReady_TheFunctionFailsWithKnativesReason()
    {
        var ns = await _cluster.NamespaceAsync("op-knative");
        await using var op = await OperatorHarness.StartAsync(api, ns);
        await api.CreateAsync(In(FunctionsPath, ns), Function(ns, "broken"));
        var service = await _cluster.WaitForAsync(In(KnativeServicesPath, ns, "broken"));
        await _cluster.WaitForStateAsync(ns, "broken", "Starting");

        service["status"] = new JsonObject
        {
            ["observedGeneration"] = service["metadata"]!["generation"]!.GetValue<long>(),
            ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = "False", ["reason"] = "RevisionMissing", ["message"] = "Revision \"broken-00001\" failed with message: image pull failed." }),
        };
        await api.ReplaceAsync(In(KnativeServicesPath, ns, "broken") + "/status", service);
        var function = await _cluster.WaitForStateAsync(ns, "broken", "Failed");
        Assert.Equal("RevisionMissing", function["status"]!["serving"]!["reason"]!.GetValue<string>());
        Assert.Contains("image pull failed", function["status"]!["serving"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("False", Condition(function, "Ready")!["status"]!.GetValue<string>());
        await _cluster.WaitForEventAsync(ns, "broken", "RevisionMissing");
    }

    private static JsonObject Function(string ns, string name) => new()
    {
        ["apiVersion"] = "core.openfunction.io/v1beta2",
        ["kind"] = "Function",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new JsonObject
        {
            ["version"] = "v1.0.0",
            ["image"] = "example/greeter:v1",
            ["serving"] = new JsonObject { ["triggers"] = new JsonObject { ["http"] = new JsonObject { ["port"] = 8080 } } },
        },
    };
}
