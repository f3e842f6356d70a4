using Microsoft.Extensions.Logging;

namespace Updraft.Kubernetes.Watching;

internal static partial class Log
{
    [LoggerMessage(EventId = 4001, Level = LogLevel.Debug, Message = "Listed {Resource}: {Count} objects at resource version {Version}")]
    public static partial void Listed(ILogger logger, string resource, int count, string version);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Information, Message = "Watch of {Resource} expired (410 Gone); listing again")]
    public static partial void Gone(ILogger logger, string resource);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "Watching {Resource} failed: {Error}; retrying in {Delay}")]
    public static partial void WatchFailed(ILogger logger, string resource, string error, TimeSpan delay);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "Handling {Resource} failed unexpectedly; listing again in {Delay}")]
    public static partial void WatchDefect(ILogger logger, string resource, TimeSpan delay, Exception exception);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Warning, Message = "The API server does not serve {Resource} ({Path} answered 404; is the CRD installed?); treating it as empty and checking again later")]
    public static partial void NotServed(ILogger logger, string resource, string path);

    [LoggerMessage(EventId = 4006, Level = LogLevel.Error, Message = "A handler of {Resource} changes failed on {Kind} {Key}; the other handlers still run and the watch goes on")]
    public static partial void HandlerFailed(ILogger logger, string resource, WatchChangeKind kind, string key, Exception exception);
}
