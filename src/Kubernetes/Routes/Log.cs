using Microsoft.Extensions.Logging;

namespace Updraft.Kubernetes.Routes;

internal static partial class Log
{
    [LoggerMessage(EventId = 4101, Level = LogLevel.Warning, Message = "Skipping {Kind} {Key}: {Problems}")]
    public static partial void RouteRejected(ILogger logger, string kind, string key, string problems);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Error, Message = "Building the routes from the cluster failed; the previous routes stay in force")]
    public static partial void BuildFailed(ILogger logger, Exception exception);
}
