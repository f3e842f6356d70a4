using System.Text.Json.Nodes;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.Infrastructure;

/// <summary>Reading and playing the cluster around Functions on the real kube-apiserver: waits, states, and the controllers that do not run here.</summary>
internal sealed class FunctionApi(RealApiServer api)
{
    public const string FunctionsPath = "/apis/core.openfunction.io/v1beta2/namespaces/{0}/functions";
    public const string DeploymentsPath = "/apis/apps/v1/namespaces/{0}/deployments";
    public const string StatefulSetsPath = "/apis/apps/v1/namespaces/{0}/statefulsets";
    public const string JobsPath = "/apis/batch/v1/namespaces/{0}/jobs";
    public const string ScaledJobsPath = "/apis/keda.sh/v1alpha1/namespaces/{0}/scaledjobs";
    public const string KnativeServicesPath = "/apis/serving.knative.dev/v1/namespaces/{0}/services";
    public const string ComponentsPath = "/apis/dapr.io/v1alpha1/namespaces/{0}/components";

    private static int _namespaces;

    /// <summary>A new namespace, with every CRD (ours and the fixtures) applied.</summary>
    public async Task<string> NamespaceAsync(string prefix)
    {
        await api.ApplyCrdsWithKedaAsync();
        var ns = prefix + "-" + Interlocked.Increment(ref _namespaces);
        await api.EnsureNamespaceAsync(ns);
        return ns;
    }

    public async Task<JsonObject> WaitForAsync(string path, Func<JsonObject, bool>? condition = null)
    {
        JsonObject? last = null;
        await Eventually.TrueAsync(async () => (last = await api.GetAsync(path)) is { } item && (condition is null || condition(item)), () => $"{path}: {last?.ToJsonString() ?? "missing"}");
        return last!;
    }

    public Task WaitForGoneAsync(string path) => Eventually.TrueAsync(async () => await api.GetAsync(path) is null, () => path + " is deleted");

    public async Task<JsonObject> WaitForStateAsync(string ns, string name, string state)
    {
        JsonObject? last = null;
        await Eventually.TrueAsync(
            async () => (last = await api.GetAsync(In(FunctionsPath, ns, name)))?["status"]?["serving"]?["state"]?.GetValue<string>() == state,
            () => $"Function {ns}/{name} state {state}: {last?["status"]?.ToJsonString() ?? "no status"}");
        return last!;
    }

    /// <summary>Waits for an Event about <paramref name="name"/> with <paramref name="reason"/>, and returns its message.</summary>
    public async Task<string> WaitForEventAsync(string ns, string name, string reason)
    {
        JsonNode? found = null;
        await Eventually.TrueAsync(
            async () => (found = (await api.GetAsync(In(EventsPath, ns)))!["items"]!.AsArray().FirstOrDefault(e => e?["reason"]?.GetValue<string>() == reason && e["involvedObject"]?["name"]?.GetValue<string>() == name)) is not null,
            () => $"an Event {reason} about {name}");
        return found!["message"]!.GetValue<string>();
    }

    public static JsonNode? Condition(JsonObject function, string type) =>
        (function["status"]?["conditions"] as JsonArray)?.FirstOrDefault(c => c?["type"]?.GetValue<string>() == type);

    /// <summary>What the deployment or statefulset controller writes once a rollout is done with <paramref name="ready"/> replicas ready.</summary>
    public async Task RolledOutAsync(string collection, string ns, string name, int ready = 1)
    {
        var path = In(collection, ns, name);
        var workload = (await api.GetAsync(path))!;
        workload["status"] = new JsonObject
        {
            ["observedGeneration"] = workload["metadata"]!["generation"]!.GetValue<long>(),
            ["replicas"] = ready,
            ["readyReplicas"] = ready,
            ["availableReplicas"] = ready,
            ["conditions"] = collection == StatefulSetsPath ? null : new JsonArray(new JsonObject
            {
                ["type"] = "Available",
                ["status"] = "True",
                ["reason"] = "MinimumReplicasAvailable",
                ["message"] = "ok",
            }),
        };
        await api.ReplaceAsync(path + "/status", workload);
    }

    /// <summary>What the job controller writes: <paramref name="status"/> as the Job's status.</summary>
    public async Task JobStatusAsync(string ns, string name, JsonObject status)
    {
        var path = In(JobsPath, ns, name);
        var job = (await api.GetAsync(path))!;
        job["status"] = status;
        await api.ReplaceAsync(path + "/status", job);
    }
}
