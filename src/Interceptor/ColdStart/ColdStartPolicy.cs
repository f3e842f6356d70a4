using Microsoft.Extensions.Options;
using Updraft.Interceptor.Forwarding;
using Updraft.Interceptor.Kubernetes;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Telemetry;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.ColdStart;

/// <summary>A route's cold-start behaviour, resolved when the routing table is built.</summary>
internal sealed class ColdStartPolicy
{
    /// <summary>A route with a fallback and no readiness timeout waits this long before using it (as the add-on).</summary>
    public static readonly TimeSpan DefaultFallbackReadinessTimeout = TimeSpan.FromSeconds(30);

    public required PreparedResponse? Placeholder { get; init; }

    /// <summary>
    /// With a placeholder, requests normally get it at once; only a route that sets <c>maxPendingRequests</c> itself
    /// and <c>overflow: Placeholder</c> holds requests up to the limit and gives the placeholder to the overflow.
    /// </summary>
    public required bool PlaceholderOnlyOnOverflow { get; init; }

    /// <summary>Requests held at once for this route; 0 is unlimited.</summary>
    public required int MaxPendingRequests { get; init; }

    public required ColdStartOverflow Overflow { get; init; }

    /// <summary>How long a request waits for readiness; zero waits until the request deadline or the client leaves.</summary>
    public required TimeSpan ReadinessTimeout { get; init; }

    public required UpstreamTarget? Fallback { get; init; }

    public required StaticRoute[] StaticRoutes { get; init; }
}

internal sealed class ColdStartPolicyFactory(IOptions<InterceptorOptions> options, UpstreamTargetFactory upstreams, ModeInfo mode, ConfigMapBodies configMaps, ILogger<ColdStartPolicyFactory> logger)
{
    public ColdStartPolicy Create(RouteDefinition route)
    {
        var settings = options.Value;
        var coldStart = route.ColdStart;
        var bodies = mode.IsKubernetes ? configMaps : null;
        var placeholder = coldStart?.Placeholder is { } response ? new PreparedResponse(response, StatusCodes.Status503ServiceUnavailable, route.Namespace, bodies) : null;
        var fallback = coldStart?.Fallback is { } fallbackRef ? upstreams.Create(fallbackRef, route.Timeouts, route.Namespace) : null;
        var readiness = route.Timeouts.Readiness ?? settings.ReadinessTimeout;
        if (readiness <= TimeSpan.Zero && fallback is not null)
        {
            readiness = ColdStartPolicy.DefaultFallbackReadinessTimeout;
        }

        var staticRoutes = new StaticRoute[route.StaticRoutes.Count];
        for (var i = 0; i < staticRoutes.Length; i++)
        {
            staticRoutes[i] = new StaticRoute(route.StaticRoutes[i], route.Namespace, bodies);
            if (staticRoutes[i].Response is { NeedsConfigMap: true, CanReadConfigMaps: false })
            {
                Log.ConfigMapBodyUnavailable(logger, route.Key, $"spec.staticRoutes[{i}].response.bodyFromConfigMap");
            }
        }

        if (placeholder is { NeedsConfigMap: true, CanReadConfigMaps: false })
        {
            Log.ConfigMapBodyUnavailable(logger, route.Key, "spec.coldStart.placeholder.response.bodyFromConfigMap");
        }

        var overflow = coldStart?.Overflow ?? ColdStartOverflow.Reject;
        return new ColdStartPolicy
        {
            Placeholder = placeholder,
            PlaceholderOnlyOnOverflow = placeholder is not null && coldStart!.MaxPendingRequests > 0 && overflow == ColdStartOverflow.Placeholder,
            MaxPendingRequests = coldStart?.MaxPendingRequests ?? settings.ColdStartMaxPendingRequests,
            Overflow = overflow,
            ReadinessTimeout = readiness,
            Fallback = fallback,
            StaticRoutes = staticRoutes,
        };
    }
}
