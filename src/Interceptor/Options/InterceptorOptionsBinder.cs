using Updraft.Shared.Settings;
using Updraft.Shared.Telemetry;

namespace Updraft.Interceptor.Options;

/// <summary>Reads the add-on's flat environment variable names into <see cref="InterceptorOptions"/>.</summary>
internal static class InterceptorOptionsBinder
{
    public const string RoutesFileVariable = "UPDRAFT_ROUTES_FILE";
    public const string RefreshIntervalVariable = "KEDA_HTTP_ROUTING_TABLE_REFRESH_INTERVAL";
    public const string MaxStalenessVariable = "KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS";
    public const string IdleMemoryReleaseVariable = "UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL";

    public static void Bind(IConfiguration configuration, InterceptorOptions options)
    {
        var reader = new SettingReader(name => configuration[name], options.BindingProblems);
        options.ProxyPort = reader.Port("KEDA_HTTP_PROXY_PORT", options.ProxyPort);
        options.AdminPort = reader.Port("KEDA_HTTP_ADMIN_PORT", options.AdminPort);
        options.MetricsPort = reader.Port("OTEL_PROM_EXPORTER_PORT", options.MetricsPort);
        options.MetricsEnabled = reader.Boolean("OTEL_PROM_EXPORTER_ENABLED", options.MetricsEnabled);
        options.Telemetry = OpenTelemetrySettings.Read(reader, options.BindingProblems);
        options.BindAddress = reader.BindAddress("UPDRAFT_BIND_ADDRESS", options.BindAddress);
        options.AdminBindAddress = reader.BindAddress("UPDRAFT_ADMIN_BIND_ADDRESS", options.BindAddress);
        options.MetricsBindAddress = reader.BindAddress("UPDRAFT_METRICS_BIND_ADDRESS", options.BindAddress);
        options.RoutesFile = reader.Text(RoutesFileVariable) ?? options.RoutesFile;
        options.RequestTimeout = reader.Duration("KEDA_HTTP_REQUEST_TIMEOUT", options.RequestTimeout);
        options.ResponseHeaderTimeout = reader.Duration("KEDA_HTTP_RESPONSE_HEADER_TIMEOUT", options.ResponseHeaderTimeout);
        options.IdleTimeout = reader.Duration("UPDRAFT_IDLE_TIMEOUT", options.IdleTimeout);
        options.MaxCountStreams = reader.Number("UPDRAFT_MAX_COUNT_STREAMS", options.MaxCountStreams, minimum: 1);
        options.ReadinessTimeout = reader.Duration("KEDA_HTTP_READINESS_TIMEOUT", options.ReadinessTimeout);
        options.ColdStartMaxPendingRequests = reader.Number("KEDA_HTTP_COLD_START_MAX_PENDING_REQUESTS", options.ColdStartMaxPendingRequests, minimum: 0);
        options.ConnectTimeout = reader.Duration("KEDA_HTTP_CONNECT_TIMEOUT", options.ConnectTimeout);
        options.MaxIdleConnections = reader.Number("KEDA_HTTP_MAX_IDLE_CONNS", options.MaxIdleConnections, minimum: 0);
        options.MaxIdleConnectionsPerHost = reader.Number("KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST", options.MaxIdleConnectionsPerHost, minimum: 0);
        options.RoutingTableRefreshInterval = reader.Duration(RefreshIntervalVariable, options.RoutingTableRefreshInterval, minimum: TimeSpan.FromTicks(1));
        options.RoutingTableMaxStaleness = reader.Duration(MaxStalenessVariable, options.RoutingTableMaxStaleness, minimum: TimeSpan.FromTicks(1));
        options.LogRequests = reader.Boolean("KEDA_HTTP_LOG_REQUESTS", options.LogRequests);
        options.EnableColdStartHeader = reader.Boolean("KEDA_HTTP_ENABLE_COLD_START_HEADER", options.EnableColdStartHeader);
        options.DrainTimeout = reader.Duration("KEDA_HTTP_DRAIN_TIMEOUT", options.DrainTimeout);
        options.ShutdownDelay = reader.Duration("KEDA_HTTP_SHUTDOWN_DELAY", options.ShutdownDelay);

        options.DirectPodRouting = reader.Boolean("KEDA_HTTP_DIRECT_POD_ROUTING", options.DirectPodRouting);
        options.Cluster = Updraft.Kubernetes.Hosting.ClusterSettings.Read(reader, options.BindingProblems);
        options.WatchTuning = Updraft.Kubernetes.Watching.WatchTuning.Read(reader);
        options.IdleMemoryReleaseInterval = reader.Duration(IdleMemoryReleaseVariable, options.IdleMemoryReleaseInterval);
        options.RequestHeadersTimeout = reader.Duration("UPDRAFT_REQUEST_HEADERS_TIMEOUT", options.RequestHeadersTimeout, minimum: TimeSpan.FromMilliseconds(100));
        options.InlineIo = reader.Boolean(Hosting.InlineIo.Variable, options.InlineIo);
        options.Transport = Transport.TransportSetting.Read(reader, options.BindingProblems, options.Transport);
        options.LeanForwarding = reader.Boolean(Forwarding.Http1.Http1Forwarder.Variable, options.LeanForwarding);
        options.LocalReplicas = Local.LocalReplicasSetting.Read(reader, options.BindingProblems);
        Tls.TlsSettings.Bind(reader, options.Tls, options.BindingProblems, options.OverriddenSettings);

        // The add-on's deprecated names still win when set above zero, as they do there.
        var conditionWait = reader.Duration("KEDA_CONDITION_WAIT_TIMEOUT", TimeSpan.Zero);
        if (conditionWait > TimeSpan.Zero)
        {
            options.ReadinessTimeout = conditionWait;
        }

        var legacyResponseHeader = reader.Duration("KEDA_RESPONSE_HEADER_TIMEOUT", TimeSpan.Zero);
        if (legacyResponseHeader > TimeSpan.Zero)
        {
            options.ResponseHeaderTimeout = legacyResponseHeader;
        }
    }
}
