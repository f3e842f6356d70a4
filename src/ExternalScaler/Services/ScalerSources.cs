using Grpc.Core;
using Updraft.ExternalScaler.Http;

namespace Updraft.ExternalScaler.Services;

/// <summary>Picks the source a trigger's <c>source:</c> metadata names (HTTP when it names none).</summary>
internal sealed class ScalerSources
{
    private readonly Dictionary<string, IScalerSource> _byName;

    public ScalerSources(IEnumerable<IScalerSource> sources)
    {
        _byName = sources.ToDictionary(s => s.Name, StringComparer.OrdinalIgnoreCase);
    }

    public IScalerSource For(TriggerContext trigger)
    {
        if (!trigger.Metadata.TryGetValue(TriggerContext.SourceKey, out var name) || string.IsNullOrWhiteSpace(name))
        {
            return _byName[HttpSource.SourceName];
        }

        return _byName.TryGetValue(name.Trim(), out var source) ? source : new UnknownSource(name, _byName.Keys);
    }

    /// <summary>A <c>source:</c> nothing serves: a default spec, and <c>InvalidArgument</c> naming the key.</summary>
    private sealed class UnknownSource(string name, IEnumerable<string> known) : IScalerSource
    {
        public string Name => name;

        public IReadOnlyList<MetricTarget> Specs(TriggerContext trigger) =>
            [new MetricTarget(HttpMetricNames.Escaped(trigger.Namespace, trigger.Name), HttpTrigger.DefaultTarget)];

        public MetricReadings Read(TriggerContext trigger, string? metricName) =>
            MetricReadings.Fail(StatusCode.InvalidArgument, $"metadata {TriggerContext.SourceKey}=\"{name}\" is not known; use one of {string.Join(", ", known.Order(StringComparer.Ordinal))}");

        public bool IsActive(TriggerContext trigger, MetricReadings readings) => false;

        public Task Changed(TriggerContext trigger) => Task.Delay(Timeout.Infinite);

        public Task SpecsChanged(TriggerContext trigger) => Task.Delay(Timeout.Infinite);
    }
}
