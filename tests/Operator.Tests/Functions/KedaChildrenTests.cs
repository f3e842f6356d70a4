using System.Text.Json.Nodes;
using Updraft.Operator.Functions.Keda;
using Updraft.Operator.Options;
using static Updraft.Operator.Tests.Functions.SeedFunctions;

namespace Updraft.Operator.Tests.Functions.Keda;

/// <summary>
/// <see cref="KedaChildren.Build"/> with broken or hostile Functions: each gets one problem line naming the field, and
/// no child is built (the reconciler then reports <c>InvalidSpec</c> and writes nothing).
/// </summary>
public sealed class KedaChildrenTests
{
    private static readonly OperatorOptions Options = new() { Namespace = "updraft-system" };

    private const string Keda = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: app
        spec:
          image: example/app
          serving:
            triggers:
              http:
                engine: keda
        """;

    [Theory]
    [InlineData("host-with-path", "spec.serving.triggers.http.route.hostnames[0]: \"a.example.com/x\" is not a host name")]
    [InlineData("host-with-port", "spec.serving.triggers.http.route.hostnames[0]: \"a.example.com:80\" is not a host name")]
    [InlineData("blank-host", "spec.serving.triggers.http.route.hostnames[0]: \"  \" is not a host name")]
    [InlineData("long-name", "metadata.name: \"")]
    [InlineData("dotted-name", "metadata.name: \"app.v2\" cannot name a Service")]
    [InlineData("no-image", "spec.image: is required")]
    [InlineData("negative-min", "spec.serving.scaleOptions: minReplicas (-1)")]
    [InlineData("zero-target", "spec.serving.scaleOptions.keda.httpScaledObject: targetPendingRequests must be at least 1")]
    [InlineData("regex-path", "rules[0].matches[0].path.type: RegularExpression is not supported")]
    [InlineData("method", "rules[0].matches[0].method: matching on the method is not supported")]
    [InlineData("query", "rules[0].matches[0].queryParams: matching on query parameters is not supported")]
    [InlineData("regex-header", "rules[0].matches[0].headers: RegularExpression header matches are not supported")]
    [InlineData("dapr", "spec.serving.triggers.dapr[0].type: \"cron\" is not defined in spec.serving.bindings, pubsub or states")]
    [InlineData("dapr-mode", "spec.serving.annotations[\"openfunction.io/dapr-service-mode\"]: \"proxy\" is not a Dapr service mode")]
    public void Build_BrokenFunction_OneProblemNamingTheField_AndNoChildren(string change, string expected)
    {
        var function = Parse(Keda, f =>
        {
            var http = f["spec"]!["serving"]!["triggers"]!["http"]!;
            JsonObject Match(JsonObject match) => new() { ["rules"] = new JsonArray(new JsonObject { ["matches"] = new JsonArray(match) }) };
            switch (change)
            {
                case "host-with-path": http["route"] = new JsonObject { ["hostnames"] = new JsonArray("a.example.com/x") }; break;
                case "host-with-port": http["route"] = new JsonObject { ["hostnames"] = new JsonArray("a.example.com:80") }; break;
                case "blank-host": http["route"] = new JsonObject { ["hostnames"] = new JsonArray("  ") }; break;
                case "long-name": f["metadata"]!["name"] = new string('a', 60); break;
                case "dotted-name": f["metadata"]!["name"] = "app.v2"; break;
                case "no-image": f["spec"]!.AsObject().Remove("image"); break;
                case "negative-min": f["spec"]!["serving"]!["scaleOptions"] = new JsonObject { ["minReplicas"] = -1 }; break;
                case "zero-target":
                    f["spec"]!["serving"]!["scaleOptions"] = new JsonObject { ["keda"] = new JsonObject { ["httpScaledObject"] = new JsonObject { ["targetPendingRequests"] = 0 } } };
                    break;
                case "regex-path": http["route"] = Match(new JsonObject { ["path"] = new JsonObject { ["type"] = "RegularExpression", ["value"] = "/a.*" } }); break;
                case "method": http["route"] = Match(new JsonObject { ["method"] = "POST" }); break;
                case "query": http["route"] = Match(new JsonObject { ["queryParams"] = new JsonArray(new JsonObject { ["name"] = "q", ["value"] = "1" }) }); break;
                case "regex-header":
                    http["route"] = Match(new JsonObject { ["headers"] = new JsonArray(new JsonObject { ["type"] = "RegularExpression", ["name"] = "x", ["value"] = ".*" }) });
                    break;
                case "dapr": f["spec"]!["serving"]!["triggers"]!["dapr"] = new JsonArray(new JsonObject { ["name"] = "cron" }); break;
                case "dapr-mode":
                    f["spec"]!["serving"]!["outputs"] = new JsonArray(new JsonObject { ["dapr"] = new JsonObject { ["name"] = "out", ["type"] = "bindings.kafka" } });
                    f["spec"]!["serving"]!["annotations"] = new JsonObject { ["openfunction.io/dapr-service-mode"] = "proxy" };
                    break;
            }
        });

        var (children, problems) = KedaChildren.Build(function, Options);

        Assert.Empty(children);
        var problem = Assert.Single(problems);
        Assert.Contains(expected, problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Build_ManyRepeatedHostnames_AreDeduplicated_AndLowerCased()
    {
        var function = Parse(Keda, f => f["spec"]!["serving"]!["triggers"]!["http"]!["route"] = new JsonObject
        {
            ["hostnames"] = new JsonArray([.. Enumerable.Range(0, 16).Select(i => (JsonNode)JsonValue.Create(i % 2 == 0 ? "A.Example.com" : "a.example.com"))]),
        });

        var (children, problems) = KedaChildren.Build(function, Options);

        Assert.Empty(problems);
        var route = children.Single(c => c.Resource == Kubernetes.Model.ApiResource.InterceptorRoutes).Desired;
        Assert.Equal(["a.example.com", "app.default.svc.cluster.local", "app.default.svc", "app.default"], route["spec"]!["rules"]![0]!["hosts"]!.AsArray().Select(h => h!.GetValue<string>()));
    }

    [Fact]
    public void Build_EventsProducerSampleOnTheKedaEngine_GetsADaprSidecarAndItsContext()
    {
        var function = Parse(EventsProducer, f => f["spec"]!["serving"]!["triggers"]!["http"] = new JsonObject { ["engine"] = "keda" });

        var (children, problems) = KedaChildren.Build(function, Options);

        Assert.Empty(problems);
        var deployment = children.Single(c => c.Resource == Kubernetes.Model.ApiResource.Deployments).Desired;
        var template = deployment["spec"]!["template"]!;
        Assert.Equal("true", template["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        Assert.Equal("events-producer-default", template["metadata"]!["annotations"]!["dapr.io/app-id"]!.GetValue<string>());
        var context = JsonNode.Parse(Env(FunctionContainer(template), "FUNC_CONTEXT_V1BETA2")!)!;
        Assert.Equal("events-producer-bindings-kafka-server", context["outputs"]!["kafka-server"]!["componentName"]!.GetValue<string>());
        Assert.Null(Env(FunctionContainer(template), "DAPR_HOST"));
        Assert.DoesNotContain(children, c => c.Name == "events-producer-dapr-proxy");
    }

    [Fact]
    public void Build_StandaloneDaprOnTheKedaEngine_AddsTheProxy_AndPointsTheFunctionAtIt()
    {
        var options = new OperatorOptions { Namespace = "updraft-system", DaprProxyImage = "example/dapr-proxy:v2" };
        var function = Parse(EventsProducer, f =>
        {
            f["spec"]!["serving"]!["triggers"]!["http"] = new JsonObject { ["engine"] = "keda" };
            f["spec"]!["serving"]!["annotations"] = new JsonObject { ["openfunction.io/dapr-service-mode"] = "standalone" };
        });

        var (children, problems) = KedaChildren.Build(function, options);

        Assert.Empty(problems);
        var template = children.Single(c => c.Name == "events-producer" && c.Resource == Kubernetes.Model.ApiResource.Deployments).Desired["spec"]!["template"]!;
        Assert.Equal("false", template["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        Assert.Equal("events-producer-default-dapr.default.svc.cluster.local", Env(FunctionContainer(template), "DAPR_HOST"));
        var proxy = children.Single(c => c.Name == "events-producer-dapr-proxy").Desired;
        Assert.Equal("example/dapr-proxy:v2", proxy["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.GetValue<string>());
    }

    [Fact]
    public void Build_UserLabelsNamingTheSelectorLabels_DoNotBreakTheSelector()
    {
        var function = Parse(Keda, f => f["spec"]!["serving"]!["labels"] = new JsonObject { ["openfunction.io/function"] = "other", ["app.kubernetes.io/managed-by"] = "helm", ["team"] = "a" });

        var (children, problems) = KedaChildren.Build(function, Options);

        Assert.Empty(problems);
        var spec = children.Single(c => c.Resource == Kubernetes.Model.ApiResource.Deployments).Desired["spec"]!;
        var labels = spec["template"]!["metadata"]!["labels"]!;
        foreach (var (key, value) in spec["selector"]!["matchLabels"]!.AsObject())
        {
            Assert.Equal(value!.GetValue<string>(), labels[key]!.GetValue<string>());
        }

        Assert.Equal("a", labels["team"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("WasmEdge")]
    [InlineData("wasmedge")]
    public void Build_WasmEdgeFunction_RunsOnCrunWithTheWasmVariant(string runtime)
    {
        var function = Parse(Keda, f => f["spec"]!["workloadRuntime"] = runtime);

        var (children, _) = KedaChildren.Build(function, Options);

        var template = children.Single(c => c.Resource == Kubernetes.Model.ApiResource.Deployments).Desired["spec"]!["template"]!;
        Assert.Equal("openfunction-crun", template["spec"]!["runtimeClassName"]!.GetValue<string>());
        Assert.Equal("compat-smart", template["metadata"]!["annotations"]!["module.wasm.image/variant"]!.GetValue<string>());
    }

    [Fact]
    public void Build_OciFunctionWithAnOwnRuntimeClass_KeepsIt()
    {
        var function = Parse(Keda, f => f["spec"]!["serving"]!["template"] = new JsonObject { ["runtimeClassName"] = "gvisor" });

        var (children, _) = KedaChildren.Build(function, Options);

        var template = children.Single(c => c.Resource == Kubernetes.Model.ApiResource.Deployments).Desired["spec"]!["template"]!;
        Assert.Equal("gvisor", template["spec"]!["runtimeClassName"]!.GetValue<string>());
        Assert.Null(template["metadata"]!["annotations"]!["module.wasm.image/variant"]);
    }
}
