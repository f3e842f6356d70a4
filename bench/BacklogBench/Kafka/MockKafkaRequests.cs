using System.Runtime.InteropServices;

namespace Updraft.ExternalScaler.Tests.Kafka;

/// <summary>
/// The mock cluster's request log (librdkafka 2.16's <c>rd_kafka_mock_start_request_tracking</c>): every request any
/// client sends to any mock broker, with its API key. The benchmark's own clients are idle while it counts, so what
/// is counted is the scaler's.
/// </summary>
internal sealed partial class MockKafkaCluster
{
    /// <summary>Kafka API keys by number (the ones a client of this benchmark can send).</summary>
    private static readonly Dictionary<short, string> ApiNames = new()
    {
        [0] = "Produce", [1] = "Fetch", [2] = "ListOffsets", [3] = "Metadata", [8] = "OffsetCommit", [9] = "OffsetFetch",
        [10] = "FindCoordinator", [11] = "JoinGroup", [12] = "Heartbeat", [13] = "LeaveGroup", [14] = "SyncGroup",
        [15] = "DescribeGroups", [16] = "ListGroups", [18] = "ApiVersions", [19] = "CreateTopics", [22] = "InitProducerId",
        [32] = "DescribeConfigs", [60] = "DescribeCluster", [68] = "ConsumerGroupHeartbeat",
        [71] = "GetTelemetrySubscriptions", [72] = "PushTelemetry",
    };

    public void StartRequestTracking() => rd_kafka_mock_start_request_tracking(_mock);

    public void ClearRequests() => rd_kafka_mock_clear_requests(_mock);

    /// <summary>The requests received since the last <see cref="ClearRequests"/>, counted by API name.</summary>
    public Dictionary<string, long> RequestCounts()
    {
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        var requests = rd_kafka_mock_get_requests(_mock, out var count);
        if (requests == IntPtr.Zero)
        {
            return counts;
        }

        try
        {
            for (var i = 0; i < (int)count; i++)
            {
                var key = rd_kafka_mock_request_api_key(Marshal.ReadIntPtr(requests, i * IntPtr.Size));
                var name = ApiNames.TryGetValue(key, out var known) ? known : $"ApiKey{key}";
                counts[name] = counts.GetValueOrDefault(name) + 1;
            }
        }
        finally
        {
            rd_kafka_mock_request_destroy_array(requests, count);
        }

        return counts;
    }

    [LibraryImport("librdkafka")]
    private static partial void rd_kafka_mock_start_request_tracking(IntPtr mcluster);

    [LibraryImport("librdkafka")]
    private static partial void rd_kafka_mock_clear_requests(IntPtr mcluster);

    [LibraryImport("librdkafka")]
    private static partial IntPtr rd_kafka_mock_get_requests(IntPtr mcluster, out nuint count);

    [LibraryImport("librdkafka")]
    private static partial short rd_kafka_mock_request_api_key(IntPtr request);

    [LibraryImport("librdkafka")]
    private static partial void rd_kafka_mock_request_destroy_array(IntPtr requests, nuint count);
}
