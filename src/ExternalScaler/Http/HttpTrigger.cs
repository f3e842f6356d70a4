using System.Globalization;
using Updraft.Shared.Hosting;
using Updraft.Shared.Routes;

namespace Updraft.ExternalScaler.Http;

internal enum HttpTriggerKind
{
    /// <summary><c>interceptorRoute: name</c>: an InterceptorRoute in the ScaledObject's namespace.</summary>
    InterceptorRoute,

    /// <summary><c>httpScaledObject: name</c>: an HTTPScaledObject in the ScaledObject's namespace (the add-on's older API).</summary>
    HttpScaledObject,

    /// <summary><c>interceptorTargetPendingRequests: n</c>: the interceptor fleet's own ScaledObject.</summary>
    InterceptorFleet,

    /// <summary>The metadata names nothing this source can read.</summary>
    Invalid,
}

/// <summary>
/// What a trigger's metadata asks of the HTTP source. Parsing never fails: problems are kept and reported by
/// <c>GetMetrics</c>/<c>IsActive</c>, since <c>GetMetricSpec</c> must always answer.
/// </summary>
internal sealed record HttpTrigger(
    HttpTriggerKind Kind,
    string Namespace,
    string Name,
    int FleetTarget,
    double ActivationThreshold,
    string? Problem)
{
    public const string InterceptorRouteKey = "interceptorRoute";
    public const string HttpScaledObjectKey = "httpScaledObject";
    public const string FleetTargetKey = "interceptorTargetPendingRequests";

    /// <summary>Updraft's key: IsActive is true when a metric is above this (default 0, KEDA's strict convention).</summary>
    public const string ActivationThresholdKey = "activationThreshold";

    /// <summary>The target used when the fleet's target is invalid, or the route is not known yet.</summary>
    public const int DefaultTarget = 100;

    public string RouteKey => RouteKeys.Format(Namespace, Name);

    public static HttpTrigger Parse(string scaledObjectNamespace, string scaledObjectName, IReadOnlyDictionary<string, string> metadata)
    {
        var ns = string.IsNullOrEmpty(scaledObjectNamespace) ? RouteKeys.DefaultNamespace : scaledObjectNamespace;
        var problems = new List<string>();
        var activation = 0.0;
        if (metadata.TryGetValue(ActivationThresholdKey, out var activationText)
            && (!double.TryParse(activationText, NumberStyles.Float, CultureInfo.InvariantCulture, out activation) || activation < 0 || !double.IsFinite(activation)))
        {
            problems.Add($"metadata {ActivationThresholdKey}=\"{activationText}\" is not valid; use a number, 0 or more");
            activation = 0;
        }

        HttpTrigger Build(HttpTriggerKind kind, string name, int fleetTarget = DefaultTarget) =>
            new(kind, ns, name, fleetTarget, activation, problems.Count == 0 ? null : OneLine.Escape(string.Join("; ", problems)));

        if (metadata.TryGetValue(InterceptorRouteKey, out var route) && !string.IsNullOrWhiteSpace(route))
        {
            return Build(HttpTriggerKind.InterceptorRoute, route.Trim());
        }

        if (metadata.TryGetValue(HttpScaledObjectKey, out var httpso) && !string.IsNullOrWhiteSpace(httpso))
        {
            return Build(HttpTriggerKind.HttpScaledObject, httpso.Trim());
        }

        if (metadata.TryGetValue(FleetTargetKey, out var targetText))
        {
            if (!int.TryParse(targetText, NumberStyles.None, CultureInfo.InvariantCulture, out var target) || target < 1)
            {
                problems.Add($"metadata {FleetTargetKey}=\"{targetText}\" is not valid; use a whole number, 1 or more");
                target = DefaultTarget;
            }

            return Build(HttpTriggerKind.InterceptorFleet, scaledObjectName, target);
        }

        problems.Add($"the trigger metadata names no source: set {InterceptorRouteKey}, {HttpScaledObjectKey} or {FleetTargetKey}");
        return Build(HttpTriggerKind.Invalid, scaledObjectName);
    }
}
