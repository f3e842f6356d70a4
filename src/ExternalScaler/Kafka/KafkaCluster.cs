using System.Collections.Frozen;
using Confluent.Kafka;

namespace Updraft.ExternalScaler.Kafka;

/// <summary>A cluster's topics and their partition ids, as of one metadata request.</summary>
internal sealed record ClusterMetadata(FrozenDictionary<string, int[]> Topics, long Version, long FetchedAt);

/// <summary>
/// One Kafka cluster reached with one set of credentials: the admin client every ScaledObject on it shares, and its
/// cached metadata (every topic, never a per-topic request, which would auto-create a missing topic on brokers that allow it).
/// </summary>
internal sealed class KafkaCluster : IDisposable
{
    private readonly Dictionary<string, string> _config;
    private readonly KafkaOptions _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _metadataLock = new(1, 1);
    private ClusterMetadata? _metadata;
    private long _version;

    public KafkaCluster(string cluster, KafkaProfile? profile, KafkaOptions options, TimeProvider time)
    {
        Cluster = cluster;
        ProfileName = profile?.Name;
        _options = options;
        _time = time;
        _config = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["bootstrap.servers"] = cluster,
            ["client.id"] = "updraft-scaler",
            ["socket.timeout.ms"] = ((int)Math.Max(1000, options.RequestTimeout.TotalMilliseconds)).ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["log_level"] = "3",
        };
        foreach (var (key, value) in profile?.Settings ?? FrozenDictionary<string, string>.Empty)
        {
            _config[key] = value;
        }

        Admin = new AdminClientBuilder(_config).SetLogHandler(static (_, _) => { }).Build();
    }

    public string Cluster { get; }

    public string? ProfileName { get; }

    public IAdminClient Admin { get; }

    /// <summary>Blocking client calls (metadata, committed offsets) run on the thread pool, a few at a time per cluster.</summary>
    public SemaphoreSlim BlockingCalls { get; } = new(4, 4);

    /// <summary>The cached metadata, fetched again when older than the maximum age or than <paramref name="refreshIfOlderThan"/>.</summary>
    public async Task<ClusterMetadata> MetadataAsync(TimeSpan refreshIfOlderThan, CancellationToken cancellation)
    {
        var maxAge = refreshIfOlderThan < _options.MetadataMaxAge ? refreshIfOlderThan : _options.MetadataMaxAge;
        var current = Volatile.Read(ref _metadata);
        if (current is not null && _time.GetElapsedTime(current.FetchedAt) < maxAge)
        {
            return current;
        }

        await _metadataLock.WaitAsync(cancellation);
        try
        {
            current = _metadata;
            if (current is not null && _time.GetElapsedTime(current.FetchedAt) < maxAge)
            {
                return current; // another poller refreshed it meanwhile
            }

            var metadata = await Task.Run(() => Admin.GetMetadata(_options.RequestTimeout), cancellation);
            var topics = new Dictionary<string, int[]>(StringComparer.Ordinal);
            foreach (var topic in metadata.Topics)
            {
                if (topic.Error.Code == ErrorCode.NoError && topic.Partitions.Count > 0)
                {
                    var ids = new int[topic.Partitions.Count];
                    for (var i = 0; i < ids.Length; i++)
                    {
                        ids[i] = topic.Partitions[i].PartitionId;
                    }

                    Array.Sort(ids);
                    topics[topic.Topic] = ids;
                }
            }

            current = new ClusterMetadata(topics.ToFrozenDictionary(StringComparer.Ordinal), ++_version, _time.GetTimestamp());
            Volatile.Write(ref _metadata, current);
            return current;
        }
        finally
        {
            _metadataLock.Release();
        }
    }

    /// <summary>
    /// A consumer of <paramref name="group"/> that never joins it, used only to read the group's committed offsets
    /// (OffsetFetch with explicit partitions). The admin client's <c>ListConsumerGroupOffsets</c> would need no client
    /// per group, but in librdkafka 2.16 a call that times out while the coordinator is unreachable aborts the process
    /// once the broker is back (<c>rd_kafka_enq_once_del_source_return</c> assertion); the consumer's path does not.
    /// </summary>
    public IConsumer<Ignore, Ignore> CreateOffsetsReader(string group)
    {
        var config = new Dictionary<string, string>(_config, StringComparer.Ordinal)
        {
            ["group.id"] = group,
            ["enable.auto.commit"] = "false",
            ["enable.auto.offset.store"] = "false",
        };
        return new ConsumerBuilder<Ignore, Ignore>(config).SetLogHandler(static (_, _) => { }).Build();
    }

    public void Dispose()
    {
        Admin.Dispose();
        _metadataLock.Dispose();
        BlockingCalls.Dispose();
    }
}
