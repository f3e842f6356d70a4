using Microsoft.Extensions.Logging;

namespace Updraft.Kubernetes.Routes;

internal static partial class Log
{
    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Skipping {Kind} {Key}: {Problems}")]
    public static partial void RouteRejected(ILogger logger, string kind, string key, string problems);
}
