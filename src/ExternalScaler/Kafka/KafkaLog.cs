namespace Updraft.ExternalScaler.Kafka;

/// <summary>The Kafka source's log messages; event ids are stable. Credentials and metadata values are never logged.</summary>
internal static partial class KafkaLog
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Information, Message = "Kafka client created for {Cluster} (credentials profile {Profile})")]
    public static partial void ClientCreated(ILogger logger, string cluster, string profile);

    [LoggerMessage(EventId = 301, Level = LogLevel.Information, Message = "Kafka client for {Cluster} closed: no consumer group polled on it any more")]
    public static partial void ClientClosed(ILogger logger, string cluster);

    [LoggerMessage(EventId = 302, Level = LogLevel.Debug, Message = "Polling consumer group {Group} on {Cluster}")]
    public static partial void PollerStarted(ILogger logger, string group, string cluster);

    [LoggerMessage(EventId = 303, Level = LogLevel.Debug, Message = "Stopped polling consumer group {Group} on {Cluster}: no RPC asked about it for {Idle}")]
    public static partial void PollerExpired(ILogger logger, string group, string cluster, TimeSpan idle);

    [LoggerMessage(EventId = 304, Level = LogLevel.Warning, Message = "Polling consumer group {Group} on {Cluster} failed: {Problem}")]
    public static partial void PollFailed(ILogger logger, string group, string cluster, string problem);

    [LoggerMessage(EventId = 305, Level = LogLevel.Information, Message = "Polling consumer group {Group} on {Cluster} works again")]
    public static partial void PollRecovered(ILogger logger, string group, string cluster);

    [LoggerMessage(EventId = 306, Level = LogLevel.Debug, Message = "Consumer group {Group} (topic {Topic}): arrival {Arrival:F1}/s, consume {Consume:F1}/s, lag {Lag}, rate metric {Value}")]
    public static partial void Rates(ILogger logger, string group, string topic, double arrival, double consume, long lag, double value);
}
