using Updraft.Shared.Hosting;

namespace Updraft.ExternalScaler.Nats.Stan;

/// <summary>
/// What a <c>stan</c> trigger asks for, with KEDA's keys and defaults (its removed <c>stan</c> scaler). Parsing never
/// fails: problems are reported by <c>GetMetrics</c>/<c>IsActive</c> as <c>InvalidArgument</c>.
/// </summary>
internal sealed record StanTrigger(
    Uri? MonitoringEndpoint,
    string Subject,
    string DurableName,
    string QueueGroup,
    double LagThreshold,
    double ActivationLagThreshold,
    string? Problem)
{
    public const string SubjectKey = "subject";
    public const string DurableNameKey = "durableName";
    public const string QueueGroupKey = "queueGroup";

    /// <summary>KEDA's metric name, normalised: <c>stan-&lt;subject&gt;</c> (<c>stan</c> without a subject).</summary>
    public string MetricName => Subject.Length == 0 ? "stan" : NatsMetadata.NormalizeMetricName("stan-" + Subject);

    /// <summary>One poller per (endpoint, channel); durable queue groups on the same channel share it.</summary>
    public object PollKey => new Key(MonitoringEndpoint!, Subject);

    public Uri ChannelUrl => new(MonitoringEndpoint!, $"streaming/channelsz?channel={Uri.EscapeDataString(Subject)}&subs=1");

    public static StanTrigger Parse(IReadOnlyDictionary<string, string> metadata)
    {
        var problems = new List<string>();
        var useHttps = NatsMetadata.UseHttps(metadata, problems);
        var endpoint = NatsMetadata.MonitoringEndpoint(metadata, useHttps, problems);
        var subject = NatsMetadata.Required(metadata, SubjectKey, problems);
        var durable = NatsMetadata.Required(metadata, DurableNameKey, problems);
        var group = NatsMetadata.Required(metadata, QueueGroupKey, problems);
        var lagThreshold = NatsMetadata.LagThreshold(metadata, problems);
        var activation = NatsMetadata.ActivationLagThreshold(metadata, problems);
        return new StanTrigger(endpoint, subject ?? "", durable ?? "", group ?? "", lagThreshold, activation, problems.Count == 0 ? null : OneLine.Escape(string.Join("; ", problems)));
    }

    private sealed record Key(Uri Endpoint, string Channel);
}
