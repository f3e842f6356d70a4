using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Counting;
using Updraft.Interceptor.Forwarding;
using Updraft.Interceptor.Telemetry;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Routing;

/// <summary>
/// Turns a complete route set into a new <see cref="RouteTable"/> and publishes it. Counters and metric series of
/// routes that still exist are carried over, so counts stay monotonic across reloads; those of removed routes are
/// dropped after the swap. Serialised: one rebuild at a time, never on the request path.
/// </summary>
internal sealed class RouteTablePublisher(RouteTableHolder holder, UpstreamTargetFactory upstreams, ColdStartPolicyFactory coldStarts, InterceptorMetrics metrics, ActivitySignal activity)
{
    private readonly Lock _gate = new();

    public RouteTable Publish(IReadOnlyList<RouteDefinition> definitions)
    {
        lock (_gate)
        {
            var previous = holder.Current;
            var routes = new List<Route>(definitions.Count);
            foreach (var definition in definitions)
            {
                previous.ByKey.TryGetValue(definition.Key, out var old);
                routes.Add(new Route(
                    definition,
                    old?.Counter ?? new RouteCounter(activity),
                    old?.Metrics ?? metrics.ForRoute(definition.Namespace, definition.Name),
                    upstreams.Create(definition),
                    coldStarts.Create(definition),
                    old?.HoldQueue ?? new HoldQueue()));
            }

            var table = new RouteTable(routes);
            holder.Publish(table);

            foreach (var old in previous.Routes)
            {
                if (!table.ByKey.ContainsKey(old.Key))
                {
                    old.Metrics.Remove();
                }
            }

            metrics.SetRouteCount(routes.Count);
            return table;
        }
    }
}
