namespace Updraft.ExternalScaler.Telemetry;

/// <summary>The scaler's log messages; event ids are stable.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Scaler listening: gRPC :{GrpcPort}, metrics :{MetricsPort}")]
    public static partial void Listening(ILogger logger, int grpcPort, int metricsPort);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Server streams: at most {PerConnection} per connection, {Total} in all")]
    public static partial void StreamLimits(ILogger logger, int perConnection, int total);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Loaded {RouteCount} routes from {RoutesFile}")]
    public static partial void RoutesLoaded(ILogger logger, int routeCount, string routesFile);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "No routes file (--routes / UPDRAFT_ROUTES_FILE): HTTP triggers have no routes; backlog sources work as usual")]
    public static partial void NoRouteSource(ILogger logger);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Routes file {RoutesFile} was not applied; the previous routes stay in force: {Problem}")]
    public static partial void RoutesReloadFailed(ILogger logger, string routesFile, string problem);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Routes file {RoutesFile} now has no routes (it had {PreviousCount}); HTTP triggers get NotFound until routes are added")]
    public static partial void RoutesDroppedToZero(ILogger logger, string routesFile, int previousCount);

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "Interceptor {Address}: receiving counts over the push stream")]
    public static partial void ReplicaStreaming(ILogger logger, string address);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Interceptor {Address}: {Problem}")]
    public static partial void ReplicaProblem(ILogger logger, string address, string problem);

    [LoggerMessage(EventId = 13, Level = LogLevel.Information, Message = "Interceptor {Address} is not reachable ({Reason}); connecting as soon as it is")]
    public static partial void ReplicaUnreachable(ILogger logger, string address, string reason);

    [LoggerMessage(EventId = 14, Level = LogLevel.Information, Message = "Interceptor {Address} ended the count stream (it is shutting down)")]
    public static partial void ReplicaStreamEnded(ILogger logger, string address);

    [LoggerMessage(EventId = 15, Level = LogLevel.Information, Message = "Interceptor {Address} is draining; polling /queue until it stops")]
    public static partial void ReplicaDraining(ILogger logger, string address);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Interceptor replicas: {Added} added, {Removed} removed, {Count} in all")]
    public static partial void ReplicasChanged(ILogger logger, int added, int removed, int count);

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "{Rpc} for {Namespace}/{Name} failed: {Status} {Detail}")]
    public static partial void RpcFailed(ILogger logger, string rpc, string @namespace, string name, Grpc.Core.StatusCode status, string detail);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "{Refused} server streams refused with ResourceExhausted since the last such message (one a minute at most); the latest, {Method}: {Reason}")]
    public static partial void StreamsRefused(ILogger logger, long refused, string method, string reason);

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "Kubernetes mode: watching InterceptorRoutes and HTTPScaledObjects in {Scope}")]
    public static partial void WatchingRoutes(ILogger logger, string scope);

    [LoggerMessage(EventId = 31, Level = LogLevel.Information, Message = "Routes from the cluster: {RouteCount} routes, {RejectedCount} objects skipped")]
    public static partial void ClusterRoutesSynced(ILogger logger, int routeCount, int rejectedCount);

    [LoggerMessage(EventId = 32, Level = LogLevel.Debug, Message = "Routes rebuilt: {RouteCount} routes, {RejectedCount} objects skipped")]
    public static partial void ClusterRoutesBuilt(ILogger logger, int routeCount, int rejectedCount);

    [LoggerMessage(EventId = 35, Level = LogLevel.Debug, Message = "Routes resynced from the watches: {RouteCount} routes, {RejectedCount} objects skipped")]
    public static partial void ClusterRoutesResynced(ILogger logger, int routeCount, int rejectedCount);

    [LoggerMessage(EventId = 33, Level = LogLevel.Information, Message = "Kubernetes mode: interceptor replicas are the endpoints of Service {Service}, admin port {Port}")]
    public static partial void WatchingInterceptorService(ILogger logger, string service, int port);

    [LoggerMessage(EventId = 34, Level = LogLevel.Information, Message = "Interceptor Service {Service} listed: {Count} replicas")]
    public static partial void InterceptorsListed(ILogger logger, string service, int count);

    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Tracing on (OTEL_EXPORTER_OTLP_TRACES_ENABLED): {Description}")]
    public static partial void TracingOn(ILogger logger, string description);

    [LoggerMessage(EventId = 41, Level = LogLevel.Information, Message = "OTEL_EXPORTER_OTLP_METRICS_ENABLED: pushing the {Meter} meter (scaler.pinger.fetch.duration, scaler.pinger.fetch.errors, scaler.pinger.endpoints, scaler.pinger.unreachable_pods) and {RuntimeMeter} over OTLP; /metrics is unchanged")]
    public static partial void OtlpMetricsOn(ILogger logger, string meter, string runtimeMeter);
}
