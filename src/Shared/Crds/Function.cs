using System.Text.Json.Nodes;

namespace Updraft.Shared.Crds;

/// <summary>
/// OpenFunction's <c>Function</c>, <c>core.openfunction.io/v1beta2</c>: the fields Updraft's operator reads. The pod
/// template and the Dapr component specs are kept as JSON, as they are passed on, not interpreted.
/// </summary>
public sealed class Function
{
    public const string Group = "core.openfunction.io";
    public const string Version = "v1beta2";
    public const string ApiVersionValue = Group + "/" + Version;
    public const string KindValue = "Function";

    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public ObjectMeta? Metadata { get; set; }

    public FunctionSpec? Spec { get; set; }

    public JsonObject? Status { get; set; }
}

public sealed class FunctionSpec
{
    /// <summary>Defaults to <c>latest</c>.</summary>
    public string? Version { get; set; }

    public string? Image { get; set; }

    public LocalObjectReference? ImageCredentials { get; set; }

    /// <summary>The build is OpenFunction's (Shipwright); Updraft only notices that there is one.</summary>
    public JsonObject? Build { get; set; }

    public ServingSpec? Serving { get; set; }

    public string? WorkloadRuntime { get; set; }
}

public sealed class LocalObjectReference
{
    public string? Name { get; set; }
}

public sealed class ServingSpec
{
    public FunctionTriggers? Triggers { get; set; }

    public FunctionScaleOptions? ScaleOptions { get; set; }

    public Dictionary<string, string>? Params { get; set; }

    public Dictionary<string, string>? Labels { get; set; }

    public Dictionary<string, string>? Annotations { get; set; }

    /// <summary>A <c>PodSpec</c>; the container named <c>function</c> is the function's.</summary>
    public JsonObject? Template { get; set; }

    public string? WorkloadType { get; set; }

    public JsonObject? Bindings { get; set; }

    public JsonObject? Pubsub { get; set; }

    public JsonObject? States { get; set; }

    public JsonArray? Outputs { get; set; }

    public JsonObject? Hooks { get; set; }

    public JsonObject? Tracing { get; set; }

    public string? Timeout { get; set; }
}

public sealed class FunctionTriggers
{
    public HttpTrigger? Http { get; set; }

    public JsonArray? Dapr { get; set; }

    public JsonArray? Inputs { get; set; }
}

public sealed class HttpTrigger
{
    public int? Port { get; set; }

    public FunctionRoute? Route { get; set; }

    /// <summary><c>knative</c> (also when unset) or <c>keda</c>.</summary>
    public string? Engine { get; set; }
}

public sealed class FunctionRoute
{
    public JsonObject? GatewayRef { get; set; }

    public List<string>? Hostnames { get; set; }

    public List<HttpRouteRule>? Rules { get; set; }
}

/// <summary>Gateway API's <c>HTTPRouteRule</c>: only <c>matches</c> matter to the interceptor.</summary>
public sealed class HttpRouteRule
{
    public List<HttpRouteMatch>? Matches { get; set; }

    public JsonArray? Filters { get; set; }

    public JsonArray? BackendRefs { get; set; }
}

public sealed class HttpRouteMatch
{
    public HttpPathMatch? Path { get; set; }

    public List<HttpHeaderMatch>? Headers { get; set; }

    public JsonArray? QueryParams { get; set; }

    public string? Method { get; set; }
}

public sealed class HttpPathMatch
{
    /// <summary><c>PathPrefix</c> (the default), <c>Exact</c> or <c>RegularExpression</c>.</summary>
    public string? Type { get; set; }

    public string? Value { get; set; }
}

public sealed class HttpHeaderMatch
{
    /// <summary><c>Exact</c> (the default) or <c>RegularExpression</c>.</summary>
    public string? Type { get; set; }

    public string? Name { get; set; }

    public string? Value { get; set; }
}

public sealed class FunctionScaleOptions
{
    public int? MinReplicas { get; set; }

    public int? MaxReplicas { get; set; }

    public KedaScaleOptions? Keda { get; set; }

    public Dictionary<string, string>? Knative { get; set; }
}

public sealed class KedaScaleOptions
{
    public FunctionHttpScaledObject? HttpScaledObject { get; set; }

    public JsonObject? ScaledObject { get; set; }

    public JsonObject? ScaledJob { get; set; }

    public JsonArray? Triggers { get; set; }
}

public sealed class FunctionHttpScaledObject
{
    public int? TargetPendingRequests { get; set; }

    public int? CooldownPeriod { get; set; }
}
