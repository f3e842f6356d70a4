using Updraft.ExternalScaler.Routes;
using Updraft.ExternalScaler.Services;

namespace Updraft.ExternalScaler.Http;

/// <summary>HTTP concurrency and request rate of interceptor routes (the default source).</summary>
internal sealed class HttpSource(RouteCatalog routes, CountsAggregator counts) : IScalerSource
{
    public const string SourceName = "http";

    public string Name => SourceName;

    public IReadOnlyList<MetricTarget> Specs(TriggerContext trigger) => HttpTriggerEvaluator.Specs(Parse(trigger), routes.Current);

    public MetricReadings Read(TriggerContext trigger, string? metricName) =>
        HttpTriggerEvaluator.Read(Parse(trigger), routes.Current, counts.Current, metricName);

    public bool IsActive(TriggerContext trigger, MetricReadings readings) =>
        HttpTriggerEvaluator.IsActive(readings, Parse(trigger).ActivationThreshold);

    // The aggregator publishes at least every tick (so route changes show within one), and at once when a replica
    // reports activity.
    public Task Changed(TriggerContext trigger) => counts.Published;

    public Task SpecsChanged(TriggerContext trigger) => routes.Changed;

    private static HttpTrigger Parse(TriggerContext trigger) => HttpTrigger.Parse(trigger.Namespace, trigger.Name, trigger.Metadata);
}
