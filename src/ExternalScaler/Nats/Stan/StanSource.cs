using Grpc.Core;
using Updraft.ExternalScaler.Nats.Polling;
using Updraft.ExternalScaler.Services;

namespace Updraft.ExternalScaler.Nats.Stan;

/// <summary>
/// <c>source: stan</c>: a NATS Streaming durable queue group's lag on a channel, from the server's monitoring
/// endpoint (<c>/streaming/channelsz?channel=…&amp;subs=1</c>), polled in the background per (endpoint, channel).
/// An unknown channel (404) is a <c>NotFound</c> error, where KEDA returned no metrics and no error.
/// </summary>
internal sealed class StanSource(NatsPollers pollers, MonitoringClient http) : IScalerSource
{
    public const string SourceName = "stan";

    private static readonly Task Never = new TaskCompletionSource().Task;

    public string Name => SourceName;

    public IReadOnlyList<MetricTarget> Specs(TriggerContext trigger)
    {
        var parsed = StanTrigger.Parse(trigger.Metadata);
        if (parsed.Problem is null)
        {
            // KEDA asks for the spec first: start polling now, so the first GetMetrics finds a value.
            Poller(parsed);
        }

        return [new MetricTarget(parsed.MetricName, parsed.LagThreshold)];
    }

    public MetricReadings Read(TriggerContext trigger, string? metricName)
    {
        var parsed = StanTrigger.Parse(trigger.Metadata);
        if (parsed.Problem is { } problem)
        {
            return MetricReadings.Fail(StatusCode.InvalidArgument, problem);
        }

        if (!string.IsNullOrEmpty(metricName) && metricName != parsed.MetricName)
        {
            return MetricReadings.Fail(StatusCode.NotFound, $"metric \"{metricName}\" is not served for this trigger; it serves {parsed.MetricName}");
        }

        var result = Poller(parsed).Current;
        if (result.Value is not { } channel)
        {
            return MetricReadings.Fail(result.Error, result.Problem!);
        }

        var backlog = StanLag.Compute(channel, parsed.DurableName, parsed.QueueGroup);
        return new MetricReadings([new MetricReading(parsed.MetricName, backlog.Lag)], StatusCode.OK, null);
    }

    /// <summary>KEDA's rule: active when the first subscriber of the queue group has pending messages, or the lag is above <c>activationLagThreshold</c>.</summary>
    public bool IsActive(TriggerContext trigger, MetricReadings readings)
    {
        var parsed = StanTrigger.Parse(trigger.Metadata);
        foreach (var reading in readings.Values)
        {
            if (reading.Value > parsed.ActivationLagThreshold)
            {
                return true;
            }
        }

        return parsed.Problem is null
            && Poller(parsed).Current.Value is { } channel
            && StanLag.Compute(channel, parsed.DurableName, parsed.QueueGroup).HasPending;
    }

    public Task Changed(TriggerContext trigger)
    {
        var parsed = StanTrigger.Parse(trigger.Metadata);
        return parsed.Problem is null ? Poller(parsed).Changed : Never;
    }

    public Task SpecsChanged(TriggerContext trigger) => Never;

    private Poller<StanChannel> Poller(StanTrigger trigger) =>
        pollers.Get(trigger.PollKey, $"NATS Streaming channel \"{trigger.Subject}\" at {trigger.MonitoringEndpoint!.Authority}", Func<CancellationToken, Task<PollResult<StanChannel>>> () =>
            async cancellationToken =>
            {
                try
                {
                    return PollResult<StanChannel>.Ok(await http.GetAsync(trigger.ChannelUrl, NatsJsonContext.Default.StanChannel, cancellationToken));
                }
                catch (MonitoringException e) when (e.Code == StatusCode.NotFound)
                {
                    return PollResult<StanChannel>.Fail(StatusCode.NotFound, $"NATS Streaming channel \"{trigger.Subject}\" not found ({e.Message})");
                }
                catch (MonitoringException e)
                {
                    return PollResult<StanChannel>.Fail(e.Code, e.Message);
                }
            });
}
