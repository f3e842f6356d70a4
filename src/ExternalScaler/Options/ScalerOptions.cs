using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Watching;
using Updraft.Shared.Durations;
using Updraft.Shared.Settings;

namespace Updraft.ExternalScaler.Options;

/// <summary>The scaler's settings: the add-on's variable names and defaults, plus Updraft's own.</summary>
internal sealed class ScalerOptions
{
    public const string RoutesFileVariable = "UPDRAFT_ROUTES_FILE";
    public const string InterceptorsVariable = "UPDRAFT_INTERCEPTORS";
    public const string AdminServiceVariable = "KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE";
    public const string AdminNamespaceVariable = "KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE";
    public const string AdminPortVariable = "KEDA_HTTP_SCALER_TARGET_ADMIN_PORT";
    public const string MaxStreamsVariable = "UPDRAFT_SCALER_MAX_STREAMS";
    public const string MaxStreamsPerConnectionVariable = "UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION";

    /// <summary>The add-on's (misnamed) cache resync period, read by its scaler and interceptor alike.</summary>
    public const string ResyncPeriodVariable = "KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD";

    /// <summary>The shortest resync period accepted (other than 0, which turns resyncs off).</summary>
    public static readonly TimeSpan MinimumResyncPeriod = TimeSpan.FromSeconds(1);

    /// <summary>The longest resync period accepted (a timer cannot wait much beyond 49 days).</summary>
    public static readonly TimeSpan MaximumResyncPeriod = TimeSpan.FromDays(30);

    /// <summary>The largest stream limit accepted (Kestrel's HTTP/2 limit is set a little above it).</summary>
    public const int StreamLimitCeiling = 1_000_000;

    /// <summary>The default limit per connection: KEDA keeps one <c>StreamIsActive</c> per push trigger on one connection.</summary>
    public const int DefaultMaxStreamsPerConnection = 10_000;

    /// <summary><c>KEDA_HTTP_SCALER_PORT</c>: the gRPC listener KEDA dials.</summary>
    public int GrpcPort { get; set; } = 9090;

    /// <summary><c>OTEL_PROM_EXPORTER_PORT</c>.</summary>
    public int MetricsPort { get; set; } = 2223;

    public bool MetricsEnabled { get; set; } = true;

    /// <summary>The OpenTelemetry switches (<c>OTEL_EXPORTER_OTLP_TRACES_ENABLED</c>, ...); all off by default.</summary>
    public Updraft.Shared.Telemetry.OpenTelemetrySettings Telemetry { get; set; } = Updraft.Shared.Telemetry.OpenTelemetrySettings.Off;

    /// <summary><c>UPDRAFT_BIND_ADDRESS</c>: the gRPC listener's address (and the metrics listener's unless set apart):
    /// <c>*</c>, <c>localhost</c> or an IP address.</summary>
    public string BindAddress { get; set; } = "*";

    /// <summary><c>UPDRAFT_METRICS_BIND_ADDRESS</c>: the metrics listener's address; <see cref="BindAddress"/> when unset.</summary>
    public string MetricsBindAddress { get; set; } = "*";

    /// <summary><c>KEDA_HTTP_QUEUE_TICK_DURATION</c>: how often counts are aggregated and <c>/queue</c> polled.</summary>
    public TimeSpan QueueTick { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary><c>KEDA_HTTP_SCALER_STREAM_INTERVAL_MS</c>: the interval of the interceptors' count stream.</summary>
    public TimeSpan StreamInterval { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary><c>UPDRAFT_SCALER_REPLAY_LIMIT</c>: how long a silent replica's last concurrency still counts.</summary>
    public TimeSpan ReplayLimit { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// <c>UPDRAFT_SCALER_MAX_STREAMS</c>: server streams open at once over every connection. Each costs about 9 KB of
    /// heap (15–20 KB of working set), so the default holds the scaler to some 300–400 MB above its baseline.
    /// </summary>
    public int MaxStreams { get; set; } = 2 * DefaultMaxStreamsPerConnection;

    /// <summary>
    /// <c>UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION</c>: server streams open at once on one client connection; by
    /// default 10,000 (KEDA's one stream per push-triggered ScaledObject), and never more than <see cref="MaxStreams"/>.
    /// </summary>
    public int MaxStreamsPerConnection { get; set; } = DefaultMaxStreamsPerConnection;

    /// <summary><c>--routes</c> / <c>UPDRAFT_ROUTES_FILE</c> (standalone mode).</summary>
    public string? RoutesFile { get; set; }

    /// <summary>
    /// <c>--interceptors</c> / <c>UPDRAFT_INTERCEPTORS</c>: admin addresses <c>host:port</c> (standalone mode). In
    /// Kubernetes mode the replicas are discovered from <see cref="AdminService"/>; setting both fails start-up
    /// rather than silently ignoring one (a fixed list would miss every replica the Deployment adds).
    /// </summary>
    public IReadOnlyList<string> Interceptors { get; set; } = [];

    /// <summary>
    /// <c>KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE</c> (Kubernetes mode): the interceptors' admin Service, whose
    /// EndpointSlices list the replicas.
    /// </summary>
    public string AdminService { get; set; } = "keda-add-ons-http-interceptor-admin";

    /// <summary>
    /// <c>KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE</c> (Kubernetes mode): the admin Service's namespace; when unset, the
    /// pod's own namespace (required outside a pod).
    /// </summary>
    public string? AdminNamespace { get; set; }

    /// <summary><c>KEDA_HTTP_SCALER_TARGET_ADMIN_PORT</c> (Kubernetes mode): the admin port dialled on each replica's pod IP.</summary>
    public int AdminPort { get; set; } = 9090;

    /// <summary>
    /// <c>KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD</c> (Kubernetes mode): how often the route table is rebuilt
    /// from the watches' copies of the cluster's objects even when no event arrived, as the add-on's cache resync
    /// re-delivers its objects; <see cref="TimeSpan.Zero"/> turns it off.
    /// </summary>
    public TimeSpan ResyncPeriod { get; set; } = TimeSpan.FromMinutes(60);

    /// <summary>Whether <see cref="ResyncPeriodVariable"/> was set (it means nothing in standalone mode, where it fails start-up).</summary>
    public bool ResyncPeriodGiven { get; set; }

    /// <summary>Watch timings (Kubernetes mode); <c>UPDRAFT_KUBE_RETRY_MAX</c> caps the back-off between failed API calls, as for the interceptor.</summary>
    public WatchTuning WatchTuning { get; set; } = WatchTuning.Default;

    /// <summary>Problems found while binding, reported by validation at start-up.</summary>
    public List<string> BindingProblems { get; } = [];

    /// <summary>
    /// A replica counts as fresh while its last report is younger than this: two ticks or five stream intervals, and
    /// never less than a second, so a pause on a busy node does not read as an outage.
    /// </summary>
    public TimeSpan FreshFor => TimeSpan.FromTicks(Math.Max(Math.Max(2 * QueueTick.Ticks, 5 * StreamInterval.Ticks), TimeSpan.TicksPerSecond));

    public static void Bind(Func<string, string?> lookup, ScalerOptions options)
    {
        var reader = new SettingReader(lookup, options.BindingProblems);
        options.GrpcPort = reader.Port("KEDA_HTTP_SCALER_PORT", options.GrpcPort);
        options.MetricsPort = reader.Port("OTEL_PROM_EXPORTER_PORT", options.MetricsPort);
        options.MetricsEnabled = reader.Boolean("OTEL_PROM_EXPORTER_ENABLED", options.MetricsEnabled);
        options.Telemetry = Updraft.Shared.Telemetry.OpenTelemetrySettings.Read(reader, options.BindingProblems);
        options.BindAddress = reader.BindAddress("UPDRAFT_BIND_ADDRESS", options.BindAddress);
        options.MetricsBindAddress = reader.BindAddress("UPDRAFT_METRICS_BIND_ADDRESS", options.BindAddress);
        options.QueueTick = reader.Duration("KEDA_HTTP_QUEUE_TICK_DURATION", options.QueueTick, TimeSpan.FromMilliseconds(10));
        var streamMs = reader.Number("KEDA_HTTP_SCALER_STREAM_INTERVAL_MS", (int)options.StreamInterval.TotalMilliseconds, minimum: 10);
        options.StreamInterval = TimeSpan.FromMilliseconds(streamMs);
        options.ReplayLimit = reader.Duration("UPDRAFT_SCALER_REPLAY_LIMIT", options.ReplayLimit);
        BindStreamLimits(reader, options);
        options.RoutesFile = reader.Text(RoutesFileVariable) ?? options.RoutesFile;
        if (reader.Text(InterceptorsVariable) is { } interceptors)
        {
            options.Interceptors = ParseAddresses(interceptors, options.BindingProblems);
        }

        options.AdminService = reader.Text(AdminServiceVariable) ?? options.AdminService;
        if (!KubernetesNames.IsDns1035Label(options.AdminService))
        {
            options.BindingProblems.Add($"{AdminServiceVariable}=\"{options.AdminService}\" is not a Service name; use lower-case letters, digits and '-', starting with a letter, at most 63 characters");
        }

        options.AdminNamespace = reader.Text(AdminNamespaceVariable) ?? options.AdminNamespace;
        if (options.AdminNamespace is { } ns && !KubernetesNames.IsDns1123Label(ns))
        {
            options.BindingProblems.Add($"{AdminNamespaceVariable}=\"{ns}\" is not a namespace name; use lower-case letters, digits and '-', at most 63 characters");
        }

        options.AdminPort = AdminPortSetting(reader.Text(AdminPortVariable), options.AdminPort, options.BindingProblems);
        options.WatchTuning = WatchTuning.Read(reader);
        BindResyncPeriod(reader, options);
    }

    private static void BindResyncPeriod(SettingReader reader, ScalerOptions options)
    {
        var text = reader.Text(ResyncPeriodVariable);
        options.ResyncPeriodGiven = text is not null;
        var period = reader.Duration(ResyncPeriodVariable, options.ResyncPeriod);
        if ((period > TimeSpan.Zero && period < MinimumResyncPeriod) || period > MaximumResyncPeriod)
        {
            options.BindingProblems.Add($"{ResyncPeriodVariable}=\"{text}\" is out of range; use 0 to turn resyncs off, or a Go duration from {GoDuration.Format(MinimumResyncPeriod)} to {GoDuration.Format(MaximumResyncPeriod)} (default 60m)");
            return;
        }

        options.ResyncPeriod = period;
    }

    /// <summary>
    /// The two stream limits. A connection's limit left unset follows a lower total; both set, a connection's limit
    /// above the total is a mistake (it could never be reached) and fails start-up.
    /// </summary>
    private static void BindStreamLimits(SettingReader reader, ScalerOptions options)
    {
        var totalText = reader.Text(MaxStreamsVariable);
        var perConnectionText = reader.Text(MaxStreamsPerConnectionVariable);
        options.MaxStreams = StreamLimit(MaxStreamsVariable, totalText, options.MaxStreams, options.BindingProblems);
        options.MaxStreamsPerConnection = StreamLimit(MaxStreamsPerConnectionVariable, perConnectionText, options.MaxStreamsPerConnection, options.BindingProblems);
        if (options.MaxStreamsPerConnection <= options.MaxStreams)
        {
            return;
        }

        if (totalText is not null && perConnectionText is not null)
        {
            options.BindingProblems.Add($"{MaxStreamsPerConnectionVariable}=\"{perConnectionText}\" is more than {MaxStreamsVariable}=\"{totalText}\"; use a limit per connection no higher than the total");
        }

        options.MaxStreamsPerConnection = options.MaxStreams;
    }

    private static int StreamLimit(string name, string? text, int fallback, List<string> problems)
    {
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var limit) && limit is >= 1 and <= StreamLimitCeiling)
        {
            return limit;
        }

        problems.Add($"{name}=\"{text}\" is not valid; use a whole number from 1 to {StreamLimitCeiling}");
        return fallback;
    }

    /// <summary>A port dialled on other pods: 0 (pick a free port) makes no sense here, unlike for our own listeners.</summary>
    private static int AdminPortSetting(string? text, int fallback, List<string> problems)
    {
        if (text is null)
        {
            return fallback;
        }

        if (int.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var port) && port is > 0 and <= 65535)
        {
            return port;
        }

        problems.Add($"{AdminPortVariable}=\"{text}\" is not a valid port; use a number from 1 to 65535");
        return fallback;
    }

    /// <summary><c>host:port</c> entries separated by commas; IPv6 hosts in brackets.</summary>
    public static IReadOnlyList<string> ParseAddresses(string text, List<string> problems)
    {
        var addresses = new List<string>();
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            if (HostPortSetting.IsValid(entry))
            {
                addresses.Add(entry);
            }
            else
            {
                problems.Add($"{InterceptorsVariable}: \"{entry}\" is not a valid interceptor admin address; {HostPortSetting.AllowedForm}, separated by commas");
            }
        }

        return addresses;
    }
}
