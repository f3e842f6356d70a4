using Grpc.Core;
using Updraft.ExternalScaler.Services;

namespace Updraft.ExternalScaler.Kafka;

/// <summary>Consumer-group lag of Kafka topics (<c>source: kafka</c>), with the metadata of KEDA's <c>kafka</c> scaler.</summary>
internal sealed class KafkaSource(KafkaClusters clusters, KafkaProfiles profiles, KafkaOptions options, TimeProvider time, ILogger<KafkaSource> logger) : IScalerSource
{
    public const string SourceName = "kafka";

    public string Name => SourceName;

    public IReadOnlyList<MetricTarget> Specs(TriggerContext trigger)
    {
        var kafka = KafkaTrigger.Parse(trigger.Metadata, options.PollInterval);
        var specs = new List<MetricTarget>(3) { new(kafka.MetricName, kafka.LagThreshold) };
        if (kafka.HottestPartitionLag)
        {
            specs.Add(new MetricTarget(kafka.HottestMetricName, kafka.LagThreshold));
        }

        if (kafka.ConsumerRate is { } consumerRate)
        {
            specs.Add(new MetricTarget(kafka.RateMetricName, consumerRate));
        }

        return specs;
    }

    public MetricReadings Read(TriggerContext trigger, string? metricName)
    {
        var kafka = KafkaTrigger.Parse(trigger.Metadata, options.PollInterval);
        var (lag, partitions, code, problem) = Evaluate(kafka);
        if (problem is not null)
        {
            return MetricReadings.Fail(code, problem);
        }

        // KEDA asks for one metric per call; the rate metric is the only one that costs more than a lookup.
        if (kafka.ConsumerRate is not null && metricName == kafka.RateMetricName)
        {
            return new MetricReadings([RateReading(kafka, partitions)], StatusCode.OK, null);
        }

        var readings = new List<MetricReading>(3) { new(kafka.MetricName, lag.Lag) };
        if (kafka.HottestPartitionLag)
        {
            readings.Add(new MetricReading(kafka.HottestMetricName, lag.HottestPartitionLag));
        }

        if (string.IsNullOrEmpty(metricName))
        {
            if (kafka.ConsumerRate is not null)
            {
                readings.Add(RateReading(kafka, partitions));
            }

            return new MetricReadings(readings, StatusCode.OK, null);
        }

        foreach (var reading in readings)
        {
            if (reading.Name == metricName)
            {
                return new MetricReadings([reading], StatusCode.OK, null);
            }
        }

        var names = readings.Select(r => r.Name).Concat(kafka.ConsumerRate is null ? [] : [kafka.RateMetricName]);
        return MetricReadings.Fail(StatusCode.NotFound, $"metric \"{metricName}\" is not one of this trigger's; it has {string.Join(", ", names)}");
    }

    private MetricReading RateReading(KafkaTrigger kafka, IReadOnlyList<PartitionOffsets> partitions)
    {
        var rates = KafkaRates.Total(kafka, partitions);
        KafkaLog.Rates(logger, kafka.ConsumerGroup, kafka.Topic, rates.Arrival, rates.Consume, rates.Lag, rates.Value);
        return new MetricReading(kafka.RateMetricName, rates.Value);
    }

    /// <summary>KEDA's rule: active while the lag including persistent lag is above <c>activationLagThreshold</c>.</summary>
    public bool IsActive(TriggerContext trigger, MetricReadings readings)
    {
        if (!readings.Succeeded)
        {
            return false;
        }

        var kafka = KafkaTrigger.Parse(trigger.Metadata, options.PollInterval);
        var (lag, _, _, problem) = Evaluate(kafka);
        return problem is null && lag.LagWithPersistent > kafka.ActivationLagThreshold;
    }

    public Task Changed(TriggerContext trigger)
    {
        var kafka = KafkaTrigger.Parse(trigger.Metadata, options.PollInterval);
        return kafka.Problem is null && Profile(kafka) is { Problem: null } profile
            ? Poller(kafka, profile.Profile).Polled
            : Task.Delay(options.PollInterval, time);
    }

    // Specs depend on the metadata alone.
    public Task SpecsChanged(TriggerContext trigger) => Task.Delay(Timeout.Infinite);

    private (KafkaProfile? Profile, string? Problem) Profile(KafkaTrigger kafka) =>
        kafka.CredentialsProfile is { } name ? profiles.Get(name) : (null, null);

    private GroupPoller Poller(KafkaTrigger kafka, KafkaProfile? profile)
    {
        var poller = clusters.Poller(kafka, profile);
        if (kafka.ConsumerRate is not null)
        {
            poller.WantRates(kafka.RateWindow);
        }

        poller.Want(kafka.Topic);
        return poller;
    }

    private (LagResult Lag, List<PartitionOffsets> Partitions, StatusCode Code, string? Problem) Evaluate(KafkaTrigger kafka)
    {
        if (kafka.Problem is not null)
        {
            return (default, [], StatusCode.InvalidArgument, kafka.Problem);
        }

        var (profile, profileProblem) = Profile(kafka);
        if (profileProblem is not null)
        {
            return (default, [], StatusCode.FailedPrecondition, profileProblem);
        }

        var poller = Poller(kafka, profile);
        var state = poller.State;
        var offsets = state.Offsets;
        if (offsets is null || (state.Problem is not null && time.GetElapsedTime(offsets.PolledAt) > options.StaleAfter))
        {
            return (default, [], state.ProblemCode, state.Problem);
        }

        var where = $"consumer group \"{kafka.ConsumerGroup}\" on {kafka.Cluster}";
        var partitions = new List<PartitionOffsets>();
        var now = time.GetTimestamp();
        if (kafka.Topic.Length > 0)
        {
            if (offsets.Missing.Contains(kafka.Topic))
            {
                return (default, [], StatusCode.NotFound, $"topic \"{kafka.Topic}\" (metadata {KafkaTrigger.TopicKey}) does not exist on {kafka.Cluster}");
            }

            if (!offsets.Topics.TryGetValue(kafka.Topic, out var polled))
            {
                return (default, [], StatusCode.Unavailable, $"topic \"{kafka.Topic}\" of {where} has not been polled yet");
            }

            Add(polled, kafka.PartitionLimitation);
            if (partitions.Count == 0)
            {
                return (default, [], StatusCode.FailedPrecondition, $"topic \"{kafka.Topic}\" has none of the partitions in metadata {KafkaTrigger.PartitionLimitationKey}");
            }
        }
        else
        {
            if (!offsets.Discovered)
            {
                return (default, [], StatusCode.Unavailable, $"the topics of {where} have not been polled yet");
            }

            if (offsets.CommittedTopics.Count == 0)
            {
                return (default, [], StatusCode.NotFound, $"{where} has no committed offsets, so it has no topics to measure; set metadata {KafkaTrigger.TopicKey} to scale a group that has not committed yet");
            }

            foreach (var topic in offsets.CommittedTopics)
            {
                if (offsets.Topics.TryGetValue(topic, out var polled))
                {
                    Add(polled, null);
                }
            }
        }

        return (KafkaLag.Total(kafka, partitions), partitions, StatusCode.OK, null);

        void Add(PolledPartition[] polled, IReadOnlySet<int>? only)
        {
            foreach (var p in polled)
            {
                if (only is null || only.Contains(p.Partition))
                {
                    partitions.Add(new PartitionOffsets(p.Partition, p.Committed, p.LogStart, p.Latest, time.GetElapsedTime(p.CommittedSince, now), p.History));
                }
            }
        }
    }
}
