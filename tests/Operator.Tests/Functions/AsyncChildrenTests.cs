using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Functions.Async;
using Updraft.Operator.Functions.Keda;
using Updraft.Operator.Options;
using Updraft.Tests.Common.Kubernetes;

using static Updraft.Operator.Tests.Functions.SeedFunctions;

namespace Updraft.Operator.Tests.Functions.Async;

/// <summary>
/// Async Functions (Dapr triggers, no HTTP trigger): the workload, KEDA scaler and Dapr proxy each sample of
/// OpenFunction's concept docs (<c>shared/seeds/openfunction-concepts-docs.txt</c>) becomes, and every problem.
/// </summary>
public sealed class AsyncChildrenTests
{
    private const string ScalerAddress = "keda-add-ons-http-external-scaler.updraft-system:9090";

    /// <summary>"Choose the appropriate Dapr Service Mode" (BaaS Integration), as printed: its output says <c>component</c>, not <c>name</c>.</summary>
    private const string CronInputKafkaOutput = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: cron-input-kafka-output
        spec:
          version: "v2.0.0"
          image: openfunctiondev/cron-input-kafka-output:v1
          imageCredentials:
            name: push-secret
          build:
            builder: openfunction/builder-go:latest
            env:
              FUNC_NAME: "HandleCronInput"
              FUNC_CLEAR_SOURCE: "true"
            srcRepo:
              url: "https://github.com/OpenFunction/samples.git"
              sourceSubPath: "functions/async/bindings/cron-input-kafka-output"
              revision: "main"
          serving:
            annotations:
              openfunction.io/enable-dapr: "true"
              openfunction.io/dapr-service-mode: "standalone"
            template:
              containers:
                - name: function # DO NOT change this
                  imagePullPolicy: IfNotPresent
            triggers:
              dapr:
                - name: cron
                  type: bindings.cron
            outputs:
              - dapr:
                  component: kafka-server
                  operation: "create"
            bindings:
              cron:
                type: bindings.cron
                version: v1
                metadata:
                  - name: schedule
                    value: "@every 2s"
              kafka-server:
                type: bindings.kafka
                version: v1
                metadata:
                  - name: brokers
                    value: "kafka-server-kafka-brokers:9092"
                  - name: topics
                    value: "sample-topic"
                  - name: consumerGroup
                    value: "bindings-with-output"
                  - name: publishTopic
                    value: "sample-topic"
                  - name: authRequired
                    value: "false"
        """;

    /// <summary>The "Triggers" sample of Function Scaling.</summary>
    private const string KafkaTrigger = """
        type: kafka
        metadata:
          topic: logs
          bootstrapServers: kafka-server-kafka-brokers.default.svc.cluster.local:9092
          consumerGroup: logs-handler
          lagThreshold: "20"
        """;

    /// <summary>The keda scale options sample of Function Scaling.</summary>
    private const string KedaScaleOptions = """
        minReplicas: 0
        maxReplicas: 10
        keda:
          scaledObject:
            pollingInterval: 15
            cooldownPeriod: 60
            advanced:
              horizontalPodAutoscalerConfig:
                behavior:
                  scaleDown:
                    stabilizationWindowSeconds: 45
                    policies:
                      - type: Percent
                        value: 50
                        periodSeconds: 15
                  scaleUp:
                    stabilizationWindowSeconds: 0
        """;

    private static readonly OperatorOptions Options = new() { Namespace = "updraft-system" };
    private static readonly OperatorOptions BacklogOnUpdraft = new() { Namespace = "updraft-system", BacklogOnUpdraftScaler = true };

    [Fact]
    public void Build_LogsAsyncHandlerSample_IsADeploymentWithADaprSidecar_AndANoteThatNothingScalesIt()
    {
        var (children, problems, notes) = AsyncChildren.Build(Parse(LogsAsyncHandler), Options);

        Assert.Empty(problems);
        var deployment = Assert.Single(children);
        Assert.Equal(ApiResource.Deployments, deployment.Resource);
        Assert.Equal("apps/v1", deployment.Desired["apiVersion"]!.GetValue<string>());
        Assert.Equal("Deployment", deployment.Desired["kind"]!.GetValue<string>());
        Assert.Equal("logs-async-handler", deployment.Name);
        Assert.Equal("updraft-operator", deployment.Desired["metadata"]!["labels"]![KedaChildren.ManagedByLabel]!.GetValue<string>());
        Assert.Equal("logs-async-handler", deployment.Desired["metadata"]!["labels"]![KedaChildren.FunctionLabel]!.GetValue<string>());
        Assert.Equal(1, deployment.Desired["spec"]!["replicas"]!.GetValue<int>());
        Assert.Null(deployment.CreateOnly);
        Assert.Equal("logs-async-handler", deployment.Desired["spec"]!["selector"]!["matchLabels"]![KedaChildren.FunctionLabel]!.GetValue<string>());

        var template = deployment.Desired["spec"]!["template"]!;
        var annotations = template["metadata"]!["annotations"]!;
        Assert.Equal("true", annotations["dapr.io/enabled"]!.GetValue<string>());
        Assert.Equal("logs-async-handler-default", annotations["dapr.io/app-id"]!.GetValue<string>());
        Assert.Equal("8080", annotations["dapr.io/app-port"]!.GetValue<string>());
        Assert.Equal("grpc", annotations["dapr.io/app-protocol"]!.GetValue<string>());
        Assert.False(annotations.AsObject().ContainsKey("dapr.io/metrics-port"));
        Assert.Equal("v2.0.0", template["metadata"]!["labels"]![KedaChildren.VersionLabel]!.GetValue<string>());
        Assert.Equal("push-secret", template["spec"]!["imagePullSecrets"]![0]!["name"]!.GetValue<string>());
        var container = FunctionContainer(template);
        Assert.Equal("openfunctiondev/logs-async-handler:v1", container["image"]!.GetValue<string>());
        Assert.Equal(8080, container["ports"]![0]!["containerPort"]!.GetValue<int>());
        Assert.Equal("function-port", container["ports"]![0]!["name"]!.GetValue<string>());
        Assert.Equal("grpc", Env(container, "APP_PROTOCOL"));
        Assert.Null(Env(container, "DAPR_HOST"));

        var v1 = JsonNode.Parse(Env(container, "FUNC_CONTEXT")!)!;
        Assert.Equal("Async", v1["runtime"]!.GetValue<string>());
        Assert.Equal("8080", v1["port"]!.GetValue<string>());
        var input = v1["inputs"]!["kafka-receiver"]!;
        Assert.Equal("logs-async-handler-bindings-kafka-receiver", input["componentName"]!.GetValue<string>());
        Assert.Equal("bindings.kafka", input["componentType"]!.GetValue<string>());
        Assert.Equal("kafka-receiver", input["uri"]!.GetValue<string>());
        var v2 = JsonNode.Parse(Env(container, "FUNC_CONTEXT_V1BETA2")!)!;
        Assert.Equal("logs-async-handler-bindings-kafka-receiver", v2["triggers"]!["dapr"]![0]!["name"]!.GetValue<string>());

        Assert.StartsWith("spec.serving.scaleOptions.keda.triggers: none, so no ScaledObject: Deployment logs-async-handler runs 1 replica(s)", Assert.Single(notes), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_TriggerTargetSample_ScalesTheDeploymentOnKedasStanTrigger()
    {
        var (children, problems, notes) = AsyncChildren.Build(Parse(TriggerTarget), Options);

        Assert.Empty(problems);
        Assert.Equal(2, children.Count);
        var deployment = children[0];
        Assert.Equal(ApiResource.Deployments, deployment.Resource);
        Assert.False(deployment.Desired["spec"]!.AsObject().ContainsKey("replicas"));
        Assert.Equal(1, deployment.CreateOnly!["spec"]!["replicas"]!.GetValue<int>());

        var so = children[1];
        Assert.Equal(ApiResource.ScaledObjects, so.Resource);
        Assert.Equal("keda.sh/v1alpha1", so.Desired["apiVersion"]!.GetValue<string>());
        Assert.Equal("ScaledObject", so.Desired["kind"]!.GetValue<string>());
        Assert.Equal("trigger-target", so.Name);
        Assert.Equal("trigger-target", so.Desired["metadata"]!["labels"]![KedaChildren.FunctionLabel]!.GetValue<string>());
        var spec = so.Desired["spec"]!;
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"apiVersion":"apps/v1","kind":"Deployment","name":"trigger-target","envSourceContainerName":"function"}"""),
            spec["scaleTargetRef"]),
            spec["scaleTargetRef"]!.ToJsonString());
        Assert.Equal(15, spec["pollingInterval"]!.GetValue<int>());
        Assert.Equal(30, spec["cooldownPeriod"]!.GetValue<int>());
        Assert.Null(spec["minReplicaCount"]);
        Assert.Null(spec["maxReplicaCount"]);
        Assert.Null(spec["advanced"]);
        Assert.Null(spec["fallback"]);
        var trigger = Assert.Single(spec["triggers"]!.AsArray())!;
        Assert.Equal("stan", trigger["type"]!.GetValue<string>());
        Assert.Equal("metrics", trigger["metadata"]!["subject"]!.GetValue<string>());
        Assert.Equal("10", trigger["metadata"]!["lagThreshold"]!.GetValue<string>());

        var context = JsonNode.Parse(Env(FunctionContainer(deployment.Desired["spec"]!["template"]!), "FUNC_CONTEXT")!)!;
        Assert.Equal("trigger-target-pubsub-eventbus", context["inputs"]!["eventbus"]!["componentName"]!.GetValue<string>());
        Assert.Equal("pubsub.natsstreaming", context["inputs"]!["eventbus"]!["componentType"]!.GetValue<string>());
        Assert.Equal("metrics", context["inputs"]!["eventbus"]!["uri"]!.GetValue<string>());

        Assert.Contains(notes, n => n.StartsWith("spec.serving.scaleOptions.keda.scaledObject.minReplicaCount: not a field of OpenFunction v1beta2", StringComparison.Ordinal) && n.EndsWith("use scaleOptions.minReplicas", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith("spec.serving.scaleOptions.keda.scaledObject.maxReplicaCount: not a field", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith("spec.serving.scaleOptions.keda.triggers[0]: KEDA removed its stan scaler", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_TriggerTargetSampleOnUpdraftsScaler_PointsTheStanTriggerAtIt()
    {
        var (children, problems, notes) = AsyncChildren.Build(Parse(TriggerTarget), BacklogOnUpdraft);

        Assert.Empty(problems);
        var trigger = Assert.Single(children[1].Desired["spec"]!["triggers"]!.AsArray())!;
        Assert.Equal("external", trigger["type"]!.GetValue<string>());
        Assert.Equal(
            [("scalerAddress", ScalerAddress), ("source", "stan"), ("natsServerMonitoringEndpoint", "stan.default.svc.cluster.local:8222"), ("queueGroup", "grp1"), ("durableName", "ImDurable"), ("subject", "metrics"), ("lagThreshold", "10")],
            trigger["metadata"]!.AsObject().Select(p => (p.Key, p.Value!.GetValue<string>())));
        Assert.DoesNotContain(notes, n => n.Contains("stan scaler", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("kafka")]
    [InlineData("nats-jetstream")]
    public void Build_BacklogTriggerOnUpdraftsScaler_BecomesExternalWithItsSource(string type)
    {
        var trigger = Yaml(KafkaTrigger);
        trigger["type"] = type;
        var function = Parse(LogsAsyncHandler, f => Triggers(f, trigger));

        var (children, _, _) = AsyncChildren.Build(function, BacklogOnUpdraft);

        var external = children.Single(c => c.Resource == ApiResource.ScaledObjects).Desired["spec"]!["triggers"]![0]!;
        Assert.Equal("external", external["type"]!.GetValue<string>());
        Assert.Equal(ScalerAddress, external["metadata"]!["scalerAddress"]!.GetValue<string>());
        Assert.Equal(type, external["metadata"]!["source"]!.GetValue<string>());
        Assert.Equal("logs-handler", external["metadata"]!["consumerGroup"]!.GetValue<string>());
        Assert.Equal("20", external["metadata"]!["lagThreshold"]!.GetValue<string>());
    }

    [Fact]
    public void Build_KafkaTriggerWithoutTheOption_StaysKedas()
    {
        var function = Parse(LogsAsyncHandler, f => Triggers(f, Yaml(KafkaTrigger)));

        var (children, _, _) = AsyncChildren.Build(function, Options);

        var trigger = children.Single(c => c.Resource == ApiResource.ScaledObjects).Desired["spec"]!["triggers"]![0]!;
        Assert.True(JsonNode.DeepEquals(Yaml(KafkaTrigger), trigger), trigger.ToJsonString());
    }

    [Fact]
    public void Build_OtherTriggerOnUpdraftsScaler_StaysKedas()
    {
        var cron = JsonNode.Parse("""{"type":"cron","metadata":{"timezone":"Etc/UTC","start":"0 * * * *","end":"10 * * * *","desiredReplicas":"1"}}""")!;
        var function = Parse(LogsAsyncHandler, f => Triggers(f, cron.DeepClone()));

        var (children, _, notes) = AsyncChildren.Build(function, BacklogOnUpdraft);

        var trigger = children.Single(c => c.Resource == ApiResource.ScaledObjects).Desired["spec"]!["triggers"]![0]!;
        Assert.True(JsonNode.DeepEquals(cron, trigger), trigger.ToJsonString());
        Assert.Empty(notes);
    }

    [Theory]
    [InlineData("authenticationRef", "spec.serving.scaleOptions.keda.triggers[0]: kept on KEDA's kafka scaler: KEDA does not pass authenticationRef secrets")]
    [InlineData("fromEnv", "spec.serving.scaleOptions.keda.triggers[0].metadata.bootstrapServersFromEnv: kept on KEDA's kafka scaler")]
    public void Build_TriggerUpdraftsScalerCannotServe_StaysKedasWithANote(string change, string expected)
    {
        var trigger = Yaml(KafkaTrigger).AsObject();
        if (change == "authenticationRef")
        {
            trigger["authenticationRef"] = new JsonObject { ["name"] = "kafka-credentials" };
        }
        else
        {
            trigger["metadata"]!["bootstrapServersFromEnv"] = "BROKERS";
        }

        var function = Parse(LogsAsyncHandler, f => Triggers(f, trigger.DeepClone()));

        var (children, _, notes) = AsyncChildren.Build(function, BacklogOnUpdraft);

        Assert.Equal("kafka", children.Single(c => c.Resource == ApiResource.ScaledObjects).Desired["spec"]!["triggers"]![0]!["type"]!.GetValue<string>());
        Assert.Contains(notes, n => n.StartsWith(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Build_CronInputKafkaOutputSampleAsPrinted_IsAProblem_TheOutputHasNoName()
    {
        var (children, problems, _) = AsyncChildren.Build(Parse(CronInputKafkaOutput), Options);

        Assert.Empty(children);
        Assert.StartsWith("spec.serving.outputs[0].dapr.name: is required", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_CronInputKafkaOutputSample_RunsStandalone_WithTheProxyAndTheServiceItDeliversThrough()
    {
        var function = Parse(CronInputKafkaOutput, f => f["spec"]!["serving"]!["outputs"]![0]!["dapr"]!["name"] = "kafka-server");

        var (children, problems, _) = AsyncChildren.Build(function, Options);

        Assert.Empty(problems);
        Assert.Equal(["deployments/cron-input-kafka-output", "deployments/cron-input-kafka-output-dapr-proxy", "services/cron-input-kafka-output"], children.Select(c => c.Resource.Plural + "/" + c.Name));
        var template = children[0].Desired["spec"]!["template"]!;
        Assert.Equal("false", template["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        var container = FunctionContainer(template);
        Assert.Equal("IfNotPresent", container["imagePullPolicy"]!.GetValue<string>());
        var names = container["env"]!.AsArray().Select(e => e!["name"]!.GetValue<string>()).ToList();
        Assert.Equal(["APP_PROTOCOL", "FUNC_CONTEXT", "FUNC_CONTEXT_V1BETA2", "DAPR_HOST", "DAPR_SIDECAR_IP", "POD_NAME", "POD_NAMESPACE"], names);
        Assert.Equal("cron-input-kafka-output-default-dapr.default.svc.cluster.local", Env(container, "DAPR_HOST"));
        var output = JsonNode.Parse(Env(container, "FUNC_CONTEXT_V1BETA2")!)!["outputs"]!["kafka-server"]!;
        Assert.Equal("cron-input-kafka-output-bindings-kafka-server", output["componentName"]!.GetValue<string>());
        Assert.Equal("create", output["operation"]!.GetValue<string>());

        var proxy = children[1].Desired["spec"]!["template"]!;
        Assert.Equal("true", proxy["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        Assert.Equal("cron-input-kafka-output", proxy["metadata"]!["labels"]!["openfunction.io/proxy"]!.GetValue<string>());
        Assert.Equal("8080", proxy["metadata"]!["annotations"]!["dapr.io/app-port"]!.GetValue<string>());

        var service = children[2];
        Assert.Equal("None", service.CreateOnly!["spec"]!["clusterIP"]!.GetValue<string>());
        Assert.False(service.Desired["spec"]!.AsObject().ContainsKey("clusterIP"));
        Assert.Equal("ClusterIP", service.Desired["spec"]!["type"]!.GetValue<string>());
        Assert.True(service.Desired["spec"]!.AsObject().ContainsKey("externalName"));
        Assert.Null(service.Desired["spec"]!["externalName"]);
        Assert.Equal(8080, service.Desired["spec"]!["ports"]![0]!["targetPort"]!.GetValue<int>());
        Assert.Equal("cron-input-kafka-output", service.Desired["spec"]!["selector"]![KedaChildren.FunctionLabel]!.GetValue<string>());
        Assert.Equal("cron-input-kafka-output", service.Desired["metadata"]!["labels"]![KedaChildren.FunctionLabel]!.GetValue<string>());
    }

    [Fact]
    public void Build_StandaloneWithHttpAppProtocol_GetsAServiceWithAClusterIp()
    {
        var function = Parse(CronInputKafkaOutput, f =>
        {
            f["spec"]!["serving"]!["outputs"]![0]!["dapr"]!["name"] = "kafka-server";
            f["spec"]!["serving"]!["annotations"]!["dapr.io/app-protocol"] = "http";
        });

        var (children, _, _) = AsyncChildren.Build(function, Options);

        var service = children.Single(c => c.Resource == ApiResource.Services);
        Assert.Null(service.CreateOnly);
        Assert.Equal("http", Env(FunctionContainer(children[0].Desired["spec"]!["template"]!), "APP_PROTOCOL"));
    }

    [Fact]
    public void Build_EventsProducerSample_TakesTheOutputsTypeFromItsBinding()
    {
        var (children, problems, _) = AsyncChildren.Build(Parse(EventsProducer), Options);

        Assert.Empty(problems);
        var container = FunctionContainer(Assert.Single(children).Desired["spec"]!["template"]!);
        Assert.Equal("Always", container["imagePullPolicy"]!.GetValue<string>());
        var output = JsonNode.Parse(Env(container, "FUNC_CONTEXT")!)!["outputs"]!["kafka-server"]!;
        Assert.Equal("events-producer-bindings-kafka-server", output["componentName"]!.GetValue<string>());
        Assert.Equal("bindings.kafka", output["componentType"]!.GetValue<string>());
        Assert.Equal("kafka-server", output["uri"]!.GetValue<string>());
        Assert.Equal("create", output["operation"]!.GetValue<string>());
    }

    [Fact]
    public void Build_StatefulSetWithTheScalingSamples_GetsAScaledObjectOnTheStatefulSet()
    {
        var function = Parse(LogsAsyncHandler, f =>
        {
            f["spec"]!["serving"]!["workloadType"] = "StatefulSet";
            f["spec"]!["serving"]!["scaleOptions"] = Yaml(KedaScaleOptions);
            f["spec"]!["serving"]!["scaleOptions"]!["minReplicas"] = 2;
            Triggers(f, Yaml(KafkaTrigger));
        });

        var (children, problems, _) = AsyncChildren.Build(function, Options);

        Assert.Empty(problems);
        var set = children[0];
        Assert.Equal(new ApiResource("apps", "v1", "statefulsets"), set.Resource);
        Assert.Equal("StatefulSet", set.Desired["kind"]!.GetValue<string>());
        Assert.Equal("logs-async-handler", set.Desired["spec"]!["serviceName"]!.GetValue<string>());
        Assert.Equal(2, set.CreateOnly!["spec"]!["replicas"]!.GetValue<int>());
        var spec = children[1].Desired["spec"]!;
        Assert.Equal("StatefulSet", spec["scaleTargetRef"]!["kind"]!.GetValue<string>());
        Assert.Equal(2, spec["minReplicaCount"]!.GetValue<int>());
        Assert.Equal(10, spec["maxReplicaCount"]!.GetValue<int>());
        Assert.Equal(60, spec["cooldownPeriod"]!.GetValue<int>());
        Assert.Equal(15, spec["pollingInterval"]!.GetValue<int>());
        Assert.True(JsonNode.DeepEquals(Yaml(KedaScaleOptions)["keda"]!["scaledObject"]!["advanced"], spec["advanced"]), spec["advanced"]!.ToJsonString());
    }

    [Fact]
    public void Build_JobWithTriggers_IsOnlyAScaledJob_WithOpenFunctionsRestartPolicy()
    {
        var function = Parse(LogsAsyncHandler, f =>
        {
            f["spec"]!["serving"]!["workloadType"] = "Job";
            f["spec"]!["serving"]!["scaleOptions"] = JsonNode.Parse("""
                {"maxReplicas": 4, "keda": {"scaledJob": {"pollingInterval": 10, "successfulJobsHistoryLimit": 2, "failedJobsHistoryLimit": 3,
                 "scalingStrategy": {"strategy": "accurate"}}}}
                """);
            Triggers(f, Yaml(KafkaTrigger));
        });

        var (children, problems, _) = AsyncChildren.Build(function, Options);

        Assert.Empty(problems);
        var scaledJob = Assert.Single(children);
        Assert.Equal(new ApiResource("keda.sh", "v1alpha1", "scaledjobs"), scaledJob.Resource);
        Assert.Equal("ScaledJob", scaledJob.Desired["kind"]!.GetValue<string>());
        Assert.Equal("logs-async-handler", scaledJob.Name);
        var spec = scaledJob.Desired["spec"]!;
        Assert.Equal("OnFailure", spec["jobTargetRef"]!["template"]!["spec"]!["restartPolicy"]!.GetValue<string>());
        Assert.False(spec["jobTargetRef"]!.AsObject().ContainsKey("selector"));
        Assert.Equal("openfunctiondev/logs-async-handler:v1", FunctionContainer(spec["jobTargetRef"]!["template"]!)["image"]!.GetValue<string>());
        Assert.Equal("function", spec["envSourceContainerName"]!.GetValue<string>());
        Assert.Equal(10, spec["pollingInterval"]!.GetValue<int>());
        Assert.Equal(2, spec["successfulJobsHistoryLimit"]!.GetValue<int>());
        Assert.Equal(3, spec["failedJobsHistoryLimit"]!.GetValue<int>());
        Assert.Equal("accurate", spec["scalingStrategy"]!["strategy"]!.GetValue<string>());
        Assert.Equal(4, spec["maxReplicaCount"]!.GetValue<int>());
        Assert.Equal("kafka", spec["triggers"]![0]!["type"]!.GetValue<string>());
    }

    [Fact]
    public void Build_JobWithRestartPolicyNever_UsesIt()
    {
        var function = Parse(LogsAsyncHandler, f =>
        {
            f["spec"]!["serving"]!["workloadType"] = "Job";
            f["spec"]!["serving"]!["scaleOptions"] = JsonNode.Parse("""{"keda": {"scaledJob": {"restartPolicy": "Never"}}}""");
            Triggers(f, Yaml(KafkaTrigger));
        });

        var (children, _, _) = AsyncChildren.Build(function, Options);

        Assert.Equal("Never", children[0].Desired["spec"]!["jobTargetRef"]!["template"]!["spec"]!["restartPolicy"]!.GetValue<string>());
    }

    [Fact]
    public void Build_JobWithoutTriggers_IsTheJobWrittenOnce_WithANote()
    {
        var function = Parse(LogsAsyncHandler, f => f["spec"]!["serving"]!["workloadType"] = "Job");

        var (children, problems, notes) = AsyncChildren.Build(function, Options);

        Assert.Empty(problems);
        var job = Assert.Single(children);
        Assert.Equal(new ApiResource("batch", "v1", "jobs"), job.Resource);
        Assert.Equal("batch/v1", job.Desired["apiVersion"]!.GetValue<string>());
        Assert.Equal("Job", job.Desired["kind"]!.GetValue<string>());
        Assert.False(job.Desired.ContainsKey("spec"));
        Assert.Equal("OnFailure", job.CreateOnly!["spec"]!["template"]!["spec"]!["restartPolicy"]!.GetValue<string>());
        Assert.StartsWith("spec.serving.scaleOptions.keda.triggers: none, so no ScaledJob: Job logs-async-handler runs once", Assert.Single(notes), StringComparison.Ordinal);
    }

    [Fact]
    public void Build_EnableDaprFalse_TurnsTheSidecarOff_WithANote()
    {
        var function = Parse(LogsAsyncHandler, f => f["spec"]!["serving"]!["annotations"] = new JsonObject { ["openfunction.io/enable-dapr"] = "false" });

        var (children, problems, notes) = AsyncChildren.Build(function, Options);

        Assert.Empty(problems);
        Assert.Equal("false", children[0].Desired["spec"]!["template"]!["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        Assert.Contains(notes, n => n.StartsWith("spec.serving.annotations[\"openfunction.io/enable-dapr\"]: Dapr is off", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_ScaleOptionsForAnotherKindOfScaler_AreIgnoredWithNotes()
    {
        var function = Parse(LogsAsyncHandler, f =>
        {
            f["spec"]!["serving"]!["workloadType"] = "Job";
            f["spec"]!["serving"]!["scaleOptions"] = JsonNode.Parse("""{"minReplicas": 1, "keda": {"scaledObject": {"pollingInterval": 5}}}""");
            Triggers(f, Yaml(KafkaTrigger));
        });

        var (children, problems, notes) = AsyncChildren.Build(function, Options);

        Assert.Empty(problems);
        Assert.Null(children[0].Desired["spec"]!["pollingInterval"]);
        Assert.Contains(notes, n => n.StartsWith("spec.serving.scaleOptions.keda.scaledObject: a Job is scaled by a ScaledJob", StringComparison.Ordinal));
        Assert.Contains(notes, n => n.StartsWith("spec.serving.scaleOptions.minReplicas: a ScaledJob has no minimum", StringComparison.Ordinal));
    }

    [Fact]
    public void Build_SameFunctionTwice_BuildsTheSameObjects()
    {
        var function = Parse(TriggerTarget);

        var first = AsyncChildren.Build(function, BacklogOnUpdraft).Children;
        var second = AsyncChildren.Build(Parse(TriggerTarget), BacklogOnUpdraft).Children;

        Assert.Equal(first.Count, second.Count);
        for (var i = 0; i < first.Count; i++)
        {
            Assert.True(JsonNode.DeepEquals(first[i].Desired, second[i].Desired), first[i].Name);
        }
    }

    [Theory]
    [InlineData("no-image", "spec.image: is required")]
    [InlineData("bad-name", "metadata.name: \"Logs_Handler\" cannot name the function's objects")]
    [InlineData("workload-type", "spec.serving.workloadType: \"CronJob\" is not a workload type")]
    [InlineData("min-above-max", "spec.serving.scaleOptions: minReplicas (3) and maxReplicas (1) must satisfy 0 <= min <= max")]
    [InlineData("two-scalers", "spec.serving.scaleOptions.keda: set at most one of scaledObject, scaledJob and httpScaledObject")]
    [InlineData("restart-always", "spec.serving.scaleOptions.keda.scaledJob.restartPolicy: \"Always\" cannot run a Job")]
    [InlineData("trigger-without-type", "spec.serving.scaleOptions.keda.triggers[0].type: is required")]
    [InlineData("trigger-metadata-list", "spec.serving.scaleOptions.keda.triggers[0].metadata: must be a map of strings")]
    [InlineData("polling-negative", "spec.serving.scaleOptions.keda.scaledObject.pollingInterval: -5 is not a whole number of at least 0")]
    [InlineData("fallback-threshold", "spec.serving.scaleOptions.keda.scaledObject.fallback.failureThreshold: 0 is not a whole number of at least 1")]
    [InlineData("fallback-replicas", "spec.serving.scaleOptions.keda.scaledObject.fallback.replicas: is required")]
    [InlineData("strategy-unknown", "spec.serving.scaleOptions.keda.scaledJob.scalingStrategy.strategy: use default, custom, accurate or eager")]
    [InlineData("strategy-custom", "spec.serving.scaleOptions.keda.scaledJob.scalingStrategy: the custom strategy needs")]
    [InlineData("history-fraction", "spec.serving.scaleOptions.keda.scaledJob.failedJobsHistoryLimit: 1.5 is not a whole number")]
    [InlineData("dapr-mode", "spec.serving.annotations[\"openfunction.io/dapr-service-mode\"]: \"proxy\" is not a Dapr service mode")]
    [InlineData("unresolved-trigger", "spec.serving.triggers.dapr[0].type: \"kafka-receiver\" is not defined in spec.serving.bindings, pubsub or states")]
    [InlineData("input-without-name", "spec.serving.triggers.inputs[0].dapr.name: is required")]
    public void Build_UnservableSpec_IsAProblemNamingTheField_AndNothingIsMade(string change, string expected)
    {
        var function = Parse(LogsAsyncHandler, f =>
        {
            var serving = f["spec"]!["serving"]!;
            switch (change)
            {
                case "no-image":
                    f["spec"]!.AsObject().Remove("image");
                    break;
                case "bad-name":
                    f["metadata"]!["name"] = "Logs_Handler";
                    break;
                case "workload-type":
                    serving["workloadType"] = "CronJob";
                    break;
                case "min-above-max":
                    serving["scaleOptions"] = new JsonObject { ["minReplicas"] = 3, ["maxReplicas"] = 1 };
                    break;
                case "two-scalers":
                    serving["scaleOptions"] = JsonNode.Parse("""{"keda": {"scaledObject": {}, "scaledJob": {}}}""");
                    break;
                case "restart-always":
                    serving["workloadType"] = "Job";
                    serving["scaleOptions"] = JsonNode.Parse("""{"keda": {"scaledJob": {"restartPolicy": "Always"}}}""");
                    break;
                case "trigger-without-type":
                    Triggers(f, JsonNode.Parse("""{"metadata": {"topic": "logs"}}""")!);
                    break;
                case "trigger-metadata-list":
                    Triggers(f, JsonNode.Parse("""{"type": "kafka", "metadata": [{"name": "topic", "value": "logs"}]}""")!);
                    break;
                case "polling-negative":
                    serving["scaleOptions"] = JsonNode.Parse("""{"keda": {"scaledObject": {"pollingInterval": -5}}}""");
                    break;
                case "fallback-threshold":
                    serving["scaleOptions"] = JsonNode.Parse("""{"keda": {"scaledObject": {"fallback": {"failureThreshold": 0, "replicas": 1}}}}""");
                    break;
                case "fallback-replicas":
                    serving["scaleOptions"] = JsonNode.Parse("""{"keda": {"scaledObject": {"fallback": {"failureThreshold": 3}}}}""");
                    break;
                case "strategy-unknown":
                    serving["scaleOptions"] = JsonNode.Parse("""{"keda": {"scaledJob": {"scalingStrategy": {"strategy": "greedy"}}}}""");
                    break;
                case "strategy-custom":
                    serving["scaleOptions"] = JsonNode.Parse("""{"keda": {"scaledJob": {"scalingStrategy": {"strategy": "custom", "customScalingQueueLengthDeduction": 1}}}}""");
                    break;
                case "history-fraction":
                    serving["scaleOptions"] = JsonNode.Parse("""{"keda": {"scaledJob": {"failedJobsHistoryLimit": 1.5}}}""");
                    break;
                case "dapr-mode":
                    serving["annotations"] = new JsonObject { ["openfunction.io/dapr-service-mode"] = "proxy" };
                    break;
                case "unresolved-trigger":
                    serving["triggers"]!["dapr"]![0]!.AsObject().Remove("type");
                    serving.AsObject().Remove("bindings");
                    break;
                case "input-without-name":
                    serving["triggers"]!["inputs"] = JsonNode.Parse("""[{"dapr": {"type": "state.mysql"}}]""");
                    break;
            }
        });

        var (children, problems, _) = AsyncChildren.Build(function, Options);

        Assert.Empty(children);
        Assert.Contains(problems, p => p.StartsWith(expected, StringComparison.Ordinal));
    }

    private static void Triggers(JsonObject function, JsonNode trigger)
    {
        var serving = function["spec"]!["serving"]!;
        var scale = (serving["scaleOptions"] ??= new JsonObject()).AsObject();
        var keda = (scale["keda"] ??= new JsonObject()).AsObject();
        keda["triggers"] = new JsonArray(trigger);
    }

    private static JsonObject Yaml(string yaml) => RealApiServer.YamlToJson(yaml).Single();
}
