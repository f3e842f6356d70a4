namespace Updraft.Interceptor.Admin;

/// <summary>Where routes come from and whether that is working, as the status page shows it.</summary>
/// <param name="Kind"><c>routes-file</c> (standalone mode) or <c>kubernetes</c>.</param>
/// <param name="Healthy">The last reload worked (routes file) or every watch has synced (Kubernetes).</param>
/// <param name="Details">Short lines for people: the file, the last load, the last problem.</param>
/// <param name="Watches">Kubernetes mode: one entry per watched resource.</param>
internal sealed record RouteSourceHealth(string Kind, bool Healthy, IReadOnlyList<string> Details, IReadOnlyList<WatchHealth> Watches);

/// <param name="Resource">The plural resource name, e.g. <c>interceptorroutes</c>.</param>
/// <param name="Synced">Listed at least once.</param>
/// <param name="Lists">Full lists so far.</param>
/// <param name="Failures">Failed list or watch requests so far.</param>
internal sealed record WatchHealth(string Resource, bool Synced, long Lists, long Failures);

/// <summary>A route source that can say how it is doing. Called off the request path, at most once per status request.</summary>
internal interface IRouteSourceHealth
{
    public RouteSourceHealth Health();
}
