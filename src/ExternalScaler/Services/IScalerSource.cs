
namespace Updraft.ExternalScaler.Services;

/// <summary>A trigger as KEDA sends it: the ScaledObject's namespace and name, and the trigger's metadata.</summary>
internal sealed record TriggerContext(string Namespace, string Name, IReadOnlyDictionary<string, string> Metadata)
{
    /// <summary>Metadata key that selects the source; without it, the trigger is an HTTP one.</summary>
    public const string SourceKey = "source";
}

/// <summary>
/// One kind of load a trigger can scale on (HTTP requests; Kafka, NATS JetStream and NATS Streaming backlog).
/// Implementations answer from memory only: whatever talks to a broker or an interceptor runs in the background and
/// publishes what it found, so no RPC ever waits on the network.
/// </summary>
internal interface IScalerSource
{
    /// <summary>The <c>source:</c> metadata value that selects this source.</summary>
    public string Name { get; }

    /// <summary>The trigger's metrics and HPA targets. Never fails: unusable metadata gets a documented default.</summary>
    public IReadOnlyList<MetricTarget> Specs(TriggerContext trigger);

    /// <summary>Current values, or the reason they are not known (never a made-up 0).</summary>
    /// <param name="trigger">The trigger.</param>
    /// <param name="metricName">One of the trigger's metric names, or empty for all.</param>
    public MetricReadings Read(TriggerContext trigger, string? metricName);

    /// <summary>Whether successful readings are above the trigger's activation threshold.</summary>
    public bool IsActive(TriggerContext trigger, MetricReadings readings);

    /// <summary>Completes when this trigger's readings may have changed; <c>StreamIsActive</c> waits on it.</summary>
    public Task Changed(TriggerContext trigger);

    /// <summary>Completes when this trigger's specs may have changed; <c>StreamMetricSpec</c> waits on it.</summary>
    public Task SpecsChanged(TriggerContext trigger);
}
