using System.Reflection;
using System.Runtime.InteropServices;
using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Updraft.ExternalScaler.Tests.Kafka;

/// <summary>
/// librdkafka's mock Kafka cluster (3 brokers on loopback, inside this process), reached over real sockets by real
/// clients: topics with exact partition counts through the mock's C API, messages produced by a real producer,
/// offsets committed by a real consumer of the group, brokers taken down and brought back.
/// </summary>
internal sealed partial class MockKafkaCluster : IDisposable
{
    private const int Brokers = 3;
    private static readonly Lock ResolverGate = new();
    private static string? _libraryPath;

    private readonly IProducer<Null, byte[]> _host;
    private readonly IntPtr _mock;
    private readonly IProducer<Null, byte[]> _producer;

    private MockKafkaCluster()
    {
        _host = new ProducerBuilder<Null, byte[]>(new Dictionary<string, string>
        {
            ["bootstrap.servers"] = "127.0.0.1:1",
            ["test.mock.num.brokers"] = Brokers.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["log_level"] = "0",
        }).SetLogHandler(static (_, _) => { }).Build();
        EnsureResolver();
        var handle = (SafeHandle)_host.Handle.GetType()
            .GetProperty("LibrdkafkaHandle", BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)!
            .GetValue(_host.Handle)!;
        _mock = rd_kafka_handle_mock_cluster(handle.DangerousGetHandle());
        rd_kafka_mock_group_initial_rebalance_delay_ms(_mock, 0);
        BootstrapServers = Marshal.PtrToStringUTF8(rd_kafka_mock_cluster_bootstraps(_mock))!;
        _producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = BootstrapServers, LingerMs = 0 })
            .SetLogHandler(static (_, _) => { }).Build();
    }

    public string BootstrapServers { get; }

    public static MockKafkaCluster Start() => new();

    public void CreateTopic(string topic, int partitions)
    {
        var error = rd_kafka_mock_topic_create(_mock, topic, partitions, 1);
        if (error != 0)
        {
            throw new InvalidOperationException($"rd_kafka_mock_topic_create({topic}) failed: {error}");
        }
    }

    /// <summary>Produces <paramref name="count"/> messages of <paramref name="size"/> bytes to one partition, each acknowledged.</summary>
    public async Task ProduceAsync(string topic, int partition, int count, int size = 16)
    {
        for (var i = 0; i < count; i++)
        {
            await _producer.ProduceAsync(new TopicPartition(topic, partition), new Message<Null, byte[]> { Value = new byte[size] });
        }
    }

    /// <summary>Commits offsets for <paramref name="group"/> with a real consumer assigned to the partitions.</summary>
    public void Commit(string group, string topic, params (int Partition, long Offset)[] offsets)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = BootstrapServers,
            GroupId = group,
            EnableAutoCommit = false,
        }).SetLogHandler(static (_, _) => { }).Build();
        consumer.Assign(offsets.Select(o => new TopicPartitionOffset(topic, o.Partition, o.Offset)));
        consumer.Commit(offsets.Select(o => new TopicPartitionOffset(topic, o.Partition, o.Offset)));
        consumer.Close();
    }

    /// <summary>The first offset still in each partition's log, read by a client of our own.</summary>
    public async Task<long> LogStartAsync(string topic, int partition)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).SetLogHandler(static (_, _) => { }).Build();
        var result = await admin.ListOffsetsAsync([new TopicPartitionOffsetSpec { TopicPartition = new TopicPartition(topic, partition), OffsetSpec = OffsetSpec.Earliest() }]);
        return result.ResultInfos[0].TopicPartitionOffsetError.Offset.Value;
    }

    public void SetBrokersDown()
    {
        for (var broker = 1; broker <= Brokers; broker++)
        {
            Check(rd_kafka_mock_broker_set_down(_mock, broker), "rd_kafka_mock_broker_set_down");
        }
    }

    public void SetBrokersUp()
    {
        for (var broker = 1; broker <= Brokers; broker++)
        {
            Check(rd_kafka_mock_broker_set_up(_mock, broker), "rd_kafka_mock_broker_set_up");
        }
    }

    private static void Check(int error, string function)
    {
        if (error != 0)
        {
            throw new InvalidOperationException($"{function} failed: {error}");
        }
    }

    public void Dispose()
    {
        _producer.Dispose();
        _host.Dispose();
    }

    /// <summary>Confluent.Kafka loads its bundled librdkafka by path; the mock API must bind to that same library.</summary>
    private static void EnsureResolver()
    {
        lock (ResolverGate)
        {
            if (_libraryPath is not null)
            {
                return;
            }

            _libraryPath = File.ReadLines("/proc/self/maps")
                .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[^1])
                .First(path => path.EndsWith("librdkafka.so", StringComparison.Ordinal));
            NativeLibrary.SetDllImportResolver(typeof(MockKafkaCluster).Assembly, static (name, _, _) =>
                name == "librdkafka" ? NativeLibrary.Load(_libraryPath!) : IntPtr.Zero);
        }
    }

    [LibraryImport("librdkafka")]
    private static partial IntPtr rd_kafka_handle_mock_cluster(IntPtr rk);

    [LibraryImport("librdkafka")]
    private static partial IntPtr rd_kafka_mock_cluster_bootstraps(IntPtr mcluster);

    [LibraryImport("librdkafka", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int rd_kafka_mock_topic_create(IntPtr mcluster, string topic, int partitions, int replicationFactor);

    [LibraryImport("librdkafka")]
    private static partial int rd_kafka_mock_broker_set_down(IntPtr mcluster, int brokerId);

    [LibraryImport("librdkafka")]
    private static partial int rd_kafka_mock_broker_set_up(IntPtr mcluster, int brokerId);

    [LibraryImport("librdkafka")]
    private static partial void rd_kafka_mock_group_initial_rebalance_delay_ms(IntPtr mcluster, int delayMs);
}
