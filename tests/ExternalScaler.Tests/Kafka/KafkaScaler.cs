using Grpc.Core;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;

namespace Updraft.ExternalScaler.Tests.Kafka;

/// <summary>The real scaler (no interceptors) with fast Kafka polling, and KEDA-style calls for Kafka triggers.</summary>
internal static class KafkaScaler
{
    public static Task<ScalerHarness> StartAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["UPDRAFT_KAFKA_POLL_INTERVAL"] = "100ms",
            ["UPDRAFT_KAFKA_REQUEST_TIMEOUT"] = "2s",
            ["UPDRAFT_KAFKA_STALE_AFTER"] = "0s",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return ScalerHarness.StartAsync(RoutesYaml.InterceptorRoute("unused", ScalerHarness.FreePort(), "unused.example.com"), interceptors: 0, settings: all);
    }

    /// <summary>A Kafka trigger on <paramref name="cluster"/>; more metadata overrides or adds keys.</summary>
    public static ScaledObjectRef Trigger(MockKafkaCluster cluster, string group, string topic, params (string Key, string Value)[] metadata) =>
        Trigger("so", cluster.BootstrapServers, group, topic, metadata);

    public static ScaledObjectRef Trigger(string name, string bootstrap, string group, string topic, params (string Key, string Value)[] metadata)
    {
        var reference = ScalerHarness.Ref(name, ("source", "kafka"), ("bootstrapServers", bootstrap), ("consumerGroup", group));
        if (topic.Length > 0)
        {
            reference.ScalerMetadata["topic"] = topic;
        }

        foreach (var (key, value) in metadata)
        {
            reference.ScalerMetadata[key] = value;
        }

        return reference;
    }

    /// <summary>GetMetrics' value, or the gRPC status it failed with.</summary>
    public static async Task<(double? Value, StatusCode Code, string Detail)> TryMetricAsync(ScalerHarness harness, ScaledObjectRef reference, string metricName = "")
    {
        try
        {
            var response = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = metricName });
            return (response.MetricValues[0].MetricValueFloat, StatusCode.OK, "");
        }
        catch (RpcException e)
        {
            return (null, e.StatusCode, e.Status.Detail);
        }
    }

    /// <summary>Waits until GetMetrics answers <paramref name="expected"/> (the pollers run in the background).</summary>
    public static async Task WaitForMetricAsync(ScalerHarness harness, ScaledObjectRef reference, double expected, string metricName = "")
    {
        (double? Value, StatusCode Code, string Detail) last = default;
        try
        {
            await ScalerHarness.WaitUntilAsync(async () => (last = await TryMetricAsync(harness, reference, metricName)).Value == expected, $"the metric is {expected}");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Last answer: {last.Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"} {last.Code} {last.Detail}", e);
        }
    }

    /// <summary>Waits until GetMetrics fails with <paramref name="code"/>, and returns the detail.</summary>
    public static async Task<string> WaitForErrorAsync(ScalerHarness harness, ScaledObjectRef reference, StatusCode code, string detailContains = "")
    {
        (double? Value, StatusCode Code, string Detail) last = default;
        try
        {
            await ScalerHarness.WaitUntilAsync(
                async () => (last = await TryMetricAsync(harness, reference)).Code == code && last.Detail.Contains(detailContains, StringComparison.Ordinal),
                $"GetMetrics fails with {code}");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Last answer: {last.Value} {last.Code} {last.Detail}", e);
        }

        return last.Detail ?? "";
    }
}
