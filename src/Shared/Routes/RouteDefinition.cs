namespace Updraft.Shared.Routes;

/// <summary>Which CRD a route came from. Both convert to the same <see cref="RouteDefinition"/>.</summary>
public enum RouteSourceKind
{
    InterceptorRoute,
    HttpScaledObject,
}

/// <summary>
/// A validated route: what an <c>InterceptorRoute</c> says (an <c>HTTPScaledObject</c> is converted to the same
/// shape), with hosts and paths normalised and durations parsed. Immutable once built.
/// </summary>
public sealed class RouteDefinition
{
    public RouteDefinition(string @namespace, string name)
    {
        Namespace = @namespace;
        Name = name;
        Key = RouteKeys.Format(@namespace, name);
    }

    public string Namespace { get; }

    public string Name { get; }

    /// <summary><c>namespace/name</c>, the key of <c>/queue</c> and of the counters.</summary>
    public string Key { get; }

    public RouteSourceKind Source { get; init; }

    /// <summary>The object's creation time; older routes win ties. <c>null</c> in files that do not say.</summary>
    public DateTimeOffset? CreationTimestamp { get; init; }

    /// <summary>Position among the objects the route came with (document order in a routes file); breaks ties
    /// between routes without a creation timestamp, earlier first.</summary>
    public int SourceOrder { get; init; }

    public required UpstreamRef Target { get; init; }

    /// <summary>OR-ed rules. An empty list means the route is never matched (it still scales).</summary>
    public required IReadOnlyList<RouteRule> Rules { get; init; }

    public required ScalingMetricDefinition ScalingMetric { get; init; }

    public RouteTimeouts Timeouts { get; init; } = RouteTimeouts.Inherit;

    public ColdStartDefinition? ColdStart { get; init; }

    public IReadOnlyList<StaticRouteDefinition> StaticRoutes { get; init; } = [];
}

/// <summary>Upstream protocol for a target.</summary>
public enum UpstreamProtocol
{
    Http1,
    H2c,
}

/// <summary>
/// Where requests go: a Service (Kubernetes mode) or a host name/IP (standalone mode) and a port; or, in standalone
/// mode, a local workload's ready replicas (<see cref="Workload"/> set, <see cref="Service"/> the same name, no port).
/// </summary>
public sealed record UpstreamRef(string Service, int? Port, string? PortName, UpstreamProtocol Protocol = UpstreamProtocol.Http1)
{
    /// <summary>The name of a <c>LocalWorkload</c> in the route's namespace, or null.</summary>
    public string? Workload { get; init; }
}

/// <summary>One matching rule: any host (OR) × any path prefix (OR) × all headers (AND).</summary>
/// <param name="Hosts">Normalised hosts: lower-case, no port; <c>*.suffix</c> wildcards; <c>*</c> is the catch-all.</param>
/// <param name="Paths">Path prefixes with leading and trailing slashes trimmed; <c>""</c> is the root.</param>
/// <param name="Headers">Header requirements, all of which must hold.</param>
public sealed record RouteRule(IReadOnlyList<string> Hosts, IReadOnlyList<string> Paths, IReadOnlyList<HeaderRequirement> Headers);

/// <summary>A header that must be present; with <see cref="Value"/>, one of its values must equal it exactly.</summary>
public sealed record HeaderRequirement(string Name, string? Value);

public sealed record ScalingMetricDefinition(ConcurrencyTarget? Concurrency, RequestRateTarget? RequestRate);

public sealed record ConcurrencyTarget(int TargetValue);

public sealed record RequestRateTarget(int TargetValue, TimeSpan Window, TimeSpan Granularity);

/// <summary>Per-route timeouts; <c>null</c> inherits the process-wide setting, <see cref="TimeSpan.Zero"/> turns it off.</summary>
public sealed record RouteTimeouts(TimeSpan? Request, TimeSpan? ResponseHeader, TimeSpan? Readiness)
{
    public static RouteTimeouts Inherit { get; } = new(null, null, null);
}

public enum ColdStartOverflow
{
    Reject,
    Placeholder,
}

public sealed record ColdStartDefinition(
    UpstreamRef? Fallback,
    StaticResponseDefinition? Placeholder,
    int? MaxPendingRequests,
    ColdStartOverflow Overflow);

public enum StaticResponseMode
{
    WhenUnavailable,
    Always,
}

public sealed record StaticRouteDefinition(IReadOnlyList<RouteRule> Rules, StaticResponseDefinition Response, StaticResponseMode Mode);

/// <summary>A canned response. <see cref="StatusCode"/> <c>null</c> uses the context's default (503 placeholder, 200 static route).</summary>
public sealed record StaticResponseDefinition(
    int? StatusCode,
    string? Body,
    string? ConfigMapName,
    string? ConfigMapKey,
    IReadOnlyDictionary<string, string> Headers);
