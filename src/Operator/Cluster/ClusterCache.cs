using System.Text.Json.Nodes;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Watching;
using Updraft.Operator.Functions.Async;
using Updraft.Operator.Options;
using Updraft.Shared.Crds;

namespace Updraft.Operator.Cluster;

/// <summary>
/// The operator's view of the cluster: one list-and-watch per kind it reads, in every namespace or only
/// <c>KEDA_HTTP_OPERATOR_WATCH_NAMESPACE</c>. Reconcilers read these copies, never the event that woke them. The
/// watches run on every replica, leader or not, so a replica that takes over starts with warm caches.
/// </summary>
internal sealed class ClusterCache
{
    private readonly bool _watchFunctions;

    public ClusterCache(KubeApiClient client, OperatorOptions options, TimeProvider time, ILoggerFactory loggers)
    {
        _watchFunctions = options.Functions != FunctionsMode.None;
        var ns = options.WatchNamespace;
        var tuning = options.WatchTuning;
        HttpScaledObjects = new ResourceWatch<HttpScaledObject>(client, ApiResource.HttpScaledObjects, ns, null, time, loggers.CreateLogger<ResourceWatch<HttpScaledObject>>(), tuning);
        InterceptorRoutes = new ResourceWatch<InterceptorRoute>(client, ApiResource.InterceptorRoutes, ns, null, time, loggers.CreateLogger<ResourceWatch<InterceptorRoute>>(), tuning);
        ScaledObjects = new ResourceWatch<JsonObject>(client, ApiResource.ScaledObjects, ns, null, time, loggers.CreateLogger<ResourceWatch<JsonObject>>(), tuning);
        Services = new ResourceWatch<Service>(client, ApiResource.Services, ns, null, time, loggers.CreateLogger<ResourceWatch<Service>>(), tuning);
        var jsonLogger = loggers.CreateLogger<ResourceWatch<JsonObject>>();
        Functions = new ResourceWatch<Function>(client, ApiResource.Functions, ns, null, time, loggers.CreateLogger<ResourceWatch<Function>>(), tuning);
        FunctionDeployments = new ResourceWatch<JsonObject>(client, ApiResource.Deployments, ns, ChildLabelSelector, time, jsonLogger, tuning);
        FunctionServices = new ResourceWatch<JsonObject>(client, ApiResource.Services, ns, ChildLabelSelector, time, jsonLogger, tuning);
        FunctionRoutes = new ResourceWatch<JsonObject>(client, ApiResource.InterceptorRoutes, ns, ChildLabelSelector, time, jsonLogger, tuning);
        FunctionKnativeServices = new ResourceWatch<JsonObject>(client, Updraft.Operator.Functions.Knative.KnativeChildren.KnativeServices, ns, ChildLabelSelector, time, jsonLogger, tuning);
        FunctionComponents = new ResourceWatch<JsonObject>(client, Updraft.Operator.Functions.Dapr.DaprComponents.Components, ns, ChildLabelSelector, time, jsonLogger, tuning);
        FunctionStatefulSets = new ResourceWatch<JsonObject>(client, AsyncChildren.StatefulSets, ns, ChildLabelSelector, time, jsonLogger, tuning);
        FunctionJobs = new ResourceWatch<JsonObject>(client, AsyncChildren.Jobs, ns, ChildLabelSelector, time, jsonLogger, tuning);
        FunctionScaledJobs = new ResourceWatch<JsonObject>(client, AsyncChildren.ScaledJobs, ns, ChildLabelSelector, time, jsonLogger, tuning);
    }

    /// <summary>The label on every child the operator makes for a Function (its own watches select on it).</summary>
    public const string ChildLabelSelector = "app.kubernetes.io/managed-by=updraft-operator";

    public ResourceWatch<HttpScaledObject> HttpScaledObjects { get; }

    public ResourceWatch<InterceptorRoute> InterceptorRoutes { get; }

    /// <summary>KEDA's ScaledObjects, kept whole: the operator compares the fields it owns and leaves the rest alone.</summary>
    public ResourceWatch<JsonObject> ScaledObjects { get; }

    public ResourceWatch<Service> Services { get; }

    /// <summary>OpenFunction Functions (empty, and checked again now and then, while the CRD is not installed).</summary>
    public ResourceWatch<Function> Functions { get; }

    /// <summary>The Deployments, Services and InterceptorRoutes made for Functions, kept whole.</summary>
    public ResourceWatch<JsonObject> FunctionDeployments { get; }

    public ResourceWatch<JsonObject> FunctionServices { get; }

    public ResourceWatch<JsonObject> FunctionRoutes { get; }

    /// <summary>Knative Services and Dapr Components made for Functions (empty while their CRDs are not installed).</summary>
    public ResourceWatch<JsonObject> FunctionKnativeServices { get; }

    public ResourceWatch<JsonObject> FunctionComponents { get; }

    /// <summary>The StatefulSets, Jobs and KEDA ScaledJobs made for async Functions.</summary>
    public ResourceWatch<JsonObject> FunctionStatefulSets { get; }

    public ResourceWatch<JsonObject> FunctionJobs { get; }

    public ResourceWatch<JsonObject> FunctionScaledJobs { get; }

    /// <summary>Completes once every kind has been listed.</summary>
    public Task Synced => _watchFunctions
        ? Task.WhenAll(
            HttpScaledObjects.Synced, InterceptorRoutes.Synced, ScaledObjects.Synced, Services.Synced,
            Functions.Synced, FunctionDeployments.Synced, FunctionServices.Synced, FunctionRoutes.Synced,
            FunctionKnativeServices.Synced, FunctionComponents.Synced, FunctionStatefulSets.Synced, FunctionJobs.Synced,
            FunctionScaledJobs.Synced)
        : Task.WhenAll(HttpScaledObjects.Synced, InterceptorRoutes.Synced, ScaledObjects.Synced, Services.Synced);

    public bool IsSynced => Synced.IsCompletedSuccessfully;

    public Task RunAsync(CancellationToken cancellationToken)
    {
        var watches = new List<Task>
        {
            HttpScaledObjects.RunAsync(cancellationToken),
            InterceptorRoutes.RunAsync(cancellationToken),
            ScaledObjects.RunAsync(cancellationToken),
            Services.RunAsync(cancellationToken),
        };
        if (_watchFunctions)
        {
            watches.Add(Functions.RunAsync(cancellationToken));
            watches.Add(FunctionDeployments.RunAsync(cancellationToken));
            watches.Add(FunctionServices.RunAsync(cancellationToken));
            watches.Add(FunctionRoutes.RunAsync(cancellationToken));
            watches.Add(FunctionKnativeServices.RunAsync(cancellationToken));
            watches.Add(FunctionComponents.RunAsync(cancellationToken));
            watches.Add(FunctionStatefulSets.RunAsync(cancellationToken));
            watches.Add(FunctionJobs.RunAsync(cancellationToken));
            watches.Add(FunctionScaledJobs.RunAsync(cancellationToken));
        }

        return Task.WhenAll(watches);
    }

    /// <summary>(resource, lists, failures) per watch, for the metrics.</summary>
    public IEnumerable<(string Resource, long Lists, long Failures)> WatchCounts()
    {
        yield return (HttpScaledObjects.Resource.Plural, HttpScaledObjects.Lists, HttpScaledObjects.Failures);
        yield return (InterceptorRoutes.Resource.Plural, InterceptorRoutes.Lists, InterceptorRoutes.Failures);
        yield return (ScaledObjects.Resource.Plural, ScaledObjects.Lists, ScaledObjects.Failures);
        yield return (Services.Resource.Plural, Services.Lists, Services.Failures);
        if (!_watchFunctions)
        {
            yield break;
        }

        yield return (Functions.Resource.Plural, Functions.Lists, Functions.Failures);
        yield return ("function-" + FunctionDeployments.Resource.Plural, FunctionDeployments.Lists, FunctionDeployments.Failures);
        yield return ("function-" + FunctionServices.Resource.Plural, FunctionServices.Lists, FunctionServices.Failures);
        yield return ("function-" + FunctionRoutes.Resource.Plural, FunctionRoutes.Lists, FunctionRoutes.Failures);
        yield return ("function-knative-" + FunctionKnativeServices.Resource.Plural, FunctionKnativeServices.Lists, FunctionKnativeServices.Failures);
        yield return ("function-" + FunctionComponents.Resource.Plural, FunctionComponents.Lists, FunctionComponents.Failures);
        yield return ("function-" + FunctionStatefulSets.Resource.Plural, FunctionStatefulSets.Lists, FunctionStatefulSets.Failures);
        yield return ("function-" + FunctionJobs.Resource.Plural, FunctionJobs.Lists, FunctionJobs.Failures);
        yield return ("function-" + FunctionScaledJobs.Resource.Plural, FunctionScaledJobs.Lists, FunctionScaledJobs.Failures);
    }
}
