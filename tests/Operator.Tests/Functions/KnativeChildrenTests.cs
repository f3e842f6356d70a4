using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Functions.Keda;
using Updraft.Operator.Functions.Knative;
using Updraft.Operator.Options;

using static Updraft.Operator.Tests.Functions.SeedFunctions;

namespace Updraft.Operator.Tests.Functions.Knative;

/// <summary>
/// Functions served by Knative (an HTTP trigger without <c>engine: keda</c>): the Knative Service each sample of
/// OpenFunction's concept docs (<c>shared/seeds/openfunction-concepts-docs.txt</c>) becomes, and every problem.
/// </summary>
public sealed class KnativeChildrenTests
{
    /// <summary>"HTTP Trigger" (Function Trigger), with the image of the routing samples.</summary>
    private const string FunctionSample = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: function-sample
        spec:
          version: "v1.0.0"
          image: "openfunctiondev/v1beta1-http:latest"
          serving:
            triggers:
              http:
                port: 8080
                route:
                  rules:
                    - matches:
                        - path:
                            type: PathPrefix
                            value: /echo
        """;

    /// <summary>"Create a wasm function" (Wasm Functions).</summary>
    private const string WasmEdge = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: wasmedge-http-server
        spec:
          workloadRuntime: wasmedge
          image: openfunctiondev/wasmedge_http_server:0.1.0
          imageCredentials:
            name: push-secret
          build:
            dockerfile: Dockerfile
            srcRepo:
              revision: main
              sourceSubPath: functions/knative/wasmedge/http-server
              url: https://github.com/OpenFunction/samples
          serving:
            scaleOptions:
              minReplicas: 0
            template:
              containers:
                - command:
                    - /wasmedge_hyper_server.wasm
                  imagePullPolicy: IfNotPresent
                  livenessProbe:
                    initialDelaySeconds: 3
                    periodSeconds: 30
                    tcpSocket:
                      port: 8080
                  name: function
            triggers:
              http:
                port: 8080
                route:
                  rules:
                    - matches:
                        - path:
                            type: PathPrefix
                            value: /echo
        """;

    /// <summary>"Build and run a Serverless Application with a Dockerfile" (Serverless Applications).</summary>
    private const string SampleGoApp = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: sample-go-app
          namespace: default
        spec:
          build:
            builder: openfunction/buildah:v1.23.1
            shipwright:
              strategy:
                kind: ClusterBuildStrategy
                name: buildah
            srcRepo:
              revision: main
              sourceSubPath: apps/buildah/go
              url: https://github.com/OpenFunction/samples.git
          image: openfunctiondev/sample-go-app:v1
          imageCredentials:
            name: push-secret
          serving:
            template:
              containers:
                - imagePullPolicy: IfNotPresent
                  name: function
            triggers:
              http:
                port: 8080
          version: v1.0.0
          workloadRuntime: OCIContainer
        """;

    /// <summary>"Function Scaling": Knative's own scale options, with the image of the routing samples.</summary>
    private const string KnativeScaleOptions = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: function-sample
        spec:
          image: "openfunctiondev/v1beta1-http:latest"
          serving:
            scaleOptions:
              knative:
                autoscaling.knative.dev/initial-scale: "1"
                autoscaling.knative.dev/scale-down-delay: "0"
                autoscaling.knative.dev/window: "60s"
                autoscaling.knative.dev/panic-window-percentage: "10.0"
                autoscaling.knative.dev/metric: "concurrency"
                autoscaling.knative.dev/target: "100"
        """;

    /// <summary>"Function Outputs": v1beta1's <c>runtime: "async"</c> is not a v1beta2 field, so this is a Knative function with a pubsub output.</summary>
    private const string AutoscalingSubscriber = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: autoscaling-subscriber
        spec:
          image: openfunctiondev/autoscaling-subscriber:v1
          serving:
            runtime: "async"
            outputs:
              - dapr:
                  name: kafka-server
                  type: pubsub.kafka
                  topic: "sample-topic"
            pubsub:
              kafka-server:
                type: pubsub.kafka
                version: v1
                metadata:
                  - name: brokers
                    value: "kafka-server-kafka-brokers:9092"
                  - name: authRequired
                    value: "false"
                  - name: allowedTopics
                    value: "sample-topic"
                  - name: consumerID
                    value: "autoscaling-subscriber"
        """;

    private static readonly OperatorOptions Options = new() { Namespace = "updraft-system" };

    [Fact]
    public void Build_FunctionSample_IsOneKnativeServiceNamedAfterTheFunction()
    {
        var (children, problems) = KnativeChildren.Build(Parse(FunctionSample), Options);

        Assert.Empty(problems);
        var ksvc = Assert.Single(children);
        Assert.Equal(new ApiResource("serving.knative.dev", "v1", "services"), ksvc.Resource);
        Assert.Equal("serving.knative.dev/v1", ksvc.Desired["apiVersion"]!.GetValue<string>());
        Assert.Equal("Service", ksvc.Desired["kind"]!.GetValue<string>());
        Assert.Equal("function-sample", ksvc.Name);
        Assert.Equal("default", ksvc.Desired["metadata"]!["namespace"]!.GetValue<string>());
        Assert.Equal("updraft-operator", ksvc.Desired["metadata"]!["labels"]![KedaChildren.ManagedByLabel]!.GetValue<string>());
        Assert.Equal("function-sample", ksvc.Desired["metadata"]!["labels"]![KedaChildren.FunctionLabel]!.GetValue<string>());
        Assert.Null(ksvc.CreateOnly);

        var template = ksvc.Desired["spec"]!["template"]!;
        Assert.False(template["metadata"]!.AsObject().ContainsKey("name"));
        Assert.Equal("v1.0.0", template["metadata"]!["labels"]![KedaChildren.VersionLabel]!.GetValue<string>());
        Assert.Equal("function-sample", template["metadata"]!["labels"]![KedaChildren.FunctionLabel]!.GetValue<string>());
        Assert.Equal("true", template["metadata"]!["labels"]!["openfunction.io/managed"]!.GetValue<string>());
        var container = FunctionContainer(template);
        Assert.Equal("openfunctiondev/v1beta1-http:latest", container["image"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""[{"containerPort":8080}]"""), container["ports"]), container["ports"]!.ToJsonString());
        Assert.False(template["spec"]!.AsObject().ContainsKey("containerConcurrency"));

        var context = JsonNode.Parse(Env(container, "FUNC_CONTEXT")!)!;
        Assert.Equal("Knative", context["runtime"]!.GetValue<string>());
        Assert.Equal("8080", context["port"]!.GetValue<string>());
        Assert.Equal("/echo", JsonNode.Parse(Env(container, "FUNC_CONTEXT_V1BETA2")!)!["triggers"]!["http"]!["route"]!["rules"]![0]!["matches"]![0]!["path"]!["value"]!.GetValue<string>());
        Assert.Equal("grpc", Env(container, "APP_PROTOCOL"));
        Assert.Equal("default", Env(container, "POD_NAMESPACE"));
    }

    [Fact]
    public void Build_FunctionWithoutDapr_HasDaprAnnotationsOffAndMetricsOffTheQueueProxyPort_AndNoScaleBounds()
    {
        var (children, _) = KnativeChildren.Build(Parse(FunctionSample), Options);

        var annotations = children[0].Desired["spec"]!["template"]!["metadata"]!["annotations"]!.AsObject();
        Assert.Equal("false", annotations["dapr.io/enabled"]!.GetValue<string>());
        Assert.Equal("function-sample-default", annotations["dapr.io/app-id"]!.GetValue<string>());
        Assert.Equal("8080", annotations["dapr.io/app-port"]!.GetValue<string>());
        Assert.Equal("grpc", annotations["dapr.io/app-protocol"]!.GetValue<string>());
        Assert.Equal("19090", annotations["dapr.io/metrics-port"]!.GetValue<string>());
        foreach (var key in new[] { KnativeChildren.MinScale, KnativeChildren.MinScaleDashed, KnativeChildren.MaxScale, KnativeChildren.MaxScaleDashed })
        {
            // Owned as absent: a bound removed from the Function is removed from the revision.
            Assert.True(annotations.ContainsKey(key), key);
            Assert.Null(annotations[key]);
        }
    }

    [Fact]
    public void Build_WasmEdgeSample_KeepsTheTemplate_AndTakesMinScaleFromMinReplicas()
    {
        var (children, problems) = KnativeChildren.Build(Parse(WasmEdge), Options);

        Assert.Empty(problems);
        var template = Assert.Single(children).Desired["spec"]!["template"]!;
        var annotations = template["metadata"]!["annotations"]!;
        Assert.Equal("0", annotations[KnativeChildren.MinScale]!.GetValue<string>());
        Assert.Equal("0", annotations[KnativeChildren.MinScaleDashed]!.GetValue<string>());
        Assert.Null(annotations[KnativeChildren.MaxScale]);
        var container = FunctionContainer(template);
        Assert.Equal("/wasmedge_hyper_server.wasm", container["command"]![0]!.GetValue<string>());
        Assert.Equal(8080, container["livenessProbe"]!["tcpSocket"]!["port"]!.GetValue<int>());
        Assert.Equal("openfunctiondev/wasmedge_http_server:0.1.0", container["image"]!.GetValue<string>());
        Assert.Equal("push-secret", template["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
        Assert.Equal(8080, Assert.Single(container["ports"]!.AsArray())!["containerPort"]!.GetValue<int>());
        Assert.Single(template["spec"]!["containers"]!.AsArray());
    }

    [Fact]
    public void Build_ServerlessApplicationSample_RunsTheBuiltImage()
    {
        var (children, problems) = KnativeChildren.Build(Parse(SampleGoApp), Options);

        Assert.Empty(problems);
        var template = Assert.Single(children).Desired["spec"]!["template"]!;
        Assert.Equal("openfunctiondev/sample-go-app:v1", FunctionContainer(template)["image"]!.GetValue<string>());
        Assert.Equal("IfNotPresent", FunctionContainer(template)["imagePullPolicy"]!.GetValue<string>());
        Assert.Equal("sample-go-app", children[0].Name);
    }

    [Fact]
    public void Build_KnativeScaleOptionsSample_CopiesTheMapIntoTheRevisionAnnotations()
    {
        var (children, problems) = KnativeChildren.Build(Parse(KnativeScaleOptions), Options);

        Assert.Empty(problems);
        var annotations = children[0].Desired["spec"]!["template"]!["metadata"]!["annotations"]!;
        Assert.Equal("1", annotations["autoscaling.knative.dev/initial-scale"]!.GetValue<string>());
        Assert.Equal("0", annotations["autoscaling.knative.dev/scale-down-delay"]!.GetValue<string>());
        Assert.Equal("60s", annotations["autoscaling.knative.dev/window"]!.GetValue<string>());
        Assert.Equal("10.0", annotations["autoscaling.knative.dev/panic-window-percentage"]!.GetValue<string>());
        Assert.Equal("concurrency", annotations["autoscaling.knative.dev/metric"]!.GetValue<string>());
        Assert.Equal("100", annotations["autoscaling.knative.dev/target"]!.GetValue<string>());
        Assert.Equal("latest", children[0].Desired["spec"]!["template"]!["metadata"]!["labels"]![KedaChildren.VersionLabel]!.GetValue<string>());
    }

    [Fact]
    public void Build_MinAndMaxReplicas_WinOverTheKnativeMap_InBothSpellings()
    {
        var function = Parse(KnativeScaleOptions, f =>
        {
            var scale = f["spec"]!["serving"]!["scaleOptions"]!;
            scale["minReplicas"] = 1;
            scale["maxReplicas"] = 10;
            scale["knative"]![KnativeChildren.MaxScaleDashed] = "3";
            scale["knative"]![KnativeChildren.MinScale] = "2";
        });

        var (children, _) = KnativeChildren.Build(function, Options);

        var annotations = children[0].Desired["spec"]!["template"]!["metadata"]!["annotations"]!;
        Assert.Equal("1", annotations[KnativeChildren.MinScale]!.GetValue<string>());
        Assert.Equal("1", annotations[KnativeChildren.MinScaleDashed]!.GetValue<string>());
        Assert.Equal("10", annotations[KnativeChildren.MaxScale]!.GetValue<string>());
        Assert.Equal("10", annotations[KnativeChildren.MaxScaleDashed]!.GetValue<string>());
    }

    [Fact]
    public void Build_BoundOnlyInTheKnativeMap_IsKept()
    {
        var function = Parse(KnativeScaleOptions, f => f["spec"]!["serving"]!["scaleOptions"]!["knative"]![KnativeChildren.MaxScaleDashed] = "3");

        var (children, _) = KnativeChildren.Build(function, Options);

        var annotations = children[0].Desired["spec"]!["template"]!["metadata"]!["annotations"]!;
        Assert.Equal("3", annotations[KnativeChildren.MaxScaleDashed]!.GetValue<string>());
        Assert.Null(annotations[KnativeChildren.MaxScale]);
    }

    [Theory]
    [InlineData("knative", "10", 10)]
    [InlineData("annotations", "0", 0)]
    public void Build_ContainerConcurrencyAnnotation_BecomesTheRevisionsContainerConcurrency(string where, string value, int expected)
    {
        var function = Parse(KnativeScaleOptions, f => Where(f, where)[KnativeChildren.ContainerConcurrency] = value);

        var (children, problems) = KnativeChildren.Build(function, Options);

        Assert.Empty(problems);
        var template = children[0].Desired["spec"]!["template"]!;
        Assert.Equal(expected, template["spec"]!["containerConcurrency"]!.GetValue<int>());
        Assert.Equal(value, template["metadata"]!["annotations"]![KnativeChildren.ContainerConcurrency]!.GetValue<string>());
    }

    [Theory]
    [InlineData("knative", "ten", "spec.serving.scaleOptions.knative[\"autoscaling.knative.dev/container-concurrency\"]: \"ten\" is not a whole number")]
    [InlineData("annotations", "-1", "spec.serving.annotations[\"autoscaling.knative.dev/container-concurrency\"]: \"-1\" is not a whole number")]
    public void Build_ContainerConcurrencyNotANumber_IsAProblemNamingTheField(string where, string value, string expected)
    {
        var function = Parse(KnativeScaleOptions, f => Where(f, where)[KnativeChildren.ContainerConcurrency] = value);

        var (children, problems) = KnativeChildren.Build(function, Options);

        Assert.Empty(children);
        Assert.StartsWith(expected, Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_InputsSample_RunsADaprSidecar_AndTellsTheFunctionItsInput()
    {
        var (children, problems) = KnativeChildren.Build(Parse(MysqlInput), Options);

        Assert.Empty(problems);
        var template = Assert.Single(children).Desired["spec"]!["template"]!;
        Assert.Equal("true", template["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        Assert.Equal("logs-async-handler-default", template["metadata"]!["annotations"]!["dapr.io/app-id"]!.GetValue<string>());
        var container = FunctionContainer(template);
        var v2 = JsonNode.Parse(Env(container, "FUNC_CONTEXT_V1BETA2")!)!;
        Assert.Equal("mysql", v2["inputs"]!["mysql"]!["componentName"]!.GetValue<string>());
        Assert.Equal("state.mysql", v2["inputs"]!["mysql"]!["componentType"]!.GetValue<string>());
        Assert.Null(Env(container, "DAPR_HOST"));
    }

    [Fact]
    public void Build_AutoscalingSubscriberSample_NamesTheMadePubsubInItsOutputs()
    {
        var (children, problems) = KnativeChildren.Build(Parse(AutoscalingSubscriber), Options);

        Assert.Empty(problems);
        var container = FunctionContainer(Assert.Single(children).Desired["spec"]!["template"]!);
        var v1 = JsonNode.Parse(Env(container, "FUNC_CONTEXT")!)!;
        var output = v1["outputs"]!["kafka-server"]!;
        Assert.Equal("autoscaling-subscriber-pubsub-kafka-server", output["componentName"]!.GetValue<string>());
        Assert.Equal("pubsub.kafka", output["componentType"]!.GetValue<string>());
        Assert.Equal("sample-topic", output["uri"]!.GetValue<string>());
        Assert.Equal("Knative", v1["runtime"]!.GetValue<string>());
        var v2 = JsonNode.Parse(Env(container, "FUNC_CONTEXT_V1BETA2")!)!;
        Assert.Equal("sample-topic", v2["outputs"]!["kafka-server"]!["topic"]!.GetValue<string>());
    }

    [Fact]
    public void Build_StandaloneDapr_AddsTheProxy_AndPointsTheFunctionAtItsSidecar()
    {
        var function = Parse(MysqlInput, f => f["spec"]!["serving"]!["annotations"] = new JsonObject
        {
            ["openfunction.io/enable-dapr"] = "true",
            ["openfunction.io/dapr-service-mode"] = "standalone",
        });

        var (children, problems) = KnativeChildren.Build(function, Options);

        Assert.Empty(problems);
        Assert.Equal(2, children.Count);
        var template = children[0].Desired["spec"]!["template"]!;
        Assert.Equal("false", template["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        var container = FunctionContainer(template);
        Assert.Equal("logs-async-handler-default-dapr.default.svc.cluster.local", Env(container, "DAPR_HOST"));
        Assert.Equal("logs-async-handler-default-dapr.default.svc.cluster.local", Env(container, "DAPR_SIDECAR_IP"));

        var proxy = children[1];
        Assert.Equal(ApiResource.Deployments, proxy.Resource);
        Assert.Equal("logs-async-handler-dapr-proxy", proxy.Name);
        Assert.Equal("logs-async-handler", proxy.Desired["metadata"]!["labels"]![KedaChildren.FunctionLabel]!.GetValue<string>());
        Assert.Equal(1, proxy.Desired["spec"]!["replicas"]!.GetValue<int>());
        var proxyTemplate = proxy.Desired["spec"]!["template"]!;
        Assert.Equal("true", proxyTemplate["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        Assert.Equal("[::],0.0.0.0", proxyTemplate["metadata"]!["annotations"]!["dapr.io/sidecar-listen-addresses"]!.GetValue<string>());
        Assert.Equal("logs-async-handler-default", proxyTemplate["metadata"]!["annotations"]!["dapr.io/app-id"]!.GetValue<string>());
        Assert.False(proxyTemplate["metadata"]!["labels"]!.AsObject().ContainsKey(KedaChildren.FunctionLabel));
        Assert.False(proxy.Desired["spec"]!["selector"]!["matchLabels"]!.AsObject().ContainsKey(KedaChildren.FunctionLabel));
        var proxyContainer = proxyTemplate["spec"]!["containers"]![0]!;
        Assert.Equal("dapr-proxy", proxyContainer["name"]!.GetValue<string>());
        Assert.Equal("openfunction/dapr-proxy:v0.1.1", proxyContainer["image"]!.GetValue<string>());
        Assert.Equal(8080, proxyContainer["ports"]![0]!["containerPort"]!.GetValue<int>());
        Assert.Equal(Env(container, "FUNC_CONTEXT_V1BETA2"), Env(proxyContainer, "FUNC_CONTEXT_V1BETA2"));
    }

    [Fact]
    public void Build_FunctionLabels_WinOverOpenFunctionsButNotOverTheFunctionLabel()
    {
        var function = Parse(FunctionSample, f => f["spec"]!["serving"]!["labels"] = new JsonObject
        {
            ["team"] = "payments",
            [KedaChildren.VersionLabel] = "blue",
            [KedaChildren.FunctionLabel] = "someone-else",
        });

        var (children, _) = KnativeChildren.Build(function, Options);

        var labels = children[0].Desired["spec"]!["template"]!["metadata"]!["labels"]!;
        Assert.Equal("payments", labels["team"]!.GetValue<string>());
        Assert.Equal("blue", labels[KedaChildren.VersionLabel]!.GetValue<string>());
        Assert.Equal("function-sample", labels[KedaChildren.FunctionLabel]!.GetValue<string>());
    }

    [Fact]
    public void Build_SameFunctionTwice_BuildsTheSameObjects()
    {
        var first = KnativeChildren.Build(Parse(AutoscalingSubscriber), Options).Children;
        var second = KnativeChildren.Build(Parse(AutoscalingSubscriber), Options).Children;

        Assert.True(JsonNode.DeepEquals(first[0].Desired, second[0].Desired));
    }

    [Theory]
    [InlineData("no-image", "spec.image: is required")]
    [InlineData("bad-name", "metadata.name: \"Function_Sample\" cannot name a Knative Service")]
    [InlineData("reserved-port", "spec.serving.triggers.http.port: 8012 is the queue-proxy's")]
    [InlineData("min-above-max", "spec.serving.scaleOptions: minReplicas (5) and maxReplicas (2) must satisfy 0 <= min <= max")]
    [InlineData("template-ports", "spec.serving.template.containers[0].ports: Knative serves one port")]
    [InlineData("dapr-mode", "spec.serving.annotations[\"openfunction.io/dapr-service-mode\"]: \"shared\" is not a Dapr service mode")]
    [InlineData("unresolved-trigger", "spec.serving.triggers.dapr[0].type: \"bus\" is not defined in spec.serving.bindings, pubsub or states")]
    [InlineData("output-without-name", "spec.serving.outputs[0].dapr.name: is required")]
    public void Build_UnservableSpec_IsAProblemNamingTheField_AndNothingIsMade(string change, string expected)
    {
        var function = Parse(FunctionSample, f =>
        {
            var serving = f["spec"]!["serving"]!;
            switch (change)
            {
                case "no-image":
                    f["spec"]!.AsObject().Remove("image");
                    break;
                case "bad-name":
                    f["metadata"]!["name"] = "Function_Sample";
                    break;
                case "reserved-port":
                    serving["triggers"]!["http"]!["port"] = 8012;
                    break;
                case "min-above-max":
                    serving["scaleOptions"] = new JsonObject { ["minReplicas"] = 5, ["maxReplicas"] = 2 };
                    break;
                case "template-ports":
                    serving["template"] = JsonNode.Parse("""{"containers":[{"name":"function","ports":[{"containerPort":9000}]}]}""");
                    break;
                case "dapr-mode":
                    serving["annotations"] = new JsonObject { ["openfunction.io/enable-dapr"] = "true", ["openfunction.io/dapr-service-mode"] = "shared" };
                    break;
                case "unresolved-trigger":
                    serving["triggers"]!["dapr"] = JsonNode.Parse("""[{"name":"bus","topic":"t"}]""");
                    break;
                case "output-without-name":
                    serving["outputs"] = JsonNode.Parse("""[{"dapr":{"component":"kafka-server","type":"bindings.kafka"}}]""");
                    break;
            }
        });

        var (children, problems) = KnativeChildren.Build(function, Options);

        Assert.Empty(children);
        Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    private static JsonObject Where(JsonObject function, string where)
    {
        var serving = function["spec"]!["serving"]!;
        if (where == "knative")
        {
            return serving["scaleOptions"]!["knative"]!.AsObject();
        }

        return (serving["annotations"] ??= new JsonObject()).AsObject();
    }
}
