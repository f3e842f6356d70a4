using System.Text.Json.Nodes;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Watching;
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
    public ClusterCache(KubeApiClient client, OperatorOptions options, TimeProvider time, ILoggerFactory loggers)
    {
        var ns = options.WatchNamespace;
        var tuning = options.WatchTuning;
        HttpScaledObjects = new ResourceWatch<HttpScaledObject>(client, ApiResource.HttpScaledObjects, ns, null, time, loggers.CreateLogger<ResourceWatch<HttpScaledObject>>(), tuning);
        InterceptorRoutes = new ResourceWatch<InterceptorRoute>(client, ApiResource.InterceptorRoutes, ns, null, time, loggers.CreateLogger<ResourceWatch<InterceptorRoute>>(), tuning);
        ScaledObjects = new ResourceWatch<JsonObject>(client, ApiResource.ScaledObjects, ns, null, time, loggers.CreateLogger<ResourceWatch<JsonObject>>(), tuning);
        Services = new ResourceWatch<Service>(client, ApiResource.Services, ns, null, time, loggers.CreateLogger<ResourceWatch<Service>>(), tuning);
    }

    public ResourceWatch<HttpScaledObject> HttpScaledObjects { get; }

    public ResourceWatch<InterceptorRoute> InterceptorRoutes { get; }

    /// <summary>KEDA's ScaledObjects, kept whole: the operator compares the fields it owns and leaves the rest alone.</summary>
    public ResourceWatch<JsonObject> ScaledObjects { get; }

    public ResourceWatch<Service> Services { get; }

    /// <summary>Completes once every kind has been listed.</summary>
    public Task Synced => Task.WhenAll(HttpScaledObjects.Synced, InterceptorRoutes.Synced, ScaledObjects.Synced, Services.Synced);

    public bool IsSynced => Synced.IsCompletedSuccessfully;

    public Task RunAsync(CancellationToken cancellationToken) => Task.WhenAll(
        HttpScaledObjects.RunAsync(cancellationToken),
        InterceptorRoutes.RunAsync(cancellationToken),
        ScaledObjects.RunAsync(cancellationToken),
        Services.RunAsync(cancellationToken));

    /// <summary>(resource, lists, failures) per watch, for the metrics.</summary>
    public IEnumerable<(string Resource, long Lists, long Failures)> WatchCounts()
    {
        yield return (HttpScaledObjects.Resource.Plural, HttpScaledObjects.Lists, HttpScaledObjects.Failures);
        yield return (InterceptorRoutes.Resource.Plural, InterceptorRoutes.Lists, InterceptorRoutes.Failures);
        yield return (ScaledObjects.Resource.Plural, ScaledObjects.Lists, ScaledObjects.Failures);
        yield return (Services.Resource.Plural, Services.Lists, Services.Failures);
    }
}
