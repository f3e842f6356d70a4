using Updraft.ExternalScaler.Nats.Client;
using Updraft.Shared.Hosting;

namespace Updraft.ExternalScaler.Nats.JetStream;

/// <summary>How a <c>nats-jetstream</c> trigger reads its consumer.</summary>
internal enum JetStreamReadMode
{
    /// <summary><c>$JS.API.CONSUMER.INFO.&lt;stream&gt;.&lt;consumer&gt;</c> over a NATS connection (answered by the consumer's leader).</summary>
    Api,

    /// <summary>The HTTP monitoring endpoint's <c>/jsz</c>, as KEDA reads it, with its walk to the consumer's leader in a cluster.</summary>
    Monitoring,
}

/// <summary>
/// What a <c>nats-jetstream</c> trigger asks for. KEDA's keys, meanings and defaults, plus <c>natsServerUrl</c>,
/// <c>readMode</c> and <c>credentialsProfile</c>. Parsing never fails: problems are kept and reported by
/// <c>GetMetrics</c>/<c>IsActive</c> as <c>InvalidArgument</c>, since <c>GetMetricSpec</c> must always answer.
/// </summary>
internal sealed record JetStreamTrigger(
    JetStreamReadMode Mode,
    Uri? MonitoringEndpoint,
    IReadOnlyList<NatsServerAddress>? Servers,
    string? CredentialsProfile,
    string? Account,
    string? AccountId,
    string Stream,
    string Consumer,
    double LagThreshold,
    double ActivationLagThreshold,
    string? Problem)
{
    public const string ServerUrlKey = "natsServerUrl";
    public const string ReadModeKey = "readMode";
    public const string CredentialsProfileKey = "credentialsProfile";
    public const string AccountKey = "account";
    public const string AccountIdKey = "accountID";
    public const string StreamKey = "stream";
    public const string ConsumerKey = "consumer";

    /// <summary>KEDA's metric name, normalised: <c>nats-jetstream-&lt;stream&gt;</c> (<c>nats-jetstream</c> without a stream).</summary>
    public string MetricName => Stream.Length == 0 ? "nats-jetstream" : NatsMetadata.NormalizeMetricName("nats-jetstream-" + Stream);

    /// <summary>What one poller reads: triggers that differ only in thresholds share it.</summary>
    public object PollKey => Mode == JetStreamReadMode.Api
        ? (object)new ApiKey(string.Join(",", Servers!), CredentialsProfile, Stream, Consumer)
        : new MonitoringKey(MonitoringEndpoint!, AccountId ?? Account!, Account, Stream, Consumer);

    public static JetStreamTrigger Parse(IReadOnlyDictionary<string, string> metadata)
    {
        var problems = new List<string>();
        var stream = NatsMetadata.Required(metadata, StreamKey, problems);
        var consumer = NatsMetadata.Required(metadata, ConsumerKey, problems);
        if (stream is not null && !NatsMetadata.IsSubjectToken(stream))
        {
            problems.Add($"metadata {StreamKey}=\"{stream}\" is not a valid stream name (no spaces, '.', '*', '>', '/')");
        }

        if (consumer is not null && !NatsMetadata.IsSubjectToken(consumer))
        {
            problems.Add($"metadata {ConsumerKey}=\"{consumer}\" is not a valid consumer name (no spaces, '.', '*', '>', '/')");
        }

        var lagThreshold = NatsMetadata.LagThreshold(metadata, problems);
        var activation = NatsMetadata.ActivationLagThreshold(metadata, problems);
        var serverUrl = NatsMetadata.Optional(metadata, ServerUrlKey);
        var mode = serverUrl is null ? JetStreamReadMode.Monitoring : JetStreamReadMode.Api;
        switch (NatsMetadata.Optional(metadata, ReadModeKey)?.ToLowerInvariant())
        {
            case null:
                break;
            case "api":
                mode = JetStreamReadMode.Api;
                break;
            case "monitoring":
                mode = JetStreamReadMode.Monitoring;
                break;
            case var other:
                problems.Add($"metadata {ReadModeKey}=\"{other}\" is not valid; use api or monitoring");
                break;
        }

        Uri? endpoint = null;
        IReadOnlyList<NatsServerAddress>? servers = null;
        string? profile = null;
        var account = NatsMetadata.Optional(metadata, AccountKey);
        var accountId = NatsMetadata.Optional(metadata, AccountIdKey);
        if (mode == JetStreamReadMode.Api)
        {
            if (serverUrl is null)
            {
                problems.Add($"metadata {ServerUrlKey} is required with {ReadModeKey}=api (or use {ReadModeKey}=monitoring with {NatsMetadata.MonitoringEndpointKey})");
            }
            else if ((servers = NatsServerAddress.ParseList(serverUrl)) is null)
            {
                problems.Add($"metadata {ServerUrlKey}=\"{serverUrl}\" is not valid; use nats://host:port (tls://host:port to require TLS), several separated by commas");
            }

            profile = NatsMetadata.Optional(metadata, CredentialsProfileKey);
            if (profile is not null && !NatsCredentialProfiles.IsValidName(profile))
            {
                problems.Add($"metadata {CredentialsProfileKey}=\"{profile}\" is not a valid profile name (letters, digits, '-', '_', '.')");
            }
        }
        else
        {
            var useHttps = NatsMetadata.UseHttps(metadata, problems);
            endpoint = NatsMetadata.MonitoringEndpoint(metadata, useHttps, problems);
            if (account is null && accountId is null)
            {
                problems.Add($"metadata {AccountKey} (or {AccountIdKey}) is required to read {NatsMetadata.MonitoringEndpointKey}; use \"$G\" when the server has no accounts");
            }
        }

        return new JetStreamTrigger(
            mode,
            endpoint,
            servers,
            profile,
            account,
            accountId,
            stream ?? "",
            consumer ?? "",
            lagThreshold,
            activation,
            problems.Count == 0 ? null : OneLine.Escape(string.Join("; ", problems)));
    }

    /// <summary>Describes the consumer for messages: <c>consumer "c" of stream "s"</c>.</summary>
    public string Describe() => $"consumer \"{Consumer}\" of stream \"{Stream}\"";

    private sealed record ApiKey(string Servers, string? Profile, string Stream, string Consumer);

    private sealed record MonitoringKey(Uri Endpoint, string AccountMatch, string? AccountName, string Stream, string Consumer);
}
