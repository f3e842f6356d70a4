using System.Collections.Concurrent;
using System.Collections.Frozen;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Grpc.Core;
using Updraft.ExternalScaler.Telemetry;

namespace Updraft.ExternalScaler.Kafka;

/// <summary>
/// One partition as polled; <see cref="CommittedSince"/> is the timestamp from which the commit stayed put, and
/// <see cref="History"/> the recent polls (null unless a trigger asked for rates).
/// </summary>
internal readonly record struct PolledPartition(int Partition, long Committed, long LogStart, long Latest, long CommittedSince, RateSample[]? History = null);

/// <summary>What one successful poll of a group found.</summary>
/// <param name="PolledAt">When the poll finished (a <see cref="TimeProvider"/> timestamp).</param>
/// <param name="Topics">Partitions of every topic the poll covered.</param>
/// <param name="Missing">Wanted topics the cluster does not have.</param>
/// <param name="CommittedTopics">Topics the group has committed offsets for (when some trigger names no topic).</param>
/// <param name="Discovered">Whether <paramref name="CommittedTopics"/> was looked for.</param>
internal sealed record GroupOffsets(
    long PolledAt,
    FrozenDictionary<string, PolledPartition[]> Topics,
    FrozenSet<string> Missing,
    IReadOnlyList<string> CommittedTopics,
    bool Discovered);

/// <summary>The poller's published state: the last good offsets, and the last poll's failure if it failed.</summary>
internal sealed record GroupState(GroupOffsets? Offsets, StatusCode ProblemCode, string? Problem);

/// <summary>
/// Polls one consumer group on one cluster every poll interval, for every topic any trigger asked about, and publishes
/// an immutable <see cref="GroupState"/> that RPCs read without waiting. Per poll: metadata (cached per cluster),
/// OffsetFetch with explicit partitions, and two ListOffsets (log start, and the read-committed end of the log).
/// </summary>
internal sealed class GroupPoller : IAsyncDisposable
{
    /// <summary>The wanted-topics entry that asks for every topic the group has committed offsets for.</summary>
    private const string AllCommittedTopics = "";

    private readonly KafkaCluster _cluster;
    private readonly KafkaOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, byte> _wanted = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly long _startedAt;
    private TaskCompletionSource _polled = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private GroupState _state;
    private long _lastUsed;
    private IConsumer<Ignore, Ignore>? _reader;
    private long _discoveredAtVersion = -1;
    private string[] _committedTopics = [];
    private bool _failing;

    /// <summary>The longest rate window any trigger asked for, in ticks; 0 keeps no history.</summary>
    private long _historyTicks;

    public GroupPoller(KafkaCluster cluster, string group, KafkaOptions options, TimeProvider time, ILogger logger)
    {
        _cluster = cluster;
        Group = group;
        _options = options;
        _time = time;
        _logger = logger;
        _lastUsed = time.GetTimestamp();
        _startedAt = _lastUsed;
        _state = new GroupState(null, StatusCode.Unavailable, $"the first poll of consumer group \"{group}\" on {cluster.Cluster} has not finished yet");
        _loop = Task.Run(RunAsync);
    }

    public string Group { get; }

    public KafkaCluster Cluster => _cluster;

    public GroupState State => Volatile.Read(ref _state);

    /// <summary>Completes after the next poll, successful or not.</summary>
    public Task Polled => Volatile.Read(ref _polled).Task;

    public TimeSpan IdleFor => _time.GetElapsedTime(Interlocked.Read(ref _lastUsed));

    /// <summary>Records that an RPC asked about <paramref name="topic"/> (empty: every committed topic); a new topic is polled at once.</summary>
    public void Want(string topic)
    {
        Interlocked.Exchange(ref _lastUsed, _time.GetTimestamp());
        if (_wanted.TryAdd(topic, 0))
        {
            Wake();
        }
    }

    /// <summary>Records that a trigger measures rates over <paramref name="window"/>: from the next poll on, each partition keeps that much history.</summary>
    public void WantRates(TimeSpan window)
    {
        var current = Volatile.Read(ref _historyTicks);
        while (window.Ticks > current)
        {
            var seen = Interlocked.CompareExchange(ref _historyTicks, window.Ticks, current);
            if (seen == current)
            {
                break;
            }

            current = seen;
        }
    }

    private void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // already signalled
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task RunAsync()
    {
        var cancellation = _stop.Token;
        while (!cancellation.IsCancellationRequested)
        {
            if (!_wanted.IsEmpty)
            {
                using var span = ScalerTracing.Listening ? ScalerTracing.StartPoll("kafka poll", "kafka", $"consumer group {Group} on {_cluster.Cluster}") : null;
                try
                {
                    var offsets = await PollAsync(cancellation);
                    Publish(new GroupState(offsets, StatusCode.OK, null));
                    if (_failing)
                    {
                        _failing = false;
                        KafkaLog.PollRecovered(_logger, Group, _cluster.Cluster);
                    }
                }
                catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e)
                {
                    var problem = $"polling consumer group \"{Group}\" on {_cluster.Cluster} failed: {e.Message}";
                    ScalerTracing.FailPoll(span, problem);
                    Publish(State with { ProblemCode = StatusCode.Unavailable, Problem = problem });
                    if (!_failing)
                    {
                        _failing = true;
                        KafkaLog.PollFailed(_logger, Group, _cluster.Cluster, e.Message);
                    }
                }
            }

            try
            {
                await _wake.WaitAsync(_options.PollInterval, cancellation);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    private void Publish(GroupState state)
    {
        Volatile.Write(ref _state, state);
        var polled = Interlocked.Exchange(ref _polled, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        polled.TrySetResult();
    }

    private async Task<GroupOffsets> PollAsync(CancellationToken cancellation)
    {
        var wanted = _wanted.Keys;
        var previous = State.Offsets;

        // After a failure, or when a wanted topic is unknown, look again at once (leaders may have moved, the topic may exist now).
        var metadata = await _cluster.MetadataAsync(TimeSpan.MaxValue, cancellation);
        var unknown = false;
        foreach (var topic in wanted)
        {
            unknown |= topic.Length > 0 && !metadata.Topics.ContainsKey(topic);
        }

        if (_failing || unknown)
        {
            metadata = await _cluster.MetadataAsync(_failing ? TimeSpan.Zero : _options.PollInterval, cancellation);
        }

        var missing = new HashSet<string>(StringComparer.Ordinal);
        var topics = new HashSet<string>(StringComparer.Ordinal);
        var discover = false;
        foreach (var topic in wanted)
        {
            if (topic == AllCommittedTopics)
            {
                discover = true;
            }
            else if (metadata.Topics.ContainsKey(topic))
            {
                topics.Add(topic);
            }
            else
            {
                missing.Add(topic);
            }
        }

        // Which topics the group committed to is looked for across the whole cluster when the metadata changes, and
        // among the known ones in between.
        var fullDiscovery = discover && _discoveredAtVersion != metadata.Version;
        var fetchTopics = new HashSet<string>(topics, StringComparer.Ordinal);
        if (discover)
        {
            foreach (var topic in fullDiscovery ? metadata.Topics.Keys : (IEnumerable<string>)_committedTopics)
            {
                if (metadata.Topics.ContainsKey(topic) && !topic.StartsWith("__", StringComparison.Ordinal))
                {
                    fetchTopics.Add(topic);
                }
            }
        }

        var committed = await CommittedAsync(metadata, fetchTopics, cancellation);
        if (discover)
        {
            var found = new List<string>();
            foreach (var topic in fetchTopics)
            {
                if (committed.Any(c => c.Key.Topic == topic && c.Value >= 0))
                {
                    found.Add(topic);
                }
            }

            found.Sort(StringComparer.Ordinal);
            _committedTopics = [.. found];
            if (fullDiscovery)
            {
                _discoveredAtVersion = metadata.Version;
            }

            topics.UnionWith(found);
        }

        var partitions = new List<TopicPartition>();
        foreach (var topic in topics)
        {
            foreach (var id in metadata.Topics[topic])
            {
                partitions.Add(new TopicPartition(topic, id));
            }
        }

        var starts = ListOffsetsAsync(partitions, OffsetSpec.Earliest());
        var ends = ListOffsetsAsync(partitions, OffsetSpec.Latest());
        var logStart = await starts;
        var latest = await ends;

        var now = _time.GetTimestamp();
        var keep = TimeSpan.FromTicks(Volatile.Read(ref _historyTicks));
        var sampledAt = _time.GetElapsedTime(_startedAt, now);
        var result = new Dictionary<string, PolledPartition[]>(StringComparer.Ordinal);
        foreach (var topic in topics)
        {
            var ids = metadata.Topics[topic];
            PolledPartition[]? before = null;
            previous?.Topics.TryGetValue(topic, out before);
            var polled = new PolledPartition[ids.Length];
            for (var i = 0; i < ids.Length; i++)
            {
                var tp = new TopicPartition(topic, ids[i]);
                var offset = committed.TryGetValue(tp, out var c) ? c : KafkaLag.NoCommit;
                var since = now;
                var at = before is null ? -1 : Array.FindIndex(before, p => p.Partition == ids[i]);
                if (at >= 0 && before![at].Committed == offset)
                {
                    since = before[at].CommittedSince;
                }

                // A partition new to the poll starts its history here; one that left the topic takes its history along.
                var history = keep > TimeSpan.Zero
                    ? KafkaRates.Append(at >= 0 ? before![at].History : null, new RateSample(sampledAt, latest[tp], offset), keep)
                    : null;
                polled[i] = new PolledPartition(ids[i], offset, logStart[tp], latest[tp], since, history);
            }

            result[topic] = polled;
        }

        return new GroupOffsets(now, result.ToFrozenDictionary(StringComparer.Ordinal), missing.ToFrozenSet(StringComparer.Ordinal), _committedTopics, discover);
    }

    private async Task<Dictionary<TopicPartition, long>> CommittedAsync(ClusterMetadata metadata, HashSet<string> topics, CancellationToken cancellation)
    {
        var partitions = new List<TopicPartition>();
        foreach (var topic in topics)
        {
            foreach (var id in metadata.Topics[topic])
            {
                partitions.Add(new TopicPartition(topic, id));
            }
        }

        var committed = new Dictionary<TopicPartition, long>();
        if (partitions.Count == 0)
        {
            return committed;
        }

        _reader ??= _cluster.CreateOffsetsReader(Group);
        var reader = _reader;
        await _cluster.BlockingCalls.WaitAsync(cancellation);
        List<TopicPartitionOffset> offsets;
        try
        {
            // Not abandoned on cancellation: the reader is disposed only once this returns (at most a request timeout).
            offsets = await Task.Run(() => reader.Committed(partitions, _options.RequestTimeout), CancellationToken.None);
        }
        finally
        {
            _cluster.BlockingCalls.Release();
        }

        foreach (var offset in offsets)
        {
            // Unset (-1001) and -1 both mean no commit.
            committed[offset.TopicPartition] = offset.Offset.Value >= 0 ? offset.Offset.Value : KafkaLag.NoCommit;
        }

        return committed;
    }

    private async Task<Dictionary<TopicPartition, long>> ListOffsetsAsync(List<TopicPartition> partitions, OffsetSpec spec)
    {
        var offsets = new Dictionary<TopicPartition, long>();
        if (partitions.Count == 0)
        {
            return offsets;
        }

        var specs = new List<TopicPartitionOffsetSpec>(partitions.Count);
        foreach (var partition in partitions)
        {
            specs.Add(new TopicPartitionOffsetSpec { TopicPartition = partition, OffsetSpec = spec });
        }

        var result = await _cluster.Admin.ListOffsetsAsync(specs, OffsetsQuery(_options.RequestTimeout));
        foreach (var info in result.ResultInfos)
        {
            var entry = info.TopicPartitionOffsetError;
            if (entry.Error.IsError || entry.Offset.Value < 0)
            {
                // librdkafka answers Unset without an error when no broker is reachable: never a made-up offset.
                throw new KafkaException(entry.Error.IsError ? entry.Error : new Error(ErrorCode.Local_Transport, $"no offset for {entry.Topic} [{entry.Partition.Value}]"));
            }

            offsets[entry.TopicPartition] = entry.Offset.Value;
        }

        foreach (var partition in partitions)
        {
            if (!offsets.ContainsKey(partition))
            {
                throw new KafkaException(new Error(ErrorCode.Local_Transport, $"no offset for {partition.Topic} [{partition.Partition.Value}]"));
            }
        }

        return offsets;
    }

    /// <summary>
    /// Read-committed: the end of the log is the last stable offset, so an open transaction's records (which a
    /// read-committed consumer cannot read yet) are not lag. KEDA asks for the high watermark.
    /// </summary>
    public static ListOffsetsOptions OffsetsQuery(TimeSpan timeout) => new()
    {
        IsolationLevel = IsolationLevel.ReadCommitted,
        RequestTimeout = timeout,
    };

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
        }

        _reader?.Dispose();
        _stop.Dispose();
        _wake.Dispose();
    }
}
