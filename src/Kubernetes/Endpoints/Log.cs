using Microsoft.Extensions.Logging;

namespace Updraft.Kubernetes.Endpoints;

internal static partial class Log
{
    [LoggerMessage(EventId = 4201, Level = LogLevel.Information, Message = "Watching EndpointSlices as {GroupVersion}")]
    public static partial void SliceVersion(ILogger logger, string groupVersion);

    [LoggerMessage(EventId = 4202, Level = LogLevel.Warning, Message = "Asking the API server which EndpointSlice versions it serves failed: {Error}; retrying in {Delay}")]
    public static partial void DiscoveryFailed(ILogger logger, string error, TimeSpan delay);
}
