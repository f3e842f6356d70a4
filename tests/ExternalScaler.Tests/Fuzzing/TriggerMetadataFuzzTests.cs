using CsCheck;
using Updraft.ExternalScaler.Http;
using Updraft.ExternalScaler.Kafka;
using Updraft.ExternalScaler.Nats.JetStream;
using Updraft.ExternalScaler.Nats.Stan;
using Updraft.Tests.Common.Fuzzing;

namespace Updraft.ExternalScaler.Tests.Fuzzing;

/// <summary>
/// ScaledObject trigger metadata (<see cref="HttpTrigger"/>, <see cref="KafkaTrigger"/>, <see cref="JetStreamTrigger"/>,
/// <see cref="StanTrigger"/>): parsing never throws, whatever the keys and values; a problem is one non-empty line,
/// found in bounded time and memory; a trigger without a problem has usable values; Kafka partition lists written from
/// a model parse to the model.
/// </summary>
public sealed class TriggerMetadataFuzzTests
{
    private const string Parser = "trigger-metadata";

    private static readonly string[] Keys =
    [
        HttpTrigger.InterceptorRouteKey, HttpTrigger.HttpScaledObjectKey, HttpTrigger.FleetTargetKey, HttpTrigger.ActivationThresholdKey,
        KafkaTrigger.BootstrapServersKey, KafkaTrigger.ConsumerGroupKey, KafkaTrigger.TopicKey, KafkaTrigger.PartitionLimitationKey, KafkaTrigger.LagThresholdKey,
        KafkaTrigger.ActivationLagThresholdKey, KafkaTrigger.OffsetResetPolicyKey, KafkaTrigger.AllowIdleConsumersKey, KafkaTrigger.ExcludePersistentLagKey,
        KafkaTrigger.ScaleToZeroOnInvalidOffsetKey, KafkaTrigger.LimitToPartitionsWithLagKey, KafkaTrigger.EnsureEvenDistributionKey, KafkaTrigger.SaslKey,
        KafkaTrigger.TlsKey, KafkaTrigger.CredentialsProfileKey, KafkaTrigger.HottestPartitionKey, KafkaTrigger.PersistentLagWindowKey, KafkaTrigger.ConsumerRateKey,
        KafkaTrigger.DrainWithinKey, KafkaTrigger.RateWindowKey,
        JetStreamTrigger.ServerUrlKey, JetStreamTrigger.ReadModeKey, JetStreamTrigger.CredentialsProfileKey, JetStreamTrigger.AccountKey, JetStreamTrigger.AccountIdKey,
        JetStreamTrigger.StreamKey, JetStreamTrigger.ConsumerKey, StanTrigger.SubjectKey, StanTrigger.DurableNameKey, StanTrigger.QueueGroupKey,
        "natsServerMonitoringEndpoint", "useHttps", "unknownKey",
    ];

    /// <summary>Values that are right for some key, and values that are wrong for every key.</summary>
    private static readonly Gen<string> Values = Gen.Frequency(
        (3, Gen.OneOf("app", " app ", "10", "0", "-1", "1.5", "1e309", "NaN", "true", "T", "yes", "latest", "earliest", "none", "enable", "api", "monitoring", "API",
            "30s", "0s", "-5m", "1h", "localhost:9092", "a:1, b:2,,", "nats://127.0.0.1:4222", "tls://[::1]:4222,nats://h", "127.0.0.1:8222", "[::1]:8222", "user@h:1",
            "0-100000", "1,2,10-20", "5-1", "-5", "0-2147483647", "$G", "stream.name", "profile", "../etc", ".", "..")),
        (2, Hostile.Text),
        (1, Hostile.Mutated(Corpus.Texts(Parser))),
        (1, Gen.Int[1, 300].Select(count => string.Join(",", Enumerable.Repeat("0-100000", count)))));

    private static readonly Gen<Dictionary<string, string>> Metadata =
        Gen.Select(Gen.Frequency((5, Gen.OneOf(Keys)), (1, Hostile.Text)), Values, (key, value) => (key, value)).Array[0, 12]
            .Select(pairs => pairs.DistinctBy(p => p.key).ToDictionary(p => p.key, p => p.value, StringComparer.Ordinal));

    [Fact]
    public void Parse_AnyMetadata_NeverThrowsAndProblemsAreOneLine()
    {
        Corpus.Run(Parser, file => ParsesAll(FromLines(file.Text)));
        Fuzz.Check(Metadata, ParsesAll, iterations: 1_500, print: m => string.Join(", ", m.Select(p => $"{p.Key}={Fuzz.Show(p.Value)}")));
    }

    [Fact]
    public void ParsePartitions_ListFromModel_IsTheModel()
    {
        var entry = Gen.Select(Gen.Int[0, 5_000], Gen.Int[0, 50], Gen.Bool, Gen.OneOf("", " ", "  "), (from, length, range, space) => (From: from, To: range ? from + length : from, Range: range, Space: space));
        Fuzz.Check(entry.Array[1, 8], entries =>
        {
            var text = string.Join(",", entries.Select(e => e.Space + (e.Range ? $"{e.From}{e.Space}-{e.Space}{e.To}" : $"{e.From}") + e.Space));
            var parsed = KafkaTrigger.ParsePartitions(text, out var problem);
            var expected = entries.SelectMany(e => Enumerable.Range(e.From, e.To - e.From + 1)).ToHashSet();
            if (problem is not null || !parsed.SetEquals(expected))
            {
                throw new FuzzFailure($"{Fuzz.Show(text)} parsed to {parsed.Count} partitions ({problem ?? "no problem"}); expected {expected.Count}");
            }
        }, iterations: 1_000);
    }

    private static void ParsesAll(Dictionary<string, string> metadata)
    {
        // The parsers are cheap; a second is far beyond any one of them (a partition list must not expand without bound).
        var http = Fuzz.Bounded(() => HttpTrigger.Parse("ns", "so", metadata), maxBytes: 10_000_000, "HttpTrigger.Parse");
        Problem(http.Problem, "http");
        _ = http.RouteKey;

        var kafka = Fuzz.Bounded(() => KafkaTrigger.Parse(metadata), maxBytes: 64_000_000, "KafkaTrigger.Parse");
        Problem(kafka.Problem, "kafka");
        _ = kafka.MetricName + kafka.HottestMetricName + kafka.RateMetricName;
        if (kafka.Problem is null && (kafka.BootstrapServers.Count == 0 || kafka.ConsumerGroup.Length == 0 || kafka.LagThreshold < 1 || kafka.DrainWithin <= TimeSpan.Zero))
        {
            throw new FuzzFailure("a kafka trigger without a problem lacks servers, a group or a usable threshold");
        }

        var jetStream = Fuzz.Bounded(() => JetStreamTrigger.Parse(metadata), maxBytes: 10_000_000, "JetStreamTrigger.Parse");
        Problem(jetStream.Problem, "nats-jetstream");
        _ = jetStream.MetricName + jetStream.Describe();
        if (jetStream.Problem is null)
        {
            _ = jetStream.PollKey;
        }

        var stan = Fuzz.Bounded(() => StanTrigger.Parse(metadata), maxBytes: 10_000_000, "StanTrigger.Parse");
        Problem(stan.Problem, "stan");
        _ = stan.MetricName;
        if (stan.Problem is null)
        {
            _ = stan.PollKey;
            _ = stan.ChannelUrl;
        }
    }

    private static void Problem(string? problem, string source)
    {
        if (problem is not null)
        {
            Fuzz.AssertOneLine(problem, source + " trigger problem");
        }
    }

    /// <summary>A corpus file: one <c>key=value</c> per line, <c>\n</c> in a value written as <c>\\n</c>.</summary>
    private static Dictionary<string, string> FromLines(string text)
    {
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            metadata[equals < 0 ? line : line[..equals]] = equals < 0 ? "" : line[(equals + 1)..].Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\r", "\r", StringComparison.Ordinal);
        }

        return metadata;
    }
}
