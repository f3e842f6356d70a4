using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Functions.Dapr;
using Updraft.Operator.Functions.Keda;
using Updraft.Operator.Options;
using Updraft.Shared.Crds;

namespace Updraft.Operator.Functions.Async;

/// <summary>
/// What an async Function (Dapr triggers, no HTTP trigger) runs, as OpenFunction's async runtime makes it
/// (<c>pkg/core/serving/openfuncasync</c>) with stable names and without its defects: the workload <c>&lt;fn&gt;</c>
/// (<c>workloadType</c> Deployment, StatefulSet or Job; port 8080 whatever the Function says), the KEDA scaler
/// <c>&lt;fn&gt;</c> from <c>scaleOptions.keda</c> (a ScaledObject, or for a Job a ScaledJob, which then is the only
/// thing that starts Jobs), and in the standalone Dapr mode the dapr-proxy Deployment and the Service <c>&lt;fn&gt;</c>
/// it delivers events through. The Dapr Components come from <see cref="DaprComponents.Build"/>.
/// </summary>
internal static class AsyncChildren
{
    public static readonly ApiResource StatefulSets = new("apps", "v1", "statefulsets");
    public static readonly ApiResource Jobs = new("batch", "v1", "jobs");
    public static readonly ApiResource ScaledJobs = new("keda.sh", "v1alpha1", "scaledjobs");
    public const string ScaledJobKind = "ScaledJob";

    /// <summary>OpenFunction's async runtime always serves on 8080 (there is no HTTP trigger to name another port).</summary>
    public const int Port = 8080;

    public const string DeploymentType = "Deployment";
    public const string StatefulSetType = "StatefulSet";
    public const string JobType = "Job";

    /// <summary>
    /// The restart policy of the function's Jobs when <c>scaledJob.restartPolicy</c> is unset. OpenFunction's API comment
    /// and docs say <c>Never</c>, its code applies <c>OnFailure</c>: the code is what every OpenFunction user runs, so
    /// Updraft keeps <c>OnFailure</c> (a failed container restarts in its pod; set <c>Never</c> for a new pod per retry).
    /// </summary>
    public const string DefaultRestartPolicy = "OnFailure";

    public const string ExternalTrigger = "external";
    public const string SourceKey = "source";

    /// <summary>The KEDA trigger types Updraft's scaler also serves (as <c>source</c>).</summary>
    private static readonly string[] BacklogTypes = ["kafka", "nats-jetstream", "stan"];
    private static readonly string[] ScaledObjectFields = ["pollingInterval", "cooldownPeriod", "advanced", "fallback"];
    private static readonly string[] ScaledJobFields = ["restartPolicy", "pollingInterval", "successfulJobsHistoryLimit", "failedJobsHistoryLimit", "scalingStrategy"];
    private static readonly string[] ScalingStrategies = ["default", "custom", "accurate", "eager"];

    /// <summary>The children, the problems that stop the Function from being served, and notes that do not (one line each).</summary>
    /// <param name="function">An async Function.</param>
    /// <param name="options">The operator's settings.</param>
    /// <remarks>
    /// With <see cref="OperatorOptions.BacklogOnUpdraftScaler"/>, <c>kafka</c>, <c>nats-jetstream</c> and <c>stan</c>
    /// triggers are pointed at Updraft's scaler: each becomes <c>{type: external, metadata: {scalerAddress, source:
    /// &lt;type&gt;, ...its metadata}}</c>. A trigger with an <c>authenticationRef</c> or <c>*FromEnv</c> keys stays
    /// KEDA's (KEDA passes neither to external scalers), with a note.
    /// </remarks>
    public static (IReadOnlyList<DesiredChild> Children, IReadOnlyList<string> Problems, IReadOnlyList<string> Notes) Build(Function function, OperatorOptions options)
    {
        var metadata = function.Metadata!;
        var fn = metadata.Name!;
        var ns = metadata.Namespace!;
        var spec = function.Spec!;
        var serving = spec.Serving!;
        var problems = new List<string>();
        var notes = new List<string>();
        if (string.IsNullOrEmpty(spec.Image))
        {
            problems.Add("spec.image: is required");
        }

        if (!KubernetesNames.IsDns1035Label(fn))
        {
            problems.Add($"metadata.name: \"{fn}\" cannot name the function's objects; use lower-case letters, digits and '-', starting with a letter, at most 63 characters");
        }

        var workloadType = serving.WorkloadType is null or "" ? DeploymentType : serving.WorkloadType;
        if (workloadType is not (DeploymentType or StatefulSetType or JobType))
        {
            problems.Add($"spec.serving.workloadType: \"{workloadType}\" is not a workload type; use {DeploymentType} (the default), {StatefulSetType} or {JobType}");
        }

        var scale = serving.ScaleOptions;
        if (scale?.MinReplicas < 0 || scale?.MaxReplicas < 0 || (scale?.MinReplicas is { } min && scale.MaxReplicas is { } max && min > max))
        {
            problems.Add($"spec.serving.scaleOptions: minReplicas ({scale.MinReplicas}) and maxReplicas ({scale.MaxReplicas}) must satisfy 0 <= min <= max");
        }

        var isJob = workloadType == JobType;
        var keda = scale?.Keda;
        CheckKeda(keda, isJob, problems, notes);
        var triggers = Triggers(keda?.Triggers, options.BacklogOnUpdraftScaler, options.ScalerAddress, problems, notes);
        var restartPolicy = DefaultRestartPolicy;
        if (isJob && keda?.ScaledJob?["restartPolicy"] is { } policy)
        {
            restartPolicy = DaprComponents.Text(policy) ?? "";
            if (restartPolicy is not ("OnFailure" or "Never"))
            {
                problems.Add($"spec.serving.scaleOptions.keda.scaledJob.restartPolicy: {policy.ToJsonString()} cannot run a Job; use OnFailure (the default) or Never");
            }
        }

        var mode = DaprComponents.Mode(function, problems);
        if (mode == DaprMode.Off)
        {
            notes.Add($"spec.serving.annotations[\"{DaprComponents.EnableAnnotation}\"]: Dapr is off, so the function's Dapr triggers deliver no events to it");
        }

        var context = FunctionContext.Build(function, Port, problems);
        var pod = FunctionWorkload.PodSpec(function, Port);
        FunctionContext.Apply(pod, function, context, mode, options.ClusterDomain);
        if (problems.Count > 0)
        {
            return ([], problems, notes);
        }

        var labels = DaprComponents.Labels(fn);
        // The Function's labels win over OpenFunction's, not over the two the selectors use.
        var podLabels = new JsonObject
        {
            [DaprComponents.ManagedLabel] = "true",
            [KedaChildren.VersionLabel] = string.IsNullOrEmpty(spec.Version) ? "latest" : spec.Version,
        };
        foreach (var (key, value) in (serving.Labels ?? []).OrderBy(static pair => pair.Key, StringComparer.Ordinal))
        {
            podLabels[key] = value;
        }

        podLabels[KedaChildren.ManagedByLabel] = KedaChildren.ManagedBy;
        podLabels[KedaChildren.FunctionLabel] = fn;
        var template = new JsonObject
        {
            ["metadata"] = new JsonObject { ["labels"] = podLabels, ["annotations"] = DaprComponents.PodAnnotations(function, Port, mode) },
            ["spec"] = pod,
        };
        var selector = new JsonObject { ["matchLabels"] = new JsonObject { [KedaChildren.FunctionLabel] = fn, [KedaChildren.ManagedByLabel] = KedaChildren.ManagedBy } };
        var scaled = triggers.Count > 0;
        var replicas = scale?.MinReplicas is > 0 and var m ? m : 1;
        var children = new List<DesiredChild>();
        if (isJob)
        {
            pod["restartPolicy"] = restartPolicy;
            if (scaled)
            {
                // The ScaledJob starts every Job; OpenFunction also created one directly, which ran at once.
                children.Add(new DesiredChild(ScaledJobs, ScaledJob(fn, ns, labels, template, keda!.ScaledJob, scale!.MaxReplicas, triggers)));
                if (scale.MinReplicas is not null)
                {
                    notes.Add("spec.serving.scaleOptions.minReplicas: a ScaledJob has no minimum (as in OpenFunction); ignored");
                }
            }
            else
            {
                // A Job's template cannot change: it is written once, and a changed Function does not rerun it.
                var job = FunctionWorkload.Object("batch/v1", JobType, fn, ns, labels, []);
                job.Remove("spec");
                children.Add(new DesiredChild(Jobs, job, new JsonObject { ["spec"] = new JsonObject { ["template"] = template } }));
                notes.Add($"spec.serving.scaleOptions.keda.triggers: none, so no ScaledJob: Job {fn} runs once, and a changed Function does not run it again (delete the Job to rerun it)");
            }
        }
        else
        {
            var workload = new JsonObject { ["selector"] = selector, ["template"] = template };
            if (workloadType == StatefulSetType)
            {
                workload["serviceName"] = fn;
            }

            if (!scaled)
            {
                // Nothing scales it: the operator owns the replica count.
                workload["replicas"] = replicas;
                notes.Add($"spec.serving.scaleOptions.keda.triggers: none, so no ScaledObject: {workloadType} {fn} runs {replicas} replica(s) and does not scale");
            }

            var resource = workloadType == StatefulSetType ? StatefulSets : ApiResource.Deployments;
            var createOnly = scaled ? new JsonObject { ["spec"] = new JsonObject { ["replicas"] = replicas } } : null;
            children.Add(new DesiredChild(resource, FunctionWorkload.Object("apps/v1", workloadType, fn, ns, labels, workload), createOnly));
            if (scaled)
            {
                children.Add(new DesiredChild(ApiResource.ScaledObjects, ScaledObjectFor(fn, ns, labels, workloadType, keda!.ScaledObject, scale!, triggers)));
            }
        }

        if (mode == DaprMode.Standalone)
        {
            children.Add(DaprComponents.Proxy(function, Port, context, options.DaprProxyImage));
            if (serving.Triggers?.Dapr is { Count: > 0 })
            {
                // Only Dapr triggers deliver events to the function through the proxy.
                children.Add(EventService(function, labels));
            }
        }

        return (children, [], notes);
    }

    /// <summary>
    /// The Service <c>&lt;fn&gt;</c> the dapr-proxy delivers events through (OpenFunction's
    /// <c>CreateOrUpdateServiceForAsyncFunc</c>): headless unless the app protocol is http. Headless-ness is set on
    /// creation only, as the API server does not let a Service's cluster IP change.
    /// </summary>
    private static DesiredChild EventService(Function function, JsonObject labels)
    {
        var metadata = function.Metadata!;
        var fn = metadata.Name!;
        var service = FunctionWorkload.Object("v1", "Service", fn, metadata.Namespace!, labels, new JsonObject
        {
            // Explicit, so the keda engine's ExternalName Service of the same name is turned into this one.
            ["type"] = "ClusterIP",
            ["externalName"] = null,
            ["selector"] = new JsonObject { [KedaChildren.FunctionLabel] = fn, [KedaChildren.ManagedByLabel] = KedaChildren.ManagedBy },
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = Port, ["targetPort"] = Port, ["protocol"] = "TCP" }),
        });
        var headless = DaprComponents.AppProtocol(function) != "http";
        return new DesiredChild(ApiResource.Services, service, headless ? new JsonObject { ["spec"] = new JsonObject { ["clusterIP"] = "None" } } : null);
    }

    private static JsonObject ScaledObjectFor(string fn, string ns, JsonObject labels, string kind, JsonObject? options, FunctionScaleOptions scale, JsonArray triggers) =>
        FunctionWorkload.Object(ScaledObject.ApiVersionValue, ScaledObject.KindValue, fn, ns, labels, new JsonObject
        {
            ["scaleTargetRef"] = new JsonObject
            {
                ["apiVersion"] = "apps/v1",
                ["kind"] = kind,
                ["name"] = fn,
                ["envSourceContainerName"] = FunctionWorkload.ContainerName,
            },
            ["pollingInterval"] = options?["pollingInterval"]?.DeepClone(),
            ["cooldownPeriod"] = options?["cooldownPeriod"]?.DeepClone(),
            ["minReplicaCount"] = scale.MinReplicas,
            ["maxReplicaCount"] = scale.MaxReplicas,
            ["advanced"] = options?["advanced"]?.DeepClone(),
            ["fallback"] = options?["fallback"]?.DeepClone(),
            ["triggers"] = triggers,
        });

    private static JsonObject ScaledJob(string fn, string ns, JsonObject labels, JsonObject template, JsonObject? options, int? maxReplicas, JsonArray triggers) =>
        FunctionWorkload.Object(ScaledObject.ApiVersionValue, ScaledJobKind, fn, ns, labels, new JsonObject
        {
            // A Job spec without a selector: the API server generates the Jobs' selectors.
            ["jobTargetRef"] = new JsonObject { ["template"] = template },
            ["envSourceContainerName"] = FunctionWorkload.ContainerName,
            ["pollingInterval"] = options?["pollingInterval"]?.DeepClone(),
            ["successfulJobsHistoryLimit"] = options?["successfulJobsHistoryLimit"]?.DeepClone(),
            ["failedJobsHistoryLimit"] = options?["failedJobsHistoryLimit"]?.DeepClone(),
            ["scalingStrategy"] = options?["scalingStrategy"]?.DeepClone(),
            ["maxReplicaCount"] = maxReplicas,
            ["triggers"] = triggers,
        });

    /// <summary>The checks of OpenFunction's webhook on <c>scaleOptions.keda</c>, and notes on what an async Function ignores.</summary>
    private static void CheckKeda(KedaScaleOptions? keda, bool isJob, List<string> problems, List<string> notes)
    {
        const string Field = "spec.serving.scaleOptions.keda";
        if (keda is null)
        {
            return;
        }

        if ((keda.ScaledObject is null ? 0 : 1) + (keda.ScaledJob is null ? 0 : 1) + (keda.HttpScaledObject is null ? 0 : 1) > 1)
        {
            problems.Add($"{Field}: set at most one of scaledObject, scaledJob and httpScaledObject");
        }

        if (keda.HttpScaledObject is not null)
        {
            notes.Add($"{Field}.httpScaledObject: an async function has no HTTP trigger; ignored");
        }

        if (isJob && keda.ScaledObject is not null)
        {
            notes.Add($"{Field}.scaledObject: a Job is scaled by a ScaledJob (scaledJob); ignored");
        }

        if (!isJob && keda.ScaledJob is not null)
        {
            notes.Add($"{Field}.scaledJob: only workloadType Job is scaled by a ScaledJob; ignored");
        }

        foreach (var (name, options, known) in new[] { ("scaledObject", keda.ScaledObject, ScaledObjectFields), ("scaledJob", keda.ScaledJob, ScaledJobFields) })
        {
            foreach (var (key, _) in options ?? [])
            {
                if (Array.IndexOf(known, key) < 0)
                {
                    var instead = key switch
                    {
                        "minReplicaCount" => "; use scaleOptions.minReplicas",
                        "maxReplicaCount" => "; use scaleOptions.maxReplicas",
                        _ => "",
                    };
                    notes.Add($"{Field}.{name}.{key}: not a field of OpenFunction v1beta2 (the API server drops it); ignored{instead}");
                }
            }
        }

        WholeNumber(keda.ScaledObject, "pollingInterval", $"{Field}.scaledObject", 0, false, problems);
        WholeNumber(keda.ScaledObject, "cooldownPeriod", $"{Field}.scaledObject", 0, false, problems);
        if (keda.ScaledObject?["fallback"] is { } fallback)
        {
            if (fallback is JsonObject fallbackObject)
            {
                WholeNumber(fallbackObject, "failureThreshold", $"{Field}.scaledObject.fallback", 1, true, problems);
                WholeNumber(fallbackObject, "replicas", $"{Field}.scaledObject.fallback", 0, true, problems);
            }
            else
            {
                problems.Add($"{Field}.scaledObject.fallback: must be an object with failureThreshold and replicas");
            }
        }

        foreach (var key in new[] { "pollingInterval", "successfulJobsHistoryLimit", "failedJobsHistoryLimit" })
        {
            WholeNumber(keda.ScaledJob, key, $"{Field}.scaledJob", 0, false, problems);
        }

        if (keda.ScaledJob?["scalingStrategy"] is { } strategy)
        {
            var kind = DaprComponents.Text(strategy["strategy"]);
            if (strategy is not JsonObject || (strategy["strategy"] is not null && Array.IndexOf(ScalingStrategies, kind) < 0))
            {
                problems.Add($"{Field}.scaledJob.scalingStrategy.strategy: use default, custom, accurate or eager");
            }
            else if (kind == "custom" && (strategy["customScalingQueueLengthDeduction"] is null || strategy["customScalingRunningJobPercentage"] is null))
            {
                problems.Add($"{Field}.scaledJob.scalingStrategy: the custom strategy needs customScalingQueueLengthDeduction and customScalingRunningJobPercentage");
            }
        }
    }

    /// <summary>
    /// <c>scaleOptions.keda.triggers</c> for the scaler, copied, with backlog triggers pointed at Updraft's scaler when
    /// <paramref name="useUpdraftScaler"/> is set. None means no scaler (a note says so).
    /// </summary>
    private static JsonArray Triggers(JsonArray? triggers, bool useUpdraftScaler, string scalerAddress, List<string> problems, List<string> notes)
    {
        var result = new JsonArray();
        for (var i = 0; i < (triggers?.Count ?? 0); i++)
        {
            var field = $"spec.serving.scaleOptions.keda.triggers[{i}]";
            if (triggers![i] is not JsonObject trigger || DaprComponents.Text(trigger["type"]) is not { } type)
            {
                problems.Add($"{field}.type: is required (a KEDA scaler, e.g. kafka)");
                continue;
            }

            if (trigger["metadata"] is not (null or JsonObject))
            {
                problems.Add($"{field}.metadata: must be a map of strings");
                continue;
            }

            var copy = (JsonObject)trigger.DeepClone();
            var metadata = trigger["metadata"] as JsonObject;
            if (useUpdraftScaler && Array.IndexOf(BacklogTypes, type) >= 0)
            {
                var fromEnv = metadata?.Select(static pair => pair.Key).FirstOrDefault(static key => key.EndsWith("FromEnv", StringComparison.Ordinal));
                if (trigger["authenticationRef"] is not null)
                {
                    notes.Add($"{field}: kept on KEDA's {type} scaler: KEDA does not pass authenticationRef secrets to external scalers (Updraft's scaler reads credentials profiles, credentialsProfile)");
                }
                else if (fromEnv is not null)
                {
                    notes.Add($"{field}.metadata.{fromEnv}: kept on KEDA's {type} scaler: Updraft's scaler does not read the workload's environment");
                }
                else
                {
                    var external = new JsonObject { [ScaleTrigger.ScalerAddressKey] = scalerAddress, [SourceKey] = type };
                    foreach (var (key, value) in metadata ?? [])
                    {
                        if (key is not (ScaleTrigger.ScalerAddressKey or SourceKey))
                        {
                            external[key] = value?.DeepClone();
                        }
                    }

                    copy["type"] = ExternalTrigger;
                    copy["metadata"] = external;
                }
            }
            else if (type == "stan")
            {
                notes.Add($"{field}: KEDA removed its stan scaler in v2.19; Updraft's scaler serves stan triggers when the operator points backlog triggers at it");
            }

            result.Add(copy);
        }

        return result;
    }

    private static void WholeNumber(JsonObject? options, string key, string field, int minimum, bool required, List<string> problems)
    {
        var node = options?[key];
        if (node is null)
        {
            if (required && options is not null)
            {
                problems.Add($"{field}.{key}: is required");
            }

            return;
        }

        if (node.GetValueKind() != JsonValueKind.Number
            || !long.TryParse(node.ToJsonString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            || value < minimum
            || value > int.MaxValue)
        {
            problems.Add($"{field}.{key}: {node.ToJsonString()} is not a whole number of at least {minimum}");
        }
    }
}
