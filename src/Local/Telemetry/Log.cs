namespace Updraft.Local.Telemetry;

internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Warning, "{Workload}: the scaler still does not answer, so the replica count stays: {Problem}")]
    public static partial void ScalerProblem(ILogger logger, string workload, string problem);

    [LoggerMessage(9, LogLevel.Information, "{Workload}: the scaler does not answer ({Problem}); the replica count stays, asking again")]
    public static partial void ScalerNotAnsweringYet(ILogger logger, string workload, string problem);

    [LoggerMessage(2, LogLevel.Information, "{Workload}: the scaler answers again")]
    public static partial void ScalerAnswering(ILogger logger, string workload);

    [LoggerMessage(3, LogLevel.Information, "replicas feed on {Address}; scaler at {Scaler}; {Workloads} workloads from {RoutesFile}")]
    public static partial void Listening(ILogger logger, string address, string scaler, int workloads, string routesFile);

    [LoggerMessage(4, LogLevel.Warning, "{Workload} is named by no route, so nothing scales it from {Min} replicas")]
    public static partial void WorkloadWithoutRoutes(ILogger logger, string workload, int min);

    [LoggerMessage(5, LogLevel.Information, "interceptor {Peer} follows the replicas feed")]
    public static partial void SubscriberJoined(ILogger logger, string peer);

    [LoggerMessage(6, LogLevel.Information, "interceptor {Peer} left the replicas feed")]
    public static partial void SubscriberLeft(ILogger logger, string peer);

    [LoggerMessage(7, LogLevel.Warning, "not every interceptor confirmed snapshot {Version} within {Timeout}; stopping the replica anyway")]
    public static partial void ApplyTimedOut(ILogger logger, ulong version, string timeout);

    [LoggerMessage(11, LogLevel.Information, "{Workload}: stopping its replicas {Reason}")]
    public static partial void WorkloadLeaving(ILogger logger, string workload, string reason);

    [LoggerMessage(12, LogLevel.Information, "{Workload}: added from the routes file, scaled by {Routes} route(s)")]
    public static partial void WorkloadAdded(ILogger logger, string workload, int routes);

    [LoggerMessage(10, LogLevel.Warning, "the routes file has problems; the workloads run as they were: {Problem}")]
    public static partial void RoutesFileProblem(ILogger logger, string problem);
}
