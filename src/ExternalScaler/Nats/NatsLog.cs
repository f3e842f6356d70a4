namespace Updraft.ExternalScaler.Nats;

/// <summary>The NATS sources' log messages; event ids are stable (300–349). Credentials are never logged.</summary>
internal static partial class NatsLog
{
    [LoggerMessage(EventId = 300, Level = LogLevel.Debug, Message = "NATS poller started for {What} ({Count} in all)")]
    public static partial void PollerStarted(ILogger logger, string what, int count);

    [LoggerMessage(EventId = 301, Level = LogLevel.Debug, Message = "NATS poller stopped after going unused: {What} ({Count} left)")]
    public static partial void PollerExpired(ILogger logger, object what, int count);

    [LoggerMessage(EventId = 302, Level = LogLevel.Information, Message = "JetStream consumer {Consumer} of stream {Stream}: reading its leader {Leader} at {Url}")]
    public static partial void LeaderFound(ILogger logger, string consumer, string stream, string leader, Uri url);
}
