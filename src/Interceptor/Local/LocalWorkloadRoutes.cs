using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Local;

/// <summary>Routes that target a local workload while no replicas feed is set (<c>UPDRAFT_LOCAL_REPLICAS</c>).</summary>
internal static class LocalWorkloadRoutes
{
    /// <summary>The routes of <paramref name="routes"/> that name a local workload.</summary>
    public static IEnumerable<RouteDefinition> Of(IEnumerable<RouteDefinition> routes) => routes.Where(r => r.Target.Workload is not null);

    /// <summary>The start-up problem of a route that names a local workload without a feed to follow.</summary>
    public static string Problem(RouteDefinition route) =>
        $"route {route.Key} targets local workload {Workload(route)}, but {LocalReplicasSetting.Variable} is not set; "
        + $"set it to the local autoscaler's replicas feed address ({ReplicaAddress.AllowedForm}, e.g. 127.0.0.1:9092)";

    /// <summary><c>namespace/name</c> of the route's workload.</summary>
    public static string Workload(RouteDefinition route) => RouteKeys.Format(route.Namespace, route.Target.Workload ?? "");
}
