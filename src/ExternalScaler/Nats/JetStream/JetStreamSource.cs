using Grpc.Core;
using Updraft.ExternalScaler.Nats.Client;
using Updraft.ExternalScaler.Nats.Polling;
using Updraft.ExternalScaler.Services;

namespace Updraft.ExternalScaler.Nats.JetStream;

/// <summary>
/// <c>source: nats-jetstream</c>: the backlog of a JetStream consumer, <c>num_pending + num_ack_pending</c> (KEDA's
/// lag), read in the background by one poller per (endpoint or servers, account or credentials, stream, consumer).
/// </summary>
internal sealed class JetStreamSource(
    NatsPollers pollers,
    MonitoringClient http,
    NatsConnections connections,
    NatsOptions options,
    ILogger<JetStreamSource> logger) : IScalerSource
{
    public const string SourceName = "nats-jetstream";

    private static readonly Task Never = new TaskCompletionSource().Task;

    public string Name => SourceName;

    public IReadOnlyList<MetricTarget> Specs(TriggerContext trigger)
    {
        var parsed = JetStreamTrigger.Parse(trigger.Metadata);
        if (parsed.Problem is null)
        {
            // KEDA asks for the spec first: start polling now, so the first GetMetrics finds a value.
            Poller(parsed);
        }

        return [new MetricTarget(parsed.MetricName, parsed.LagThreshold)];
    }

    public MetricReadings Read(TriggerContext trigger, string? metricName)
    {
        var parsed = JetStreamTrigger.Parse(trigger.Metadata);
        if (parsed.Problem is { } problem)
        {
            return MetricReadings.Fail(StatusCode.InvalidArgument, problem);
        }

        if (!string.IsNullOrEmpty(metricName) && metricName != parsed.MetricName)
        {
            return MetricReadings.Fail(StatusCode.NotFound, $"metric \"{metricName}\" is not served for this trigger; it serves {parsed.MetricName}");
        }

        var result = Poller(parsed).Current;
        return result.Value is { } lag
            ? new MetricReadings([new MetricReading(parsed.MetricName, lag.Lag)], StatusCode.OK, null)
            : MetricReadings.Fail(result.Error, result.Problem!);
    }

    /// <summary>KEDA's convention: active when the lag is above <c>activationLagThreshold</c>.</summary>
    public bool IsActive(TriggerContext trigger, MetricReadings readings)
    {
        var activation = JetStreamTrigger.Parse(trigger.Metadata).ActivationLagThreshold;
        foreach (var reading in readings.Values)
        {
            if (reading.Value > activation)
            {
                return true;
            }
        }

        return false;
    }

    public Task Changed(TriggerContext trigger)
    {
        var parsed = JetStreamTrigger.Parse(trigger.Metadata);
        return parsed.Problem is null ? Poller(parsed).Changed : Never;
    }

    // The specs depend on the metadata alone.
    public Task SpecsChanged(TriggerContext trigger) => Never;

    private Poller<ConsumerLag> Poller(JetStreamTrigger trigger)
    {
        var where = trigger.Mode == JetStreamReadMode.Api ? string.Join(",", trigger.Servers!) : trigger.MonitoringEndpoint!.Authority;
        return pollers.Get(trigger.PollKey, $"JetStream {trigger.Describe()} at {where}", Func<CancellationToken, Task<PollResult<ConsumerLag>>> () =>
            trigger.Mode == JetStreamReadMode.Api
                ? new ApiLagProbe(connections, options, trigger).PollAsync
                : new MonitoringLagProbe(http, trigger, logger).PollAsync);
    }
}
