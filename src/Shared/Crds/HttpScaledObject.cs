namespace Updraft.Shared.Crds;

/// <summary><c>HTTPScaledObject</c>, <c>http.keda.sh/v1alpha1</c>: the add-on's older route API (InterceptorRoute is recommended; the CRD marks no version deprecated).</summary>
public sealed class HttpScaledObject
{
    public const string Group = "http.keda.sh";
    public const string Version = "v1alpha1";
    public const string ApiVersionValue = Group + "/" + Version;
    public const string KindValue = "HTTPScaledObject";

    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public ObjectMeta? Metadata { get; set; }

    public HttpScaledObjectSpec? Spec { get; set; }

    public RouteStatus? Status { get; set; }
}

public sealed class HttpScaledObjectSpec
{
    public List<string>? Hosts { get; set; }

    public List<string>? PathPrefixes { get; set; }

    public List<HeaderMatch>? Headers { get; set; }

    public ScaleTargetRef? ScaleTargetRef { get; set; }

    public FailoverRef? ColdStartTimeoutFailoverRef { get; set; }

    public ReplicaBounds? Replicas { get; set; }

    public int? TargetPendingRequests { get; set; }

    public int? ScaledownPeriod { get; set; }

    public int? InitialCooldownPeriod { get; set; }

    public ScalingMetricSpec? ScalingMetric { get; set; }

    public HttpScaledObjectTimeouts? Timeouts { get; set; }
}

public sealed class ScaleTargetRef
{
    public string? Name { get; set; }

    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public string? Service { get; set; }

    public int? Port { get; set; }

    public string? PortName { get; set; }
}

public sealed class FailoverRef
{
    public string? Service { get; set; }

    public int? Port { get; set; }

    public string? PortName { get; set; }

    public int? TimeoutSeconds { get; set; }
}

public sealed class ReplicaBounds
{
    public int? Min { get; set; }

    public int? Max { get; set; }
}

public sealed class HttpScaledObjectTimeouts
{
    public string? ConditionWait { get; set; }

    public string? ResponseHeader { get; set; }
}
