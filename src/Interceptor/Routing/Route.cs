using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Counting;
using Updraft.Interceptor.Forwarding;
using Updraft.Interceptor.Telemetry;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Routing;

/// <summary>A route as the data path uses it: its definition plus everything resolved ahead of the first request.</summary>
internal sealed class Route
{
    public Route(RouteDefinition definition, RouteCounter counter, RouteMetrics metrics, UpstreamTarget upstream, ColdStartPolicy coldStart, HoldQueue holdQueue)
    {
        Definition = definition;
        Counter = counter;
        Metrics = metrics;
        Upstream = upstream;
        ColdStart = coldStart;
        HoldQueue = holdQueue;
    }

    public RouteDefinition Definition { get; }

    public string Key => Definition.Key;

    public RouteCounter Counter { get; }

    public RouteMetrics Metrics { get; }

    public UpstreamTarget Upstream { get; }

    public ColdStartPolicy ColdStart { get; }

    /// <summary>Requests held for readiness; carried over across table rebuilds like <see cref="Counter"/>.</summary>
    public HoldQueue HoldQueue { get; }
}
