using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Watching;
using Updraft.Shared.Settings;

namespace Updraft.Operator.Options;

/// <summary>The operator's settings: the add-on operator's variables and flags, with its defaults, plus Updraft's own.</summary>
internal sealed class OperatorOptions
{
    public const string ScalerServiceVariable = "KEDA_HTTP_OPERATOR_EXTERNAL_SCALER_SERVICE";
    public const string ScalerPortVariable = "KEDA_HTTP_OPERATOR_EXTERNAL_SCALER_PORT";
    public const string NamespaceVariable = "KEDA_HTTP_OPERATOR_NAMESPACE";
    public const string WatchNamespaceVariable = "KEDA_HTTP_OPERATOR_WATCH_NAMESPACE";
    public const string LeaseDurationVariable = "KEDA_HTTP_OPERATOR_LEADER_ELECTION_LEASE_DURATION";
    public const string RenewDeadlineVariable = "KEDA_HTTP_OPERATOR_LEADER_ELECTION_RENEW_DEADLINE";
    public const string RetryPeriodVariable = "KEDA_HTTP_OPERATOR_LEADER_ELECTION_RETRY_PERIOD";
    public const string LeaderElectVariable = "UPDRAFT_OPERATOR_LEADER_ELECT";
    public const string LeaseNameVariable = "UPDRAFT_OPERATOR_LEASE_NAME";
    public const string MetricsAddressVariable = "UPDRAFT_OPERATOR_METRICS_BIND_ADDRESS";
    public const string HealthAddressVariable = "UPDRAFT_OPERATOR_HEALTH_PROBE_BIND_ADDRESS";
    public const string WorkersVariable = "UPDRAFT_OPERATOR_WORKERS";
    public const string ResyncPeriodVariable = "UPDRAFT_OPERATOR_RESYNC_PERIOD";
    public const string KubeconfigVariable = "UPDRAFT_KUBECONFIG";
    public const string FunctionsVariable = "UPDRAFT_OPERATOR_FUNCTIONS";
    public const string InterceptorServiceVariable = "UPDRAFT_OPERATOR_INTERCEPTOR_SERVICE";
    public const string ClusterDomainVariable = "UPDRAFT_OPERATOR_CLUSTER_DOMAIN";
    public const string BacklogScalerVariable = "UPDRAFT_OPERATOR_BACKLOG_SCALER";
    public const string DaprProxyImageVariable = "UPDRAFT_OPERATOR_DAPR_PROXY_IMAGE";

    /// <summary>The spellings the add-on deprecated in v0.15; still read when the new names are unset.</summary>
    private static readonly (string Old, string New)[] DeprecatedNames =
    [
        ("KEDAHTTP_OPERATOR_EXTERNAL_SCALER_SERVICE", ScalerServiceVariable),
        ("KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT", ScalerPortVariable),
    ];

    /// <summary>The scaler Service written into every generated ScaledObject's <c>scalerAddress</c>.</summary>
    public string ScalerService { get; set; } = "keda-add-ons-http-external-scaler";

    /// <summary>The scaler's gRPC port (the add-on's code defaults to 8091, its manifests and Updraft's scaler to 9090).</summary>
    public int ScalerPort { get; set; } = 9090;

    /// <summary>The operator's (and the scaler's) namespace: the pod's own unless set; required outside a pod.</summary>
    public string? Namespace { get; set; }

    /// <summary>Only this namespace's objects; null for every namespace.</summary>
    public string? WatchNamespace { get; set; }

    public bool LeaderElection { get; set; }

    public string LeaseName { get; set; } = "updraft-operator";

    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan RenewDeadline { get; set; } = TimeSpan.FromSeconds(10);

    public TimeSpan RetryPeriod { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary><c>--metrics-bind-address</c>: Prometheus <c>/metrics</c>; null turns it off (<c>0</c>).</summary>
    public BindAddress? MetricsAddress { get; set; } = new(null, 8080);

    /// <summary><c>--health-probe-bind-address</c>: <c>/healthz</c> and <c>/readyz</c>.</summary>
    public BindAddress? HealthAddress { get; set; } = new(null, 8081);

    /// <summary>Reconciles one controller may run at once (each object is still reconciled by one at a time).</summary>
    public int Workers { get; set; } = 8;

    /// <summary>How often every object is reconciled again even without a change (repairs drift nobody reported).</summary>
    public TimeSpan ResyncPeriod { get; set; } = TimeSpan.FromMinutes(10);

    public string? Kubeconfig { get; set; }

    /// <summary>Which OpenFunction <c>Function</c>s are reconciled.</summary>
    public FunctionsMode Functions { get; set; } = FunctionsMode.All;

    /// <summary>The interceptor's proxy Service (in <see cref="Namespace"/>), which a Function's own Service points at.</summary>
    public string InterceptorService { get; set; } = "keda-add-ons-http-interceptor-proxy";

    public string ClusterDomain { get; set; } = "cluster.local";

    /// <summary>
    /// Whether an async Function's <c>kafka</c>, <c>nats-jetstream</c> and <c>stan</c> triggers are pointed at Updraft's
    /// scaler (<c>updraft</c>) or left to KEDA's own scalers (<c>keda</c>, the default).
    /// </summary>
    public bool BacklogOnUpdraftScaler { get; set; }

    /// <summary>The dapr-proxy image of the standalone Dapr mode (OpenFunction's <c>openfunction.dapr-proxy.image</c>).</summary>
    public string DaprProxyImage { get; set; } = Updraft.Operator.Functions.Dapr.DaprComponents.DefaultProxyImage;

    public WatchTuning WatchTuning { get; set; } = WatchTuning.Default;

    /// <summary>Deprecated names that were used, reported as warnings once logging is up.</summary>
    public List<string> Warnings { get; } = [];

    /// <summary><c>&lt;service&gt;.&lt;namespace&gt;:&lt;port&gt;</c>, as the add-on writes it.</summary>
    public string ScalerAddress => $"{ScalerService}.{Namespace}:{ScalerPort}";

    /// <param name="lookup">Reads one setting (environment variables, or a test's dictionary; flags are mapped onto names).</param>
    /// <param name="podNamespace">The pod's namespace from its service account, or null outside a pod.</param>
    /// <param name="problems">Receives one line per invalid value.</param>
    public static OperatorOptions Bind(Func<string, string?> lookup, string? podNamespace, List<string> problems)
    {
        var options = new OperatorOptions();
        var reader = new SettingReader(lookup, problems);
        var serviceVariable = Effective(lookup, ScalerServiceVariable, options.Warnings);
        options.ScalerService = reader.Text(serviceVariable) ?? options.ScalerService;
        if (!KubernetesNames.IsDns1035Label(options.ScalerService))
        {
            problems.Add($"{serviceVariable}=\"{options.ScalerService}\" is not a Service name; use lower-case letters, digits and '-', starting with a letter, at most 63 characters");
        }

        var portVariable = Effective(lookup, ScalerPortVariable, options.Warnings);
        if (reader.Text(portVariable) is { } port)
        {
            if (int.TryParse(port, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var number) && number is > 0 and <= 65535)
            {
                options.ScalerPort = number;
            }
            else
            {
                problems.Add($"{portVariable}=\"{port}\" is not a valid port; use a number from 1 to 65535");
            }
        }

        options.Namespace = reader.Text(NamespaceVariable) ?? podNamespace;
        if (options.Namespace is null)
        {
            problems.Add($"{NamespaceVariable} is required outside a pod; use the namespace the scaler Service {options.ScalerService} is in");
        }
        else if (!KubernetesNames.IsDns1123Label(options.Namespace))
        {
            problems.Add($"{NamespaceVariable}=\"{options.Namespace}\" is not a namespace name; use lower-case letters, digits and '-', at most 63 characters");
        }

        options.WatchNamespace = reader.Text(WatchNamespaceVariable);
        if (options.WatchNamespace is { } watch && !KubernetesNames.IsDns1123Label(watch))
        {
            problems.Add($"{WatchNamespaceVariable}=\"{watch}\" is not a namespace name; use lower-case letters, digits and '-', at most 63 characters, or leave it unset for every namespace");
        }

        options.LeaderElection = reader.Boolean(LeaderElectVariable, options.LeaderElection);
        options.LeaseName = reader.Text(LeaseNameVariable) ?? options.LeaseName;
        if (!KubernetesNames.IsDns1123Subdomain(options.LeaseName))
        {
            problems.Add($"{LeaseNameVariable}=\"{options.LeaseName}\" is not a Lease name; use lower-case letters, digits, '-' and '.', at most 253 characters");
        }

        options.LeaseDuration = reader.Duration(LeaseDurationVariable, options.LeaseDuration, TimeSpan.FromSeconds(1));
        options.RenewDeadline = reader.Duration(RenewDeadlineVariable, options.RenewDeadline, TimeSpan.FromMilliseconds(100));
        options.RetryPeriod = reader.Duration(RetryPeriodVariable, options.RetryPeriod, TimeSpan.FromMilliseconds(100));
        if (options.LeaseDuration <= options.RenewDeadline)
        {
            problems.Add($"{LeaseDurationVariable} ({Shared.Durations.GoDuration.Format(options.LeaseDuration)}) must be longer than {RenewDeadlineVariable} ({Shared.Durations.GoDuration.Format(options.RenewDeadline)})");
        }

        if (options.RenewDeadline <= options.RetryPeriod)
        {
            problems.Add($"{RenewDeadlineVariable} ({Shared.Durations.GoDuration.Format(options.RenewDeadline)}) must be longer than {RetryPeriodVariable} ({Shared.Durations.GoDuration.Format(options.RetryPeriod)})");
        }

        options.MetricsAddress = ReadAddress(reader, MetricsAddressVariable, "--metrics-bind-address", options.MetricsAddress, problems);
        options.HealthAddress = ReadAddress(reader, HealthAddressVariable, "--health-probe-bind-address", options.HealthAddress, problems);
        if (options.MetricsAddress is { Port: > 0 } metrics && options.HealthAddress is { Port: > 0 } health && metrics.Port == health.Port)
        {
            problems.Add($"--metrics-bind-address and --health-probe-bind-address both use port {metrics.Port}; give them different ports");
        }

        options.Workers = reader.Number(WorkersVariable, options.Workers, minimum: 1);
        options.ResyncPeriod = reader.Duration(ResyncPeriodVariable, options.ResyncPeriod, TimeSpan.FromSeconds(1));
        options.Kubeconfig = reader.Text(KubeconfigVariable);
        switch (reader.Text(FunctionsVariable)?.ToLowerInvariant())
        {
            case null or "true" or "all":
                break;
            case "false" or "none":
                options.Functions = FunctionsMode.None;
                break;
            case "annotated":
                options.Functions = FunctionsMode.Annotated;
                break;
            case { } other:
                problems.Add($"{FunctionsVariable}=\"{other}\" is not valid; use true (every Function without updraft.dev/reconcile: \"false\"), annotated (only those with updraft.dev/reconcile: \"true\") or false");
                break;
        }

        options.InterceptorService = reader.Text(InterceptorServiceVariable) ?? options.InterceptorService;
        if (!KubernetesNames.IsDns1035Label(options.InterceptorService))
        {
            problems.Add($"{InterceptorServiceVariable}=\"{options.InterceptorService}\" is not a Service name; use lower-case letters, digits and '-', starting with a letter, at most 63 characters");
        }

        options.ClusterDomain = reader.Text(ClusterDomainVariable) ?? options.ClusterDomain;
        if (!KubernetesNames.IsDns1123Subdomain(options.ClusterDomain))
        {
            problems.Add($"{ClusterDomainVariable}=\"{options.ClusterDomain}\" is not a domain; use lower-case labels joined by '.', e.g. cluster.local");
        }

        switch (reader.Text(BacklogScalerVariable)?.ToLowerInvariant())
        {
            case null or "keda":
                break;
            case "updraft":
                options.BacklogOnUpdraftScaler = true;
                break;
            case { } other:
                problems.Add($"{BacklogScalerVariable}=\"{other}\" is not valid; use keda (async Functions' kafka, nats-jetstream and stan triggers stay on KEDA's scalers) or updraft (they are pointed at Updraft's scaler)");
                break;
        }

        options.DaprProxyImage = reader.Text(DaprProxyImageVariable) ?? options.DaprProxyImage;
        if (options.DaprProxyImage.Any(char.IsWhiteSpace))
        {
            problems.Add($"{DaprProxyImageVariable}=\"{options.DaprProxyImage}\" is not an image reference; it must not contain spaces");
        }

        options.WatchTuning = WatchTuning.Read(reader);
        return options;
    }

    /// <summary>
    /// The variable to read for <paramref name="current"/>: itself when set, else its deprecated spelling when that is
    /// set (with a warning), so that a bad value is reported under the name the user wrote.
    /// </summary>
    private static string Effective(Func<string, string?> lookup, string current, List<string> warnings)
    {
        foreach (var (old, name) in DeprecatedNames)
        {
            if (name != current || string.IsNullOrWhiteSpace(lookup(old)))
            {
                continue;
            }

            if (string.IsNullOrWhiteSpace(lookup(current)))
            {
                warnings.Add($"{old} is deprecated; set {current} instead (its value is used)");
                return old;
            }

            warnings.Add($"{old} is deprecated and ignored because {current} is set");
        }

        return current;
    }

    private static BindAddress? ReadAddress(SettingReader reader, string variable, string flag, BindAddress? fallback, List<string> problems)
    {
        if (reader.Text(variable) is not { } text)
        {
            return fallback;
        }

        if (text == "0")
        {
            return null;
        }

        if (BindAddress.TryParse(text, out var address))
        {
            return address;
        }

        problems.Add($"{flag} ({variable})=\"{text}\" is not valid; use :PORT, HOST:PORT (an IP address), or 0 to turn it off");
        return fallback;
    }
}

/// <summary><c>UPDRAFT_OPERATOR_FUNCTIONS</c>.</summary>
internal enum FunctionsMode
{
    /// <summary>Every Function, except those annotated <c>updraft.dev/reconcile: "false"</c>.</summary>
    All,

    /// <summary>Only Functions annotated <c>updraft.dev/reconcile: "true"</c> (OpenFunction's controller serves the rest).</summary>
    Annotated,

    /// <summary>No Functions: nothing is watched, so no Function permissions are needed.</summary>
    None,
}
