namespace Updraft.Interceptor.Options;

/// <summary>
/// Interceptor settings. Bound from the add-on's environment variables (same names, same defaults) by
/// <see cref="InterceptorOptionsBinder"/>; a value that does not parse fails start-up, naming the variable.
/// </summary>
internal sealed class InterceptorOptions
{
    /// <summary><c>KEDA_HTTP_PROXY_PORT</c>: the plain proxy listener. 0 picks a free port.</summary>
    public int ProxyPort { get; set; } = 8080;

    /// <summary><c>KEDA_HTTP_ADMIN_PORT</c>: <c>/queue</c>, <c>/readyz</c>, <c>/livez</c>.</summary>
    public int AdminPort { get; set; } = 9090;

    /// <summary><c>OTEL_PROM_EXPORTER_PORT</c>: Prometheus <c>/metrics</c>.</summary>
    public int MetricsPort { get; set; } = 2223;

    /// <summary><c>OTEL_PROM_EXPORTER_ENABLED</c>.</summary>
    public bool MetricsEnabled { get; set; } = true;

    /// <summary>The OpenTelemetry switches (<c>OTEL_EXPORTER_OTLP_TRACES_ENABLED</c>, ...); all off by default.</summary>
    public Updraft.Shared.Telemetry.OpenTelemetrySettings Telemetry { get; set; } = Updraft.Shared.Telemetry.OpenTelemetrySettings.Off;

    /// <summary><c>UPDRAFT_BIND_ADDRESS</c>: the address the proxy listeners bind, and the others unless set apart below;
    /// all interfaces by default.</summary>
    public string BindAddress { get; set; } = "*";

    /// <summary><c>UPDRAFT_ADMIN_BIND_ADDRESS</c>: the admin listener's address (<c>/queue</c>, the count stream, probes);
    /// <see cref="BindAddress"/> when unset.</summary>
    public string AdminBindAddress { get; set; } = "*";

    /// <summary><c>UPDRAFT_METRICS_BIND_ADDRESS</c>: the metrics listener's address; <see cref="BindAddress"/> when unset.</summary>
    public string MetricsBindAddress { get; set; } = "*";

    /// <summary><c>UPDRAFT_ROUTES_FILE</c> or <c>--routes</c>: standalone mode's routes file.</summary>
    public string? RoutesFile { get; set; }

    /// <summary><c>KEDA_HTTP_REQUEST_TIMEOUT</c>: whole-request deadline; zero is off.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.Zero;

    /// <summary><c>KEDA_HTTP_RESPONSE_HEADER_TIMEOUT</c>: request sent → response headers; zero is off.</summary>
    public TimeSpan ResponseHeaderTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary><c>UPDRAFT_MAX_COUNT_STREAMS</c>: count streams (<c>WatchCounts</c>, one per scaler replica) open at once.</summary>
    public int MaxCountStreams { get; set; } = 64;

    /// <summary><c>UPDRAFT_IDLE_TIMEOUT</c>: how long a forwarded request may go without a byte moving either way (a
    /// client that stops reading, an upstream that stalls mid-body, a stalled upload); never shorter than the route's
    /// response-header timeout, which governs the wait for the first byte. Zero is off.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary><c>KEDA_HTTP_READINESS_TIMEOUT</c>: cold-start wait for a ready endpoint; zero is off.</summary>
    public TimeSpan ReadinessTimeout { get; set; } = TimeSpan.Zero;

    /// <summary><c>KEDA_HTTP_COLD_START_MAX_PENDING_REQUESTS</c>: requests held per route while its target is not ready
    /// (a route's <c>coldStart.maxPendingRequests</c> wins); zero is unlimited.</summary>
    public int ColdStartMaxPendingRequests { get; set; }

    /// <summary><c>KEDA_HTTP_CONNECT_TIMEOUT</c>: one TCP connect attempt; failed attempts retry every 50 ms.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary><c>KEDA_HTTP_MAX_IDLE_CONNS</c>: idle upstream connections the lean path keeps in all; zero is no limit
    /// (as in Go). The YARP path's pool has no idle cap (see README).</summary>
    public int MaxIdleConnections { get; set; } = 1000;

    /// <summary><c>KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST</c>: idle upstream connections the lean path keeps per address; zero
    /// is Go's default, 2.</summary>
    public int MaxIdleConnectionsPerHost { get; set; } = 200;

    /// <summary><c>KEDA_HTTP_ROUTING_TABLE_REFRESH_INTERVAL</c>: how often the route sources are checked, and a watch that
    /// has shown nothing for this long is restarted (Kubernetes mode).</summary>
    public TimeSpan RoutingTableRefreshInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary><c>KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS</c>: <c>/readyz</c> answers 503 when the routing table has not been
    /// confirmed current for longer (see <see cref="Routing.RouteFreshness"/>).</summary>
    public TimeSpan RoutingTableMaxStaleness { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary><c>KEDA_HTTP_LOG_REQUESTS</c>: one access-log line per request on stdout (see <see cref="AccessLog.AccessLogFormat"/>).</summary>
    public bool LogRequests { get; set; }

    /// <summary><c>KEDA_HTTP_ENABLE_COLD_START_HEADER</c>: add <c>X-KEDA-HTTP-Cold-Start</c>.</summary>
    public bool EnableColdStartHeader { get; set; } = true;

    /// <summary><c>KEDA_HTTP_DRAIN_TIMEOUT</c>: how long in-flight requests may finish at shutdown; zero waits for all.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary><c>KEDA_HTTP_SHUTDOWN_DELAY</c>: SIGTERM → listener close, while <c>/readyz</c> already says 503.</summary>
    public TimeSpan ShutdownDelay { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary><c>UPDRAFT_REQUEST_HEADERS_TIMEOUT</c>: how long a client may take to send a request head (slowloris guard).</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// <c>UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL</c>: how often a quiet interceptor hands the memory its GC holds unused back
    /// to the OS (see <see cref="Hosting.IdleMemoryRelease"/>); zero is off.
    /// </summary>
    public TimeSpan IdleMemoryReleaseInterval { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary><c>UPDRAFT_INLINE_IO</c>: handle requests on the socket threads (see <see cref="Hosting.InlineIo"/>).</summary>
    public bool InlineIo { get; set; } = true;

    /// <summary>
    /// <c>UPDRAFT_TRANSPORT</c>: who reads and writes client and upstream connections (see <see cref="Transport.TransportSetting"/>);
    /// the epoll transport wherever it runs.
    /// </summary>
    public Transport.TransportKind Transport { get; set; } = Updraft.Interceptor.Transport.LinuxSockets.IsSupported
        ? Updraft.Interceptor.Transport.TransportKind.Epoll
        : Updraft.Interceptor.Transport.TransportKind.Sockets;

    /// <summary>
    /// <c>UPDRAFT_LEAN_FORWARDING</c>: forward plain HTTP/1.1 requests without a body over the interceptor's own
    /// upstream connections instead of YARP's (see <see cref="Forwarding.Http1.Http1Forwarder"/>).
    /// </summary>
    public bool LeanForwarding { get; set; } = true;

    /// <summary><c>KEDA_HTTP_DIRECT_POD_ROUTING</c> (Kubernetes mode): forward to a ready pod's address rather than the
    /// Service's DNS name (the add-on's v0.16 default).</summary>
    public bool DirectPodRouting { get; set; } = true;

    /// <summary>Mode switch, kubeconfig and watched namespace (<c>UPDRAFT_MODE</c>, <c>UPDRAFT_KUBECONFIG</c>,
    /// <c>KEDA_HTTP_WATCH_NAMESPACE</c>).</summary>
    public Updraft.Kubernetes.Hosting.ClusterSettings Cluster { get; set; } = new();

    /// <summary>Watch timings; <c>UPDRAFT_KUBE_RETRY_MAX</c> caps the back-off between failed API calls (default 5 s).</summary>
    public Updraft.Kubernetes.Watching.WatchTuning? WatchTuning { get; set; }

    /// <summary><c>UPDRAFT_LOCAL_REPLICAS</c> (standalone mode): the local autoscaler's replicas feed, which routes that
    /// name a local workload follow; null when unset.</summary>
    public Local.ReplicaAddress? LocalReplicas { get; set; }

    /// <summary>The TLS listener (<c>KEDA_HTTP_PROXY_TLS_*</c>, <c>KEDA_HTTP_TLS_*</c>).</summary>
    public Tls.TlsSettings Tls { get; } = new();

    /// <summary>Settings given under both a current and a legacy name: (the one used, the one ignored); warned about at start-up.</summary>
    internal List<(string Used, string Ignored)> OverriddenSettings { get; } = [];

    /// <summary>Problems found while binding; reported by <see cref="InterceptorOptionsValidator"/> at start-up.</summary>
    internal List<string> BindingProblems { get; } = [];
}
