using Updraft.Shared.Settings;

namespace Updraft.ExternalScaler.Kafka;

/// <summary>The Kafka source's settings (environment variables, like every scaler setting).</summary>
internal sealed class KafkaOptions
{
    /// <summary><c>UPDRAFT_KAFKA_POLL_INTERVAL</c>: how often each (cluster, consumer group) poller reads offsets.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary><c>UPDRAFT_KAFKA_REQUEST_TIMEOUT</c>: the limit of each broker request.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary><c>UPDRAFT_KAFKA_METADATA_MAX_AGE</c>: how long a cluster's topic and partition list is reused.</summary>
    public TimeSpan MetadataMaxAge { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>UPDRAFT_KAFKA_STALE_AFTER</c>: how long the last good values still answer while polls fail.</summary>
    public TimeSpan StaleAfter { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary><c>UPDRAFT_KAFKA_IDLE_EXPIRY</c>: a poller no RPC asked about for this long stops; its client too.</summary>
    public TimeSpan IdleExpiry { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary><c>UPDRAFT_KAFKA_PROFILES_DIR</c>: one subdirectory per credentials profile.</summary>
    public string ProfilesDirectory { get; set; } = "/etc/updraft/kafka-profiles";

    public static KafkaOptions Bind(Func<string, string?> lookup, List<string> problems)
    {
        var options = new KafkaOptions();
        var reader = new SettingReader(lookup, problems);
        options.PollInterval = reader.Duration("UPDRAFT_KAFKA_POLL_INTERVAL", options.PollInterval, TimeSpan.FromMilliseconds(50));
        options.RequestTimeout = reader.Duration("UPDRAFT_KAFKA_REQUEST_TIMEOUT", options.RequestTimeout, TimeSpan.FromMilliseconds(100));
        options.MetadataMaxAge = reader.Duration("UPDRAFT_KAFKA_METADATA_MAX_AGE", options.MetadataMaxAge, TimeSpan.FromMilliseconds(50));
        options.StaleAfter = reader.Duration("UPDRAFT_KAFKA_STALE_AFTER", options.StaleAfter);
        options.IdleExpiry = reader.Duration("UPDRAFT_KAFKA_IDLE_EXPIRY", options.IdleExpiry, TimeSpan.FromSeconds(1));
        options.ProfilesDirectory = reader.Text("UPDRAFT_KAFKA_PROFILES_DIR") ?? options.ProfilesDirectory;
        return options;
    }
}
