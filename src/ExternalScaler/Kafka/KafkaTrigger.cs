using System.Globalization;
using System.Text;
using Updraft.Shared.Durations;
using Updraft.Shared.Hosting;

namespace Updraft.ExternalScaler.Kafka;

internal enum OffsetResetPolicy
{
    Latest,
    Earliest,
}

/// <summary>
/// What a <c>source: kafka</c> trigger asks for. The keys, meanings and defaults are those of KEDA's <c>kafka</c> scaler,
/// so a ScaledObject switches by changing the trigger type; Updraft's own keys are marked. Parsing never fails:
/// problems are kept and reported by <c>GetMetrics</c>/<c>IsActive</c> (<c>GetMetricSpec</c> must always answer).
/// </summary>
internal sealed record KafkaTrigger
{
    public const string BootstrapServersKey = "bootstrapServers";
    public const string ConsumerGroupKey = "consumerGroup";
    public const string TopicKey = "topic";
    public const string PartitionLimitationKey = "partitionLimitation";
    public const string LagThresholdKey = "lagThreshold";
    public const string ActivationLagThresholdKey = "activationLagThreshold";
    public const string OffsetResetPolicyKey = "offsetResetPolicy";
    public const string AllowIdleConsumersKey = "allowIdleConsumers";
    public const string ExcludePersistentLagKey = "excludePersistentLag";
    public const string ScaleToZeroOnInvalidOffsetKey = "scaleToZeroOnInvalidOffset";
    public const string LimitToPartitionsWithLagKey = "limitToPartitionsWithLag";
    public const string EnsureEvenDistributionKey = "ensureEvenDistributionOfPartitions";
    public const string SaslKey = "sasl";
    public const string TlsKey = "tls";

    /// <summary>Updraft's key: the credentials profile (a directory of librdkafka settings) to connect with.</summary>
    public const string CredentialsProfileKey = "credentialsProfile";

    /// <summary>Updraft's key: also report the lag of the most lagging partition as a second metric.</summary>
    public const string HottestPartitionKey = "hottestPartitionLag";

    /// <summary>Updraft's key: how long a committed offset must stay put before its lag counts as persistent.</summary>
    public const string PersistentLagWindowKey = "persistentLagWindow";

    /// <summary>Updraft's key: messages per second one replica handles; turns on the rate-aware second metric.</summary>
    public const string ConsumerRateKey = "consumerRate";

    /// <summary>Updraft's key: how fast the rate-aware metric wants the current backlog drained.</summary>
    public const string DrainWithinKey = "drainWithin";

    /// <summary>Updraft's key: the window over which arrival and consume rates are measured.</summary>
    public const string RateWindowKey = "rateWindow";

    public const long DefaultLagThreshold = 10;
    public static readonly TimeSpan DefaultPersistentLagWindow = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultDrainWithin = TimeSpan.FromSeconds(60);
    public static readonly TimeSpan DefaultRateWindow = TimeSpan.FromSeconds(30);

    /// <summary>The HPA target of the rate metric when <c>consumerRate</c> is given but unusable (GetMetricSpec still answers).</summary>
    public const double FallbackConsumerRate = 1;

    public IReadOnlyList<string> BootstrapServers { get; init; } = [];

    /// <summary>The servers, sorted and joined: with the profile, the key of the shared client.</summary>
    public string Cluster { get; init; } = "";

    public string ConsumerGroup { get; init; } = "";

    /// <summary>Empty: every topic the group has committed offsets for.</summary>
    public string Topic { get; init; } = "";

    /// <summary>Null: every partition. Ignored without a topic, as in KEDA.</summary>
    public IReadOnlySet<int>? PartitionLimitation { get; init; }

    public long LagThreshold { get; init; } = DefaultLagThreshold;

    public long ActivationLagThreshold { get; init; }

    public OffsetResetPolicy OffsetResetPolicy { get; init; } = OffsetResetPolicy.Latest;

    public bool AllowIdleConsumers { get; init; }

    public bool ExcludePersistentLag { get; init; }

    public bool ScaleToZeroOnInvalidOffset { get; init; }

    public bool LimitToPartitionsWithLag { get; init; }

    public bool EnsureEvenDistributionOfPartitions { get; init; }

    public string? CredentialsProfile { get; init; }

    public bool HottestPartitionLag { get; init; }

    public TimeSpan PersistentLagWindow { get; init; } = DefaultPersistentLagWindow;

    /// <summary>Null: no rate metric. Given but unusable: <see cref="FallbackConsumerRate"/>, and a <see cref="Problem"/>.</summary>
    public double? ConsumerRate { get; init; }

    public TimeSpan DrainWithin { get; init; } = DefaultDrainWithin;

    public TimeSpan RateWindow { get; init; } = DefaultRateWindow;

    /// <summary>Why the metadata cannot be used (each problem names its key), or null.</summary>
    public string? Problem { get; init; }

    /// <summary>KEDA's metric name, normalised: <c>kafka-&lt;topic&gt;</c>, or <c>kafka-&lt;group&gt;-topics</c> without a topic.</summary>
    public string MetricName => Normalize(Topic.Length > 0 ? "kafka-" + Topic : "kafka-" + ConsumerGroup + "-topics");

    public string HottestMetricName => MetricName + "-hottest-partition";

    public string RateMetricName => MetricName + "-rate";

    /// <summary>Parses with the default poll interval (which bounds <c>rateWindow</c> from below).</summary>
    public static KafkaTrigger Parse(IReadOnlyDictionary<string, string> metadata) => Parse(metadata, new KafkaOptions().PollInterval);

    /// <param name="metadata">The trigger's metadata.</param>
    /// <param name="pollInterval">The scaler's poll interval: a rate window needs at least two polls in it.</param>
    public static KafkaTrigger Parse(IReadOnlyDictionary<string, string> metadata, TimeSpan pollInterval)
    {
        var problems = new List<string>();
        string Text(string key) => metadata.TryGetValue(key, out var value) ? value.Trim() : "";

        var servers = Text(BootstrapServersKey).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (servers.Length == 0)
        {
            problems.Add($"metadata {BootstrapServersKey} is required: the brokers as host:port, separated by commas");
        }

        var group = Text(ConsumerGroupKey);
        if (group.Length == 0)
        {
            problems.Add($"metadata {ConsumerGroupKey} is required");
        }

        var topic = Text(TopicKey);
        var lagThreshold = Integer(LagThresholdKey, DefaultLagThreshold, minimum: 1, "a whole number above 0");
        var activation = Integer(ActivationLagThresholdKey, 0, minimum: 0, "a whole number, 0 or more");
        var policy = OffsetResetPolicy.Latest;
        switch (Text(OffsetResetPolicyKey))
        {
            case "" or "latest":
                break;
            case "earliest":
                policy = OffsetResetPolicy.Earliest;
                break;
            case var other:
                problems.Add($"metadata {OffsetResetPolicyKey}=\"{other}\" is not valid; use latest or earliest");
                break;
        }

        var allowIdle = Boolean(AllowIdleConsumersKey);
        var excludePersistent = Boolean(ExcludePersistentLagKey);
        var scaleToZero = Boolean(ScaleToZeroOnInvalidOffsetKey);
        var limitToLagging = Boolean(LimitToPartitionsWithLagKey);
        var evenDistribution = Boolean(EnsureEvenDistributionKey);
        var hottest = Boolean(HottestPartitionKey);
        if (allowIdle && limitToLagging)
        {
            problems.Add($"metadata {AllowIdleConsumersKey} and {LimitToPartitionsWithLagKey} cannot both be true");
        }

        if (limitToLagging && evenDistribution)
        {
            problems.Add($"metadata {LimitToPartitionsWithLagKey} and {EnsureEvenDistributionKey} cannot both be true");
        }

        if (topic.Length == 0 && limitToLagging)
        {
            problems.Add($"metadata {LimitToPartitionsWithLagKey} requires {TopicKey}");
        }

        if (topic.Length == 0 && evenDistribution)
        {
            problems.Add($"metadata {EnsureEvenDistributionKey} requires {TopicKey}");
        }

        IReadOnlySet<int>? partitions = null;
        if (Text(PartitionLimitationKey) is { Length: > 0 } limitation && topic.Length > 0)
        {
            partitions = ParsePartitions(limitation, out var partitionProblem);
            if (partitionProblem is not null)
            {
                problems.Add($"metadata {PartitionLimitationKey}=\"{limitation}\" is not valid: {partitionProblem}; use partition numbers and ranges such as 1,2,10-20");
            }
        }

        var window = DefaultPersistentLagWindow;
        if (Text(PersistentLagWindowKey) is { Length: > 0 } windowText && (!GoDuration.TryParse(windowText, out window) || window < TimeSpan.Zero))
        {
            problems.Add($"metadata {PersistentLagWindowKey}=\"{windowText}\" is not valid; use {GoDuration.AllowedForm}");
            window = DefaultPersistentLagWindow;
        }

        double? consumerRate = null;
        if (Text(ConsumerRateKey) is { Length: > 0 } rateText)
        {
            if (double.TryParse(rateText, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && double.IsFinite(rate) && rate > 0)
            {
                consumerRate = rate;
            }
            else
            {
                problems.Add($"metadata {ConsumerRateKey}=\"{rateText}\" is not valid; use the messages per second one replica handles, a number above 0");
                consumerRate = FallbackConsumerRate;
            }
        }

        var drainWithin = DefaultDrainWithin;
        if (Text(DrainWithinKey) is { Length: > 0 } drainText && (!GoDuration.TryParse(drainText, out drainWithin) || drainWithin <= TimeSpan.Zero))
        {
            problems.Add($"metadata {DrainWithinKey}=\"{drainText}\" is not valid; use a Go duration above 0 such as 30s, 5m or 1h30m");
            drainWithin = DefaultDrainWithin;
        }

        // A rate needs two polls inside the window; the default grows with a long poll interval.
        var shortestWindow = 2 * pollInterval;
        var defaultWindow = DefaultRateWindow > shortestWindow ? DefaultRateWindow : shortestWindow;
        var rateWindow = defaultWindow;
        if (Text(RateWindowKey) is { Length: > 0 } rateWindowText && (!GoDuration.TryParse(rateWindowText, out rateWindow) || rateWindow < shortestWindow))
        {
            problems.Add($"metadata {RateWindowKey}=\"{rateWindowText}\" is not valid; use a Go duration of at least {GoDuration.Format(shortestWindow)} (two of the scaler's polls, UPDRAFT_KAFKA_POLL_INTERVAL) such as 30s or 2m");
            rateWindow = defaultWindow;
        }

        var profile = Text(CredentialsProfileKey);
        if (profile.Length > 0 && !KafkaProfiles.IsValidName(profile))
        {
            problems.Add($"metadata {CredentialsProfileKey}=\"{profile}\" is not a valid profile name; use letters, digits, '-', '_' and '.'");
        }

        // KEDA takes broker credentials from a TriggerAuthentication, which never reaches an external scaler.
        if (profile.Length == 0 && Text(SaslKey) is { Length: > 0 } sasl && sasl != "none")
        {
            problems.Add($"metadata {SaslKey}=\"{sasl}\" needs credentials, which KEDA does not pass to external scalers; set {CredentialsProfileKey} to a profile that holds them");
        }

        if (profile.Length == 0 && Text(TlsKey) == "enable")
        {
            problems.Add($"metadata {TlsKey}=enable needs TLS settings; set {CredentialsProfileKey} to a profile that holds them");
        }

        return new KafkaTrigger
        {
            BootstrapServers = servers,
            Cluster = string.Join(",", servers.Order(StringComparer.Ordinal)),
            ConsumerGroup = group,
            Topic = topic,
            PartitionLimitation = partitions,
            LagThreshold = lagThreshold,
            ActivationLagThreshold = activation,
            OffsetResetPolicy = policy,
            AllowIdleConsumers = allowIdle,
            ExcludePersistentLag = excludePersistent,
            ScaleToZeroOnInvalidOffset = scaleToZero,
            LimitToPartitionsWithLag = limitToLagging,
            EnsureEvenDistributionOfPartitions = evenDistribution,
            CredentialsProfile = profile.Length > 0 ? profile : null,
            HottestPartitionLag = hottest,
            PersistentLagWindow = window,
            ConsumerRate = consumerRate,
            DrainWithin = drainWithin,
            RateWindow = rateWindow,
            Problem = problems.Count > 0 ? OneLine.Escape(string.Join("; ", problems)) : null,
        };

        long Integer(string key, long fallback, long minimum, string allowed)
        {
            var text = Text(key);
            if (text.Length == 0)
            {
                return fallback;
            }

            if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) && value >= minimum)
            {
                return value;
            }

            problems.Add($"metadata {key}=\"{text}\" is not valid; use {allowed}");
            return fallback;
        }

        bool Boolean(string key)
        {
            switch (Text(key))
            {
                case "":
                    return false;
                case "1" or "t" or "T" or "true" or "TRUE" or "True":
                    return true;
                case "0" or "f" or "F" or "false" or "FALSE" or "False":
                    return false;
                case var other:
                    problems.Add($"metadata {key}=\"{other}\" is not valid; use true or false");
                    return false;
            }
        }
    }

    private const int MaxRange = 100_000;

    /// <summary>KEDA's list form: numbers and inclusive ranges separated by commas (<c>1,2,10-20,31</c>).</summary>
    public static IReadOnlySet<int> ParsePartitions(string text, out string? problem)
    {
        var partitions = new HashSet<int>();
        problem = null;
        long expanded = 0;
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var dash = entry.IndexOf('-', 1 < entry.Length ? 1 : 0);
            if (dash > 0)
            {
                if (!TryPartition(entry[..dash].Trim(), out var from) || !TryPartition(entry[(dash + 1)..].Trim(), out var to) || from > to || to - from > MaxRange)
                {
                    problem = $"\"{entry}\" is not a range";
                    return partitions;
                }

                // Bounds the work of the whole list too: "0-100000" written 10,000 times took minutes (found by fuzzing).
                expanded += to - from + 1;
                if (expanded > MaxRange)
                {
                    problem = $"the ranges cover more than {MaxRange} partitions";
                    return partitions;
                }

                for (var p = from; p <= to; p++)
                {
                    partitions.Add(p);
                }
            }
            else if (TryPartition(entry, out var single))
            {
                partitions.Add(single);
            }
            else
            {
                problem = $"\"{entry}\" is not a partition number";
                return partitions;
            }
        }

        return partitions;

        static bool TryPartition(string text, out int partition) =>
            int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out partition);
    }

    /// <summary>KEDA's <c>NormalizeString</c>: lowercase, and <c>/ . : % ( )</c> become <c>-</c>.</summary>
    public static string Normalize(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(c is '/' or '.' or ':' or '%' or '(' or ')' ? '-' : char.ToLowerInvariant(c));
        }

        return builder.ToString();
    }
}
