using Updraft.Shared.Settings;

namespace Updraft.ExternalScaler.Nats;

/// <summary>Settings of the NATS JetStream and NATS Streaming sources.</summary>
internal sealed class NatsOptions
{
    public const string PollIntervalVariable = "UPDRAFT_NATS_POLL_INTERVAL";
    public const string PollerExpiryVariable = "UPDRAFT_NATS_POLLER_EXPIRY";
    public const string TimeoutVariable = "UPDRAFT_NATS_TIMEOUT";
    public const string CredentialsDirectoryVariable = "UPDRAFT_NATS_CREDENTIALS_DIR";

    /// <summary>How often each poller reads its consumer or channel.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A poller no RPC has asked for within this long is stopped (KEDA asks at least every pollingInterval).</summary>
    public TimeSpan PollerExpiry { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Bound on each HTTP request, connection attempt and JetStream API request (KEDA's HTTP default: 3 s).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>Where credentials profiles live: one directory per profile (a mounted Secret).</summary>
    public string CredentialsDirectory { get; set; } = "/etc/updraft/nats-credentials";

    public static NatsOptions Bind(Func<string, string?> lookup, List<string> problems)
    {
        var reader = new SettingReader(lookup, problems);
        var options = new NatsOptions();
        options.PollInterval = reader.Duration(PollIntervalVariable, options.PollInterval, TimeSpan.FromMilliseconds(10));
        options.PollerExpiry = reader.Duration(PollerExpiryVariable, options.PollerExpiry, TimeSpan.FromSeconds(1));
        options.Timeout = reader.Duration(TimeoutVariable, options.Timeout, TimeSpan.FromMilliseconds(10));
        options.CredentialsDirectory = reader.Text(CredentialsDirectoryVariable) ?? options.CredentialsDirectory;
        return options;
    }
}
