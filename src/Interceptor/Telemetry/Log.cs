using Yarp.ReverseProxy.Forwarder;

namespace Updraft.Interceptor.Telemetry;

/// <summary>Every log line the interceptor writes. Event ids are stable; nothing above Debug runs per successful request.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Interceptor listening: proxy port {ProxyPort}, admin port {AdminPort}, metrics port {MetricsPort} (0: metrics off); inline I/O {InlineIo}")]
    public static partial void Listening(ILogger logger, int proxyPort, int adminPort, int metricsPort, string inlineIo);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Loaded {RouteCount} routes from {RoutesFile}")]
    public static partial void RoutesLoaded(ILogger logger, int routeCount, string routesFile);

    [LoggerMessage(EventId = 3, Level = LogLevel.Error, Message = "Routes file {RoutesFile} was not applied; the previous routes stay in force: {Problem}")]
    public static partial void RoutesReloadFailed(ILogger logger, string routesFile, string problem);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "Watching {RoutesFile}: {Problem}")]
    public static partial void RoutesWatchFailed(ILogger logger, string routesFile, string problem);

    [LoggerMessage(EventId = 6, Level = LogLevel.Warning, Message = "Routes file {RoutesFile} now has no routes (it had {PreviousCount}); every request is answered 404 until routes are added")]
    public static partial void RoutesDroppedToZero(ILogger logger, string routesFile, int previousCount);

    [LoggerMessage(EventId = 10, Level = LogLevel.Debug, Message = "No route for host {Host} path {Path}")]
    public static partial void NoRoute(ILogger logger, string host, string path);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Upstream {Upstream} for route {Route} failed ({Error}); answered {StatusCode}")]
    public static partial void UpstreamFailed(ILogger logger, string upstream, string route, string error, int statusCode, Exception? exception);

    [LoggerMessage(EventId = 12, Level = LogLevel.Debug, Message = "Client went away during a request to route {Route} (499)")]
    public static partial void ClientClosedRequest(ILogger logger, string route);

    [LoggerMessage(EventId = 13, Level = LogLevel.Debug, Message = "Connect to {Endpoint} failed ({Error}); retrying in {RetryDelay}")]
    public static partial void ConnectRetry(ILogger logger, string endpoint, string error, TimeSpan retryDelay);

    [LoggerMessage(EventId = 14, Level = LogLevel.Information, Message = "Draining: readiness is now 503; serving for {ShutdownDelay} more, then finishing in-flight requests for up to {DrainTimeout}")]
    public static partial void Draining(ILogger logger, TimeSpan shutdownDelay, TimeSpan drainTimeout);

    [LoggerMessage(EventId = 15, Level = LogLevel.Warning, Message = "TLS: {Problem}")]
    public static partial void CertificateProblem(ILogger logger, string problem);

    [LoggerMessage(EventId = 16, Level = LogLevel.Information, Message = "TLS: reloaded {CertificatePath} ({Subject}, valid until {NotAfter:O})")]
    public static partial void CertificateReloaded(ILogger logger, string certificatePath, string subject, DateTime notAfter);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "Both {UsedVariable} and {IgnoredVariable} are set; {UsedVariable} is used and {IgnoredVariable} is ignored")]
    public static partial void SettingOverridden(ILogger logger, string usedVariable, string ignoredVariable);

    [LoggerMessage(EventId = 18, Level = LogLevel.Debug, Message = "Rejected a {Method} request for host {Host} before routing ({Reason}): {StatusCode}")]
    public static partial void RequestRejected(ILogger logger, string method, string host, string reason, int statusCode);

    [LoggerMessage(EventId = 19, Level = LogLevel.Debug, Message = "Upstream {Upstream} answered an HTTP/2 client's WebSocket request with {UpstreamStatus} instead of switching protocols; answered {StatusCode}")]
    public static partial void WebSocketNotUpgraded(ILogger logger, string upstream, int upstreamStatus, int statusCode);

    [LoggerMessage(EventId = 20, Level = LogLevel.Debug, Message = "Route {Route} is waiting for {Endpoint} to become ready")]
    public static partial void ColdStartWaiting(ILogger logger, string route, string endpoint);

    [LoggerMessage(EventId = 21, Level = LogLevel.Debug, Message = "Route {Route}: {Endpoint} did not become ready in time (504)")]
    public static partial void ColdStartTimedOut(ILogger logger, string route, string endpoint);

    [LoggerMessage(EventId = 22, Level = LogLevel.Debug, Message = "Route {Route}: readiness timeout passed; forwarding to fallback {Fallback}")]
    public static partial void ColdStartFallback(ILogger logger, string route, string fallback);

    [LoggerMessage(EventId = 23, Level = LogLevel.Debug, Message = "Route {Route}: hold queue full ({Limit} pending); request rejected")]
    public static partial void ColdStartRejected(ILogger logger, string route, int limit);

    [LoggerMessage(EventId = 24, Level = LogLevel.Information, Message = "Upstream {Endpoint} is ready")]
    public static partial void EndpointReady(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 25, Level = LogLevel.Information, Message = "Upstream {Endpoint} refused a connection; requests wait until it accepts")]
    public static partial void EndpointNotReady(ILogger logger, string endpoint);

    [LoggerMessage(EventId = 26, Level = LogLevel.Warning, Message = "Route {Route}: {Field} needs a Kubernetes ConfigMap, which standalone mode cannot read; that response is answered with 500")]
    public static partial void ConfigMapBodyUnavailable(ILogger logger, string route, string field);

    [LoggerMessage(EventId = 40, Level = LogLevel.Information, Message = "Route {Route}: nothing moved for {IdleTimeout} on a forwarded request ({Error}, UPDRAFT_IDLE_TIMEOUT); it was ended ({StatusCode})")]
    public static partial void IdleTimeout(ILogger logger, string route, TimeSpan idleTimeout, Yarp.ReverseProxy.Forwarder.ForwarderError error, int statusCode);

    [LoggerMessage(EventId = 27, Level = LogLevel.Debug, Message = "Route {Route}: the client's request body failed ({Error}); answered 400")]
    public static partial void ClientRequestBodyFailed(ILogger logger, string route, ForwarderError error, Exception? exception);

    [LoggerMessage(EventId = 50, Level = LogLevel.Information, Message = "Tracing on (OTEL_EXPORTER_OTLP_TRACES_ENABLED): {Description}")]
    public static partial void TracingOn(ILogger logger, string description);

    [LoggerMessage(EventId = 51, Level = LogLevel.Information, Message = "OTEL_EXPORTER_OTLP_METRICS_ENABLED: pushing the {Meter} meter (interceptor.request.count, interceptor.request.duration, interceptor.request.concurrency) and {RuntimeMeter} over OTLP; /metrics is unchanged")]
    public static partial void OtlpMetricsOn(ILogger logger, string meter, string runtimeMeter);

    [LoggerMessage(EventId = 60, Level = LogLevel.Information, Message = "Local replicas feed {Address}: connected; snapshot {Version} in force ({Workloads} workloads, {Replicas} ready replicas)")]
    public static partial void LocalFeedConnected(ILogger logger, string address, ulong version, int workloads, int replicas);

    [LoggerMessage(EventId = 61, Level = LogLevel.Warning, Message = "Local replicas feed {Address}: lost ({Reason}); the last snapshot stays in force while it is dialled again")]
    public static partial void LocalFeedLost(ILogger logger, string address, string reason);

    // Information first: the interceptor and the local autoscaler start together, in either order.
    [LoggerMessage(EventId = 62, Level = LogLevel.Information, Message = "Local replicas feed {Address}: not reachable yet ({Reason}); requests to local workloads wait until it is; dialling again with back-off up to 5 s")]
    public static partial void LocalFeedUnreachable(ILogger logger, string address, string reason);

    [LoggerMessage(EventId = 68, Level = LogLevel.Warning, Message = "Local replicas feed {Address}: still not reachable after {After} ({Reason}); is the local autoscaler (updraft-local) running there?")]
    public static partial void LocalFeedStillUnreachable(ILogger logger, string address, string after, string reason);

    [LoggerMessage(EventId = 63, Level = LogLevel.Warning, Message = "Local replicas feed {Address}: snapshot {Version} has {Skipped} malformed entries, skipped (the rest is applied): {Examples}")]
    public static partial void LocalFeedEntriesSkipped(ILogger logger, string address, ulong version, int skipped, string examples);

    [LoggerMessage(EventId = 64, Level = LogLevel.Error, Message = "Local replicas feed {Address}: snapshot {Version} refused ({Refusal}); the stream is dropped and dialled again, the last snapshot stays in force")]
    public static partial void LocalFeedSnapshotRefused(ILogger logger, string address, ulong version, string refusal);

    [LoggerMessage(EventId = 65, Level = LogLevel.Debug, Message = "Local replicas snapshot {Version} in force ({Workloads} workloads)")]
    public static partial void LocalFeedSnapshotApplied(ILogger logger, ulong version, int workloads);

    [LoggerMessage(EventId = 66, Level = LogLevel.Warning, Message = "Route {Route} targets local workload {Workload}, but UPDRAFT_LOCAL_REPLICAS is not set: its requests wait and time out as for a target that is not ready")]
    public static partial void LocalWorkloadWithoutFeed(ILogger logger, string route, string workload);

    [LoggerMessage(EventId = 67, Level = LogLevel.Error, Message = "Local replicas feed {Address}: a snapshot over {Limit} bytes refused ({Detail}); the stream is dropped and dialled again, the last snapshot stays in force")]
    public static partial void LocalFeedSnapshotTooLarge(ILogger logger, string address, int limit, string detail);

    [LoggerMessage(EventId = 68, Level = LogLevel.Debug, Message = "Quiet for {Interval}: handed the GC's unused memory back in {Milliseconds:F1} ms, working set {BeforeBytes} → {AfterBytes} bytes")]
    public static partial void IdleMemoryReleased(ILogger logger, TimeSpan interval, long beforeBytes, long afterBytes, double milliseconds);

    [LoggerMessage(EventId = 69, Level = LogLevel.Trace, Message = "Memory: {IntervalBytes} bytes allocated in the last {Interval}, {SinceReleaseBytes} since the last release; the GC held {UnusedBytes} bytes unused at its last collection")]
    public static partial void IdleMemoryLooked(ILogger logger, TimeSpan interval, long intervalBytes, long sinceReleaseBytes, long unusedBytes);
}
