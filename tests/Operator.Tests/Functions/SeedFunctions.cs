using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Shared.Crds;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Operator.Tests.Functions;

/// <summary>Sample Functions from OpenFunction's concept docs (<c>shared/seeds</c>) used by more than one builder's tests, and how to read them.</summary>
internal static class SeedFunctions
{
    /// <summary>"Create an OpenFuncAsync Runtime Function" (EventBus and Trigger), with v1beta1's scaledObject replica counts.</summary>
    public const string TriggerTarget = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: trigger-target
        spec:
          version: "v1.0.0"
          image: openfunctiondev/v1beta1-trigger-target:latest
          serving:
            scaleOptions:
              keda:
                scaledObject:
                  pollingInterval: 15
                  minReplicaCount: 0
                  maxReplicaCount: 10
                  cooldownPeriod: 30
                triggers:
                  - type: stan
                    metadata:
                      natsServerMonitoringEndpoint: "stan.default.svc.cluster.local:8222"
                      queueGroup: "grp1"
                      durableName: "ImDurable"
                      subject: "metrics"
                      lagThreshold: "10"
            triggers:
              dapr:
                - name: eventbus
                  topic: metrics
            pubsub:
              eventbus:
                type: pubsub.natsstreaming
                version: v1
                metadata:
                  - name: natsURL
                    value: "nats://nats.default:4222"
                  - name: natsStreamingClusterID
                    value: "stan"
                  - name: subscriptionType
                    value: "queue"
                  - name: durableSubscriptionName
                    value: "ImDurable"
                  - name: consumerID
                    value: "grp1"
        """;

    /// <summary>"Dapr Trigger" (Function Trigger), with the image of the build sample of the same name.</summary>
    public const string LogsAsyncHandler = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: logs-async-handler
          namespace: default
        spec:
          version: "v2.0.0"
          image: openfunctiondev/logs-async-handler:v1
          imageCredentials:
            name: push-secret
          serving:
            bindings:
              kafka-receiver:
                metadata:
                  - name: brokers
                    value: kafka-server-kafka-brokers:9092
                  - name: authRequired
                    value: "false"
                  - name: publishTopic
                    value: logs
                  - name: topics
                    value: logs
                  - name: consumerGroup
                    value: logs-handler
                type: bindings.kafka
                version: v1
            triggers:
              dapr:
                - name: kafka-receiver
                  type: bindings.kafka
        """;

    /// <summary>"Create an Event Producer" (OpenFunction Events), v1beta2.</summary>
    public const string EventsProducer = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: events-producer
        spec:
          version: "v1.0.0"
          image: openfunctiondev/v1beta1-bindings:latest
          serving:
            template:
              containers:
                - name: function
                  imagePullPolicy: Always
            triggers:
              dapr:
                - name: cron
                  type: bindings.cron
            outputs:
              - dapr:
                  name: kafka-server
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
                    value: "events-sample"
                  - name: consumerGroup
                    value: "bindings-with-output"
                  - name: publishTopic
                    value: "events-sample"
                  - name: authRequired
                    value: "false"
        """;

    /// <summary>"Function Inputs" (Function Trigger): a state store input, nothing defined inline.</summary>
    public const string MysqlInput = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: logs-async-handler
          namespace: default
        spec:
          image: openfunctiondev/logs-async-handler:v1
          serving:
            triggers:
              inputs:
                - dapr:
                    name: mysql
                    type: state.mysql
        """;

    public static Function Parse(string yaml, Action<JsonObject>? change = null)
    {
        var json = RealApiServer.YamlToJson(yaml).Single();
        json["metadata"]!["namespace"] ??= "default";
        change?.Invoke(json);
        return json.Deserialize<Function>(JsonSerializerOptions.Web)!;
    }

    public static JsonObject FunctionContainer(JsonNode template) =>
        template["spec"]!["containers"]!.AsArray().OfType<JsonObject>().Single(c => c["name"]!.GetValue<string>() == "function");

    public static string? Env(JsonNode container, string name) =>
        container["env"]!.AsArray().LastOrDefault(e => e!["name"]!.GetValue<string>() == name)?["value"]?.GetValue<string>();
}
