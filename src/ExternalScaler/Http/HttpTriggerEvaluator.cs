using Grpc.Core;
using Updraft.ExternalScaler.Routes;
using Updraft.ExternalScaler.Services;
using Updraft.Shared.Routes;

namespace Updraft.ExternalScaler.Http;

/// <summary>
/// The HTTP source's answers, computed from immutable snapshots only (routes and load), so every RPC is answered
/// from memory. Metric names and targets follow the add-on (§5.3 of the reference).
/// </summary>
internal static class HttpTriggerEvaluator
{
    public static IReadOnlyList<MetricTarget> Specs(HttpTrigger trigger, RouteCatalog.Snapshot routes)
    {
        routes.ByKey.TryGetValue(trigger.RouteKey, out var route);
        switch (trigger.Kind)
        {
            case HttpTriggerKind.InterceptorRoute:
                var metric = route?.ScalingMetric;
                var specs = new List<MetricTarget>(2);
                if (metric?.Concurrency is { } concurrency)
                {
                    specs.Add(new MetricTarget(HttpMetricNames.Concurrency(trigger.Name), concurrency.TargetValue));
                }

                if (metric?.RequestRate is { } rate)
                {
                    specs.Add(new MetricTarget(HttpMetricNames.Rate(trigger.Name), rate.TargetValue));
                }

                // Not known yet (or no metric): a documented default, so KEDA builds the HPA and later polls report the problem.
                if (specs.Count == 0)
                {
                    specs.Add(new MetricTarget(HttpMetricNames.Concurrency(trigger.Name), HttpTrigger.DefaultTarget));
                }

                return specs;
            case HttpTriggerKind.HttpScaledObject:
                var target = route?.ScalingMetric.Concurrency?.TargetValue ?? route?.ScalingMetric.RequestRate?.TargetValue ?? HttpTrigger.DefaultTarget;
                return [new MetricTarget(HttpMetricNames.Escaped(trigger.Namespace, trigger.Name), target)];
            default:
                return [new MetricTarget(HttpMetricNames.Escaped(trigger.Namespace, trigger.Name), trigger.FleetTarget)];
        }
    }

    /// <param name="metricName">The requested metric (without KEDA's prefix); empty for all of the trigger's metrics.</param>
    public static MetricReadings Read(HttpTrigger trigger, RouteCatalog.Snapshot routes, HttpLoadSnapshot load, string? metricName)
    {
        if (trigger.Problem is { } problem)
        {
            return MetricReadings.Fail(StatusCode.InvalidArgument, problem);
        }

        if (!routes.Loaded)
        {
            return MetricReadings.Fail(StatusCode.Unavailable, "the routes are not loaded yet");
        }

        RouteDefinition? route = null;
        if (trigger.Kind is HttpTriggerKind.InterceptorRoute or HttpTriggerKind.HttpScaledObject && !routes.ByKey.TryGetValue(trigger.RouteKey, out route))
        {
            var kind = trigger.Kind == HttpTriggerKind.InterceptorRoute ? "InterceptorRoute" : "HTTPScaledObject";
            return MetricReadings.Fail(StatusCode.NotFound, $"no {kind} {trigger.RouteKey} (metadata {(trigger.Kind == HttpTriggerKind.InterceptorRoute ? HttpTrigger.InterceptorRouteKey : HttpTrigger.HttpScaledObjectKey)})");
        }

        if (load.Problem is { } unavailable)
        {
            return MetricReadings.Fail(StatusCode.Unavailable, unavailable);
        }

        var readings = new List<MetricReading>(2);
        var current = load[trigger.RouteKey];
        switch (trigger.Kind)
        {
            case HttpTriggerKind.InterceptorRoute:
                if (route!.ScalingMetric.Concurrency is not null)
                {
                    readings.Add(new MetricReading(HttpMetricNames.Concurrency(trigger.Name), current.Concurrency));
                }

                if (route.ScalingMetric.RequestRate is not null)
                {
                    readings.Add(new MetricReading(HttpMetricNames.Rate(trigger.Name), current.Rate));
                }

                if (readings.Count == 0)
                {
                    return MetricReadings.Fail(StatusCode.FailedPrecondition, $"InterceptorRoute {trigger.RouteKey} sets neither scalingMetric.concurrency nor scalingMetric.requestRate");
                }

                break;
            case HttpTriggerKind.HttpScaledObject:
                var value = route!.ScalingMetric.RequestRate is not null ? current.Rate : current.Concurrency;
                readings.Add(new MetricReading(HttpMetricNames.Escaped(trigger.Namespace, trigger.Name), value));
                break;
            default:
                readings.Add(new MetricReading(HttpMetricNames.Escaped(trigger.Namespace, trigger.Name), load.TotalConcurrency));
                break;
        }

        if (string.IsNullOrEmpty(metricName))
        {
            return new MetricReadings(readings, StatusCode.OK, null);
        }

        foreach (var reading in readings)
        {
            if (reading.Name == metricName)
            {
                return new MetricReadings([reading], StatusCode.OK, null);
            }
        }

        return MetricReadings.Fail(StatusCode.NotFound, $"metric \"{metricName}\" is not served for this trigger; it serves {string.Join(", ", readings.Select(r => r.Name))}");
    }

    /// <summary>KEDA's convention: active when a value is strictly above the activation threshold.</summary>
    public static bool IsActive(MetricReadings readings, double activationThreshold)
    {
        foreach (var reading in readings.Values)
        {
            if (reading.Value > activationThreshold)
            {
                return true;
            }
        }

        return false;
    }
}
