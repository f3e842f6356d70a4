namespace Updraft.Shared.Crds;

/// <summary><c>InterceptorRoute</c>, <c>http.keda.sh/v1beta1</c>: the add-on's current route API.</summary>
public sealed class InterceptorRoute
{
    public const string Group = "http.keda.sh";
    public const string Version = "v1beta1";
    public const string ApiVersionValue = Group + "/" + Version;
    public const string KindValue = "InterceptorRoute";

    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public ObjectMeta? Metadata { get; set; }

    public InterceptorRouteSpec? Spec { get; set; }

    public RouteStatus? Status { get; set; }
}

public sealed class InterceptorRouteSpec
{
    public TargetRef? Target { get; set; }

    public List<RoutingRule>? Rules { get; set; }

    public ScalingMetricSpec? ScalingMetric { get; set; }

    public RouteTimeoutsSpec? Timeouts { get; set; }

    public ColdStartSpec? ColdStart { get; set; }

    public List<StaticRouteSpec>? StaticRoutes { get; set; }
}

public sealed class TargetRef
{
    public string? Service { get; set; }

    public int? Port { get; set; }

    public string? PortName { get; set; }

    /// <summary>Updraft extension (standalone mode): upstream protocol, <c>http1</c> (default) or <c>h2c</c>.</summary>
    public string? AppProtocol { get; set; }
}

public sealed class RoutingRule
{
    public List<string>? Hosts { get; set; }

    public List<PathMatch>? Paths { get; set; }

    public List<HeaderMatch>? Headers { get; set; }
}

public sealed class PathMatch
{
    public string? Value { get; set; }
}

public sealed class HeaderMatch
{
    public string? Name { get; set; }

    /// <summary>Exact value to match; <c>null</c> means "present with any value".</summary>
    public string? Value { get; set; }
}

public sealed class ScalingMetricSpec
{
    public ConcurrencyMetricSpec? Concurrency { get; set; }

    public RequestRateMetricSpec? RequestRate { get; set; }
}

public sealed class ConcurrencyMetricSpec
{
    public int? TargetValue { get; set; }
}

public sealed class RequestRateMetricSpec
{
    public int? TargetValue { get; set; }

    public string? Window { get; set; }

    public string? Granularity { get; set; }
}

public sealed class RouteTimeoutsSpec
{
    public string? Request { get; set; }

    public string? ResponseHeader { get; set; }

    public string? Readiness { get; set; }
}

public sealed class ColdStartSpec
{
    public FallbackSpec? Fallback { get; set; }

    public PlaceholderSpec? Placeholder { get; set; }

    public int? MaxPendingRequests { get; set; }

    /// <summary><c>Reject</c> (503) or <c>Placeholder</c>.</summary>
    public string? Overflow { get; set; }
}

public sealed class FallbackSpec
{
    public ServiceRef? Service { get; set; }
}

public sealed class ServiceRef
{
    public string? Name { get; set; }

    public int? Port { get; set; }

    public string? PortName { get; set; }
}

public sealed class PlaceholderSpec
{
    public StaticResponseSpec? Response { get; set; }
}

public sealed class StaticRouteSpec
{
    public List<RoutingRule>? Rules { get; set; }

    public StaticResponseSpec? Response { get; set; }

    /// <summary><c>Always</c> or <c>WhenUnavailable</c> (default).</summary>
    public string? ResponseMode { get; set; }
}

public sealed class StaticResponseSpec
{
    public int? StatusCode { get; set; }

    public string? Body { get; set; }

    public ConfigMapBodyRef? BodyFromConfigMap { get; set; }

    public Dictionary<string, string>? Headers { get; set; }
}

public sealed class ConfigMapBodyRef
{
    public string? Name { get; set; }

    public string? Key { get; set; }
}
