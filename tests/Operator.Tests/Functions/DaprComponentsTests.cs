using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Functions.Dapr;

using static Updraft.Operator.Tests.Functions.SeedFunctions;

namespace Updraft.Operator.Tests.Functions.Dapr;

/// <summary>
/// The Dapr side of Functions: Components from <c>bindings</c>, <c>pubsub</c> and <c>states</c>, built from the samples of
/// OpenFunction's concept docs (<c>shared/seeds/openfunction-concepts-docs.txt</c>), names, and when Dapr is on.
/// </summary>
public sealed class DaprComponentsTests
{
    [Fact]
    public void Build_EventsProducerSample_MakesOneComponentPerBindingScopedToTheApp()
    {
        var function = Parse(EventsProducer);

        var (children, problems) = DaprComponents.Build(function);

        Assert.Empty(problems);
        Assert.Equal(["events-producer-bindings-cron", "events-producer-bindings-kafka-server"], children.Select(c => c.Name));
        foreach (var child in children)
        {
            Assert.Equal(new ApiResource("dapr.io", "v1alpha1", "components"), child.Resource);
            Assert.Equal("dapr.io/v1alpha1", child.Desired["apiVersion"]!.GetValue<string>());
            Assert.Equal("Component", child.Desired["kind"]!.GetValue<string>());
            Assert.Equal("default", child.Desired["metadata"]!["namespace"]!.GetValue<string>());
            Assert.Equal("updraft-operator", child.Desired["metadata"]!["labels"]!["app.kubernetes.io/managed-by"]!.GetValue<string>());
            Assert.Equal("events-producer", child.Desired["metadata"]!["labels"]!["openfunction.io/function"]!.GetValue<string>());
            Assert.Equal(["events-producer-default"], child.Desired["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
            Assert.Null(child.CreateOnly);
        }

        var kafka = children[1].Desired["spec"]!;
        Assert.True(JsonNode.DeepEquals(function.Spec!.Serving!.Bindings!["kafka-server"]!["metadata"], kafka["metadata"]), kafka.ToJsonString());
        Assert.Equal("bindings.kafka", kafka["type"]!.GetValue<string>());
        Assert.Equal("v1", kafka["version"]!.GetValue<string>());
        Assert.Equal("@every 2s", children[0].Desired["spec"]!["metadata"]![0]!["value"]!.GetValue<string>());
    }

    [Fact]
    public void Build_SpecWithoutOptionalFields_OwnsThemAsAbsent()
    {
        var (children, _) = DaprComponents.Build(Parse(EventsProducer));

        var spec = children[0].Desired["spec"]!.AsObject();
        Assert.True(spec.ContainsKey("ignoreErrors"));
        Assert.Null(spec["ignoreErrors"]);
        Assert.True(spec.ContainsKey("initTimeout"));
        Assert.Null(spec["initTimeout"]);
    }

    [Fact]
    public void Build_TriggerTargetSample_MakesThePubsubComponent()
    {
        var (children, problems) = DaprComponents.Build(Parse(TriggerTarget));

        Assert.Empty(problems);
        var component = Assert.Single(children);
        Assert.Equal("trigger-target-pubsub-eventbus", component.Name);
        Assert.Equal("pubsub.natsstreaming", component.Desired["spec"]!["type"]!.GetValue<string>());
        Assert.Equal(5, component.Desired["spec"]!["metadata"]!.AsArray().Count);
        Assert.Equal("nats://nats.default:4222", component.Desired["spec"]!["metadata"]![0]!["value"]!.GetValue<string>());
        Assert.Equal(["trigger-target-default"], component.Desired["scopes"]!.AsArray().Select(s => s!.GetValue<string>()));
    }

    [Fact]
    public void Build_LogsAsyncHandlerSample_MakesTheKafkaBinding()
    {
        var (children, problems) = DaprComponents.Build(Parse(LogsAsyncHandler));

        Assert.Empty(problems);
        var component = Assert.Single(children);
        Assert.Equal("logs-async-handler-bindings-kafka-receiver", component.Name);
        Assert.Equal("logs-handler", component.Desired["spec"]!["metadata"]![4]!["value"]!.GetValue<string>());
    }

    [Fact]
    public void Build_InputsSample_DefinesNothingSoMakesNothing()
    {
        var (children, problems) = DaprComponents.Build(Parse(MysqlInput));

        Assert.Empty(children);
        Assert.Empty(problems);
    }

    [Fact]
    public void Build_StateWithSpec_MakesAComponent_AndWithoutSpecOnlyRefersToOne()
    {
        var function = Parse(MysqlInput, f => f["spec"]!["serving"]!["states"] = new JsonObject
        {
            ["mysql"] = new JsonObject(),
            ["legacy"] = null,
            ["cache"] = new JsonObject
            {
                ["spec"] = new JsonObject
                {
                    ["type"] = "state.redis",
                    ["version"] = "v1",
                    ["metadata"] = new JsonArray(new JsonObject { ["name"] = "redisHost", ["value"] = "redis:6379" }),
                },
            },
        });

        var (children, problems) = DaprComponents.Build(function);

        Assert.Empty(problems);
        var component = Assert.Single(children);
        Assert.Equal("logs-async-handler-state-cache", component.Name);
        Assert.Equal("state.redis", component.Desired["spec"]!["type"]!.GetValue<string>());
        Assert.Equal("redis:6379", component.Desired["spec"]!["metadata"]![0]!["value"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("no-type", "spec.serving.bindings.kafka-receiver.type: is required")]
    [InlineData("no-version", "spec.serving.bindings.kafka-receiver.version: is required")]
    [InlineData("wrong-kind", "spec.serving.bindings.kafka-receiver.type: \"pubsub.kafka\" is not a bindings component")]
    [InlineData("metadata-map", "spec.serving.bindings.kafka-receiver.metadata: must be a list")]
    [InlineData("not-an-object", "spec.serving.bindings.kafka-receiver: must be a Dapr component spec")]
    [InlineData("state-spec-string", "spec.serving.states.cache.spec: must be a Dapr component spec")]
    [InlineData("state-string", "spec.serving.states.cache: must be an object")]
    [InlineData("state-wrong-kind", "spec.serving.states.cache.spec.type: \"bindings.redis\" is not a state component")]
    public void Build_UnusableSpec_IsAProblemNamingTheField_AndNothingIsMade(string change, string expected)
    {
        var function = Parse(LogsAsyncHandler, f =>
        {
            var serving = f["spec"]!["serving"]!;
            var binding = serving["bindings"]!["kafka-receiver"]!.AsObject();
            switch (change)
            {
                case "no-type":
                    binding.Remove("type");
                    break;
                case "no-version":
                    binding.Remove("version");
                    break;
                case "wrong-kind":
                    binding["type"] = "pubsub.kafka";
                    break;
                case "metadata-map":
                    binding["metadata"] = new JsonObject { ["brokers"] = "kafka:9092" };
                    break;
                case "not-an-object":
                    serving["bindings"]!["kafka-receiver"] = "kafka";
                    break;
                case "state-spec-string":
                    serving["states"] = new JsonObject { ["cache"] = new JsonObject { ["spec"] = "redis" } };
                    break;
                case "state-string":
                    serving["states"] = new JsonObject { ["cache"] = "redis" };
                    break;
                case "state-wrong-kind":
                    serving["states"] = new JsonObject { ["cache"] = new JsonObject { ["spec"] = new JsonObject { ["type"] = "bindings.redis", ["version"] = "v1" } } };
                    break;
            }
        });

        var (children, problems) = DaprComponents.Build(function);

        Assert.Empty(children);
        Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void ComponentName_ValidName_IsFunctionKindKey()
    {
        Assert.Equal("fn-bindings-cron", DaprComponents.ComponentName("fn", "bindings", "cron"));
        Assert.Equal("fn-state-my-store", DaprComponents.ComponentName("fn", "state", "my-store"));
    }

    [Fact]
    public void ComponentName_UpperCaseOrOtherCharacters_IsLowerCasedWithAHashOfTheKey()
    {
        var upper = DaprComponents.ComponentName("fn", "bindings", "Kafka_Server");
        var other = DaprComponents.ComponentName("fn", "bindings", "kafka.server");

        Assert.Matches("^fn-bindings-kafka-server-[0-9a-f]{8}$", upper);
        Assert.Matches("^fn-bindings-kafka-server-[0-9a-f]{8}$", other);
        Assert.NotEqual(upper, other);
        Assert.NotEqual("fn-bindings-kafka-server", upper);
        Assert.Equal(upper, DaprComponents.ComponentName("fn", "bindings", "Kafka_Server"));
        Assert.True(KubernetesNames.IsDns1123Label(upper));
    }

    [Fact]
    public void ComponentName_TooLong_IsCutTo63CharactersWithAHash()
    {
        var key = new string('k', 70);
        var name = DaprComponents.ComponentName("function", "pubsub", key + "a");
        var sibling = DaprComponents.ComponentName("function", "pubsub", key + "b");

        Assert.Equal(63, name.Length);
        Assert.True(KubernetesNames.IsDns1123Label(name));
        Assert.StartsWith("function-pubsub-kkk", name, StringComparison.Ordinal);
        Assert.NotEqual(name, sibling);
        Assert.Equal(name, DaprComponents.ComponentName("function", "pubsub", key + "a"));
    }

    [Fact]
    public void ProxyName_IsFunctionDashDaprProxy()
    {
        Assert.Equal("fn-dapr-proxy", DaprComponents.ProxyName("fn"));
        Assert.Equal(63, DaprComponents.ProxyName(new string('f', 60)).Length);
    }

    [Theory]
    [InlineData("dapr-trigger", null, true)]
    [InlineData("input", null, true)]
    [InlineData("output", null, true)]
    [InlineData("empty-outputs", null, true)]
    [InlineData("state", null, true)]
    [InlineData("bindings-only", null, false)]
    [InlineData("pubsub-only", null, false)]
    [InlineData("nothing", null, false)]
    [InlineData("nothing", "true", true)]
    [InlineData("nothing", "yes", true)]
    [InlineData("dapr-trigger", "false", false)]
    [InlineData("dapr-trigger", "False", false)]
    public void NeedsDapr_FollowsTheSpecAndTheEnableAnnotation(string shape, string? enable, bool expected)
    {
        var function = Parse(MysqlInput, f =>
        {
            var serving = f["spec"]!["serving"]!.AsObject();
            serving.Remove("triggers");
            var component = new JsonObject { ["type"] = "bindings.cron", ["version"] = "v1", ["metadata"] = new JsonArray() };
            switch (shape)
            {
                case "dapr-trigger":
                    serving["triggers"] = new JsonObject { ["dapr"] = new JsonArray(new JsonObject { ["name"] = "cron", ["type"] = "bindings.cron" }) };
                    break;
                case "input":
                    serving["triggers"] = new JsonObject { ["inputs"] = new JsonArray(new JsonObject { ["dapr"] = new JsonObject { ["name"] = "mysql", ["type"] = "state.mysql" } }) };
                    break;
                case "output":
                    serving["outputs"] = new JsonArray(new JsonObject { ["dapr"] = new JsonObject { ["name"] = "kafka", ["type"] = "bindings.kafka" } });
                    break;
                case "empty-outputs":
                    serving["outputs"] = new JsonArray();
                    break;
                case "state":
                    serving["states"] = new JsonObject { ["mysql"] = new JsonObject() };
                    break;
                case "bindings-only":
                    serving["bindings"] = new JsonObject { ["cron"] = component };
                    break;
                case "pubsub-only":
                    serving["pubsub"] = new JsonObject { ["bus"] = component };
                    break;
            }

            if (enable is not null)
            {
                serving["annotations"] = new JsonObject { ["openfunction.io/enable-dapr"] = enable };
            }
        });

        Assert.Equal(expected, DaprComponents.NeedsDapr(function));
    }

    [Theory]
    [InlineData(null, "Sidecar")]
    [InlineData("sidecar", "Sidecar")]
    [InlineData("standalone", "Standalone")]
    public void Mode_ServiceModeAnnotation_ChoosesSidecarByDefault(string? mode, string expected)
    {
        var function = Parse(MysqlInput, f =>
        {
            if (mode is not null)
            {
                f["spec"]!["serving"]!["annotations"] = new JsonObject { ["openfunction.io/dapr-service-mode"] = mode };
            }
        });
        var problems = new List<string>();

        Assert.Equal(Enum.Parse<DaprMode>(expected), DaprComponents.Mode(function, problems));
        Assert.Empty(problems);
    }

    [Fact]
    public void Mode_UnknownServiceMode_IsAProblemNamingTheAnnotation()
    {
        var function = Parse(MysqlInput, f => f["spec"]!["serving"]!["annotations"] = new JsonObject { ["openfunction.io/dapr-service-mode"] = "shared" });
        var problems = new List<string>();

        DaprComponents.Mode(function, problems);

        Assert.Equal("spec.serving.annotations[\"openfunction.io/dapr-service-mode\"]: \"shared\" is not a Dapr service mode; use sidecar or standalone", Assert.Single(problems));
    }

    [Fact]
    public void Mode_FunctionWithoutDapr_IsOffWhateverTheServiceMode()
    {
        var function = Parse(MysqlInput, f =>
        {
            f["spec"]!["serving"]!.AsObject().Remove("triggers");
            f["spec"]!["serving"]!["annotations"] = new JsonObject { ["openfunction.io/dapr-service-mode"] = "standalone" };
        });

        Assert.Equal(DaprMode.Off, DaprComponents.Mode(function, []));
    }

    [Fact]
    public void FunctionContext_EventsProducerSample_NamesTheMadeComponents()
    {
        var problems = new List<string>();

        var context = FunctionContext.Build(Parse(EventsProducer), 8080, problems);

        Assert.Empty(problems);
        var v1 = JsonNode.Parse(context.V1beta1)!;
        Assert.Equal("events-producer", v1["name"]!.GetValue<string>());
        Assert.Equal("v1.0.0", v1["version"]!.GetValue<string>());
        Assert.Equal("Async", v1["runtime"]!.GetValue<string>());
        Assert.Equal("8080", v1["port"]!.GetValue<string>());
        Assert.Equal("events-producer-bindings-cron", v1["inputs"]!["cron"]!["componentName"]!.GetValue<string>());
        Assert.Equal("cron", v1["inputs"]!["cron"]!["uri"]!.GetValue<string>());
        var output = v1["outputs"]!["kafka-server"]!;
        Assert.Equal("events-producer-bindings-kafka-server", output["componentName"]!.GetValue<string>());
        Assert.Equal("bindings.kafka", output["componentType"]!.GetValue<string>());
        Assert.Equal("create", output["operation"]!.GetValue<string>());

        var v2 = JsonNode.Parse(context.V1beta2)!;
        Assert.Equal("events-producer-bindings-cron", v2["triggers"]!["dapr"]![0]!["name"]!.GetValue<string>());
        Assert.Equal("bindings.cron", v2["triggers"]!["dapr"]![0]!["type"]!.GetValue<string>());
        Assert.Equal("events-producer-bindings-kafka-server", v2["outputs"]!["kafka-server"]!["componentName"]!.GetValue<string>());
    }

    [Fact]
    public void FunctionContext_StatesWithAndWithoutSpec_NameTheMadeOneAndTheExistingOne()
    {
        var function = Parse(MysqlInput, f => f["spec"]!["serving"]!["states"] = new JsonObject
        {
            ["mysql"] = new JsonObject(),
            ["cache"] = new JsonObject { ["spec"] = new JsonObject { ["type"] = "state.redis", ["version"] = "v1" } },
        });

        var context = FunctionContext.Build(function, 8080, []);

        var v2 = JsonNode.Parse(context.V1beta2)!;
        Assert.Equal("mysql", v2["states"]!["mysql"]!["componentName"]!.GetValue<string>());
        Assert.Equal("logs-async-handler-state-cache", v2["states"]!["cache"]!["componentName"]!.GetValue<string>());
        Assert.Equal("state.redis", v2["states"]!["cache"]!["componentType"]!.GetValue<string>());
        Assert.Equal("mysql", v2["inputs"]!["mysql"]!["componentName"]!.GetValue<string>());
        Assert.Equal("state.mysql", v2["inputs"]!["mysql"]!["componentType"]!.GetValue<string>());
        Assert.Equal("Knative", JsonNode.Parse(context.V1beta1)!["runtime"]!.GetValue<string>());
    }

    [Fact]
    public void FunctionContext_ExistingComponentWithoutType_IsAProblemAskingForTheType()
    {
        var function = Parse(TriggerTarget, f => f["spec"]!["serving"]!["triggers"]!["dapr"]![0]!["name"] = "external-bus");
        var problems = new List<string>();

        FunctionContext.Build(function, 8080, problems);

        Assert.StartsWith("spec.serving.triggers.dapr[0].type: \"external-bus\" is not defined in spec.serving.bindings, pubsub or states", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void FunctionContext_ExistingComponentWithType_KeepsItsName()
    {
        var function = Parse(TriggerTarget, f =>
        {
            f["spec"]!["serving"]!["triggers"]!["dapr"]![0]!["name"] = "external-bus";
            f["spec"]!["serving"]!["triggers"]!["dapr"]![0]!["type"] = "pubsub.kafka";
        });
        var problems = new List<string>();

        var context = FunctionContext.Build(function, 8080, problems);

        Assert.Empty(problems);
        var input = JsonNode.Parse(context.V1beta1)!["inputs"]!["external-bus"]!;
        Assert.Equal("external-bus", input["componentName"]!.GetValue<string>());
        Assert.Equal("metrics", input["uri"]!.GetValue<string>());
    }

    [Fact]
    public void FunctionContext_OutputNameAndMetadata_KeyAndCarryTheV1beta1Output()
    {
        var function = Parse(EventsProducer, f =>
        {
            var dapr = f["spec"]!["serving"]!["outputs"]![0]!["dapr"]!;
            dapr["outputName"] = "sink";
            dapr["metadata"] = new JsonObject { ["key"] = "order-1" };
        });

        var context = FunctionContext.Build(function, 8080, []);

        var v1 = JsonNode.Parse(context.V1beta1)!["outputs"]!;
        Assert.Equal(["sink"], v1.AsObject().Select(p => p.Key));
        Assert.Equal("order-1", v1["sink"]!["metadata"]!["key"]!.GetValue<string>());
        var v2 = JsonNode.Parse(context.V1beta2)!["outputs"]!;
        Assert.Equal(["kafka-server"], v2.AsObject().Select(p => p.Key));
        Assert.Equal("order-1", v2["kafka-server"]!["metadata"]!["key"]!.GetValue<string>());
    }
}
