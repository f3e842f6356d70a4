namespace Updraft.Operator.Telemetry;

/// <summary>Every log line the operator writes. Event ids are stable and registered here only (5000–5999).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 5001, Level = LogLevel.Information, Message = "Operator started: watching {Scope}; ScaledObjects point at {ScalerAddress}; leader election {LeaderElection}; metrics {Metrics}, probes {Probes}")]
    public static partial void Started(ILogger logger, string scope, string scalerAddress, string leaderElection, string metrics, string probes);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Warning, Message = "{Warning}")]
    public static partial void SettingWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Leading (lease {Lease}, identity {Identity}): reconciling")]
    public static partial void StartedLeading(ILogger logger, string lease, string identity);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Warning, Message = "Lost the lease {Lease}: reconciling stopped; campaigning again")]
    public static partial void StoppedLeading(ILogger logger, string lease);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "The lease {Lease} is held by {Leader}")]
    public static partial void NewLeader(ILogger logger, string lease, string leader);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Warning, Message = "Leader election on {Lease} failed: {Error}; retrying")]
    public static partial void LeaderElectionFailed(ILogger logger, string lease, string error, Exception? exception);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Information, Message = "Released the lease {Lease} on shutdown")]
    public static partial void ReleasedLease(ILogger logger, string lease);

    [LoggerMessage(EventId = 5010, Level = LogLevel.Warning, Message = "Reconciling {Controller} {Key} failed: {Error}; retrying in {Delay}")]
    public static partial void ReconcileFailed(ILogger logger, string controller, string key, TimeSpan delay, string error, Exception? exception);

    [LoggerMessage(EventId = 5011, Level = LogLevel.Debug, Message = "{Verb} {Resource} {Key}")]
    public static partial void Wrote(ILogger logger, string verb, string resource, string key);

    [LoggerMessage(EventId = 5012, Level = LogLevel.Debug, Message = "Recording the event {Reason} on {Kind} {Key} failed: {Error}")]
    public static partial void EventFailed(ILogger logger, string reason, string kind, string key, string error);

    [LoggerMessage(EventId = 5020, Level = LogLevel.Warning, Message = "HTTPScaledObject {Key} uses the deprecated http.keda.sh/v1alpha1 API; InterceptorRoute (http.keda.sh/v1beta1) replaces it")]
    public static partial void HttpScaledObjectDeprecated(ILogger logger, string key);

    [LoggerMessage(EventId = 5021, Level = LogLevel.Warning, Message = "{Kind} {Key} is not ready: {Reason}: {Message}")]
    public static partial void NotReady(ILogger logger, string kind, string key, string reason, string message);
}
