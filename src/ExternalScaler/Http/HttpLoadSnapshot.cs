namespace Updraft.ExternalScaler.Http;

/// <summary>One route's load across the interceptor fleet.</summary>
/// <param name="Concurrency">In-flight requests summed over replicas (a silent replica's last value is replayed for a while).</param>
/// <param name="Rate">Requests per granularity over the route's window.</param>
internal readonly record struct RouteLoad(int Concurrency, double Rate);

/// <summary>
/// What the HTTP source answers every RPC from: an immutable view built by <see cref="CountsAggregator"/>.
/// </summary>
internal sealed class HttpLoadSnapshot
{
    public static readonly HttpLoadSnapshot Initial = new(new Dictionary<string, RouteLoad>(), 0, 0, 0, DateTimeOffset.MinValue);

    public HttpLoadSnapshot(IReadOnlyDictionary<string, RouteLoad> routes, int totalConcurrency, int freshReplicas, int replicas, DateTimeOffset at)
    {
        Routes = routes;
        TotalConcurrency = totalConcurrency;
        FreshReplicas = freshReplicas;
        Replicas = replicas;
        At = at;
    }

    /// <summary>Load by route key. Built fresh every round (a plain dictionary: cheaper to build than a frozen one
    /// several times a second) and never changed after publication, so concurrent readers are safe.</summary>
    public IReadOnlyDictionary<string, RouteLoad> Routes { get; }

    /// <summary>Concurrency summed over every route (the fleet's own ScaledObject scales on it).</summary>
    public int TotalConcurrency { get; }

    /// <summary>Replicas whose last report is recent.</summary>
    public int FreshReplicas { get; }

    public int Replicas { get; }

    public DateTimeOffset At { get; }

    /// <summary>Why the numbers cannot be trusted, or null when they can: an unknown load must never read as 0.</summary>
    public string? Problem => Replicas == 0
        ? "no interceptor replica is known"
        : FreshReplicas == 0 ? $"none of the {Replicas} interceptor replicas reported recently" : null;

    public RouteLoad this[string key] => Routes.TryGetValue(key, out var load) ? load : default;
}
