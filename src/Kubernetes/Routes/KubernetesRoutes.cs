using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Watching;
using Updraft.Shared.Crds;
using Updraft.Shared.Routes;

namespace Updraft.Kubernetes.Routes;

/// <summary>One route set built from the cluster, and the objects that were skipped.</summary>
/// <param name="Routes">Valid routes, an InterceptorRoute winning over an HTTPScaledObject of the same namespace/name.</param>
/// <param name="Rejected">Objects our rules reject (with the reasons); each is left out, the others keep working.</param>
public sealed record RouteBuild(IReadOnlyList<RouteDefinition> Routes, IReadOnlyList<RejectedRoute> Rejected);

/// <param name="Kind"><c>InterceptorRoute</c> or <c>HTTPScaledObject</c>.</param>
/// <param name="Key"><c>namespace/name</c>.</param>
/// <param name="ResourceVersion">The version that was rejected (a new version is judged afresh).</param>
/// <param name="Problems">What is wrong, one line each.</param>
public sealed record RejectedRoute(string Kind, string Key, string? ResourceVersion, IReadOnlyList<string> Problems);

/// <summary>
/// Routes from the cluster: watches InterceptorRoutes and HTTPScaledObjects (all namespaces, or one) and, after both
/// have synced, builds the complete route set on every change. Bursts of events coalesce into one build, and each
/// build is complete, so consumers swap whole tables and never see half an update.
/// </summary>
/// <remarks>
/// The API server enforces the CRD schema; rules it cannot (CEL on old clusters: both <c>port</c> and
/// <c>portName</c>, wildcard shape, path characters, durations, names) are checked by
/// <see cref="RouteConversion"/>, as for a routes file. A rejected object is reported through
/// <see cref="RouteBuild.Rejected"/> and logged once per resource version.
/// </remarks>
public sealed class KubernetesRoutes
{
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;
    private HashSet<string> _reported = new(StringComparer.Ordinal);

    public KubernetesRoutes(KubeApiClient client, string? watchNamespace, TimeProvider time, ILoggerFactory loggers, WatchTuning? tuning = null)
    {
        _logger = loggers.CreateLogger<KubernetesRoutes>();
        var watchLogger = loggers.CreateLogger<ResourceWatch<InterceptorRoute>>();
        InterceptorRoutes = new ResourceWatch<InterceptorRoute>(client, ApiResource.InterceptorRoutes, watchNamespace, null, time, watchLogger, tuning);
        HttpScaledObjects = new ResourceWatch<HttpScaledObject>(client, ApiResource.HttpScaledObjects, watchNamespace, null, time, watchLogger, tuning);
        // Both watches live as long as this object, so the subscriptions are never disposed.
        _ = InterceptorRoutes.Subscribe(_ => Signal());
        _ = HttpScaledObjects.Subscribe(_ => Signal());
    }

    public ResourceWatch<InterceptorRoute> InterceptorRoutes { get; }

    public ResourceWatch<HttpScaledObject> HttpScaledObjects { get; }

    /// <summary>Called with each complete build (on the build loop; keep it quick).</summary>
    public Action<RouteBuild>? Built { get; set; }

    /// <summary>Completes after the first build from fully listed InterceptorRoutes and HTTPScaledObjects.</summary>
    public Task Synced => _synced.Task;

    /// <summary>Builds done so far.</summary>
    public long Builds { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var watches = Task.WhenAll(InterceptorRoutes.RunAsync(cancellationToken), HttpScaledObjects.RunAsync(cancellationToken));
        try
        {
            await Task.WhenAll(InterceptorRoutes.Synced, HttpScaledObjects.Synced).WaitAsync(cancellationToken);
            while (true)
            {
                try
                {
                    var build = Build(InterceptorRoutes.Items.Values, HttpScaledObjects.Items.Values);
                    Report(build.Rejected);
                    Builds++;
                    Built?.Invoke(build);
                    _synced.TrySetResult();
                }
                catch (Exception e) when (e is not OperationCanceledException)
                {
                    // A defect in building one version must not stop the watches: the previous routes stay in force and
                    // the next change is tried afresh.
                    Log.BuildFailed(_logger, e);
                }

                await _signal.Reader.ReadAsync(cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }

        await watches;
    }

    private void Signal() => _signal.Writer.TryWrite(true);

    /// <summary>Converts and merges every object; pure, so it is tested without a server.</summary>
    public static RouteBuild Build(IEnumerable<InterceptorRoute> interceptorRoutes, IEnumerable<HttpScaledObject> scaledObjects)
    {
        var routes = new List<RouteDefinition>();
        var rejected = new List<RejectedRoute>();
        foreach (var route in interceptorRoutes)
        {
            var problems = new RouteProblemCollector(null, null, null);
            if (RouteConversion.FromInterceptorRoute(route, RouteEnvironment.Kubernetes, problems) is { } definition)
            {
                routes.Add(definition);
            }
            else
            {
                rejected.Add(Rejected(InterceptorRoute.KindValue, route.Metadata, problems));
            }
        }

        foreach (var scaledObject in scaledObjects)
        {
            var problems = new RouteProblemCollector(null, null, null);
            if (RouteConversion.FromHttpScaledObject(scaledObject, RouteEnvironment.Kubernetes, problems) is { } definition)
            {
                routes.Add(definition);
            }
            else
            {
                rejected.Add(Rejected(HttpScaledObject.KindValue, scaledObject.Metadata, problems));
            }
        }

        return new RouteBuild(RouteSet.Merge(routes), rejected);
    }

    private static RejectedRoute Rejected(string kind, ObjectMeta? metadata, RouteProblemCollector problems)
    {
        var lines = new List<string>(problems.Problems.Count);
        foreach (var problem in problems.Problems)
        {
            lines.Add(problem.Format());
        }

        return new RejectedRoute(kind, RouteKeys.Format(metadata?.Namespace ?? "", metadata?.Name ?? ""), metadata?.ResourceVersion, lines);
    }

    private void Report(IReadOnlyList<RejectedRoute> rejected)
    {
        var reported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var route in rejected)
        {
            var id = route.Kind + " " + route.Key + "@" + route.ResourceVersion;
            reported.Add(id);
            if (!_reported.Contains(id))
            {
                Log.RouteRejected(_logger, route.Kind, route.Key, string.Join("; ", route.Problems));
            }
        }

        _reported = reported;
    }
}
