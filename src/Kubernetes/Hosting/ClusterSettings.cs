using Updraft.Shared.Settings;

namespace Updraft.Kubernetes.Hosting;

/// <summary>Where a component takes its routes and endpoints from.</summary>
public enum RunMode
{
    /// <summary>A routes file (and, for the scaler, fixed interceptor addresses).</summary>
    Standalone,

    /// <summary>The cluster's API server.</summary>
    Kubernetes,
}

/// <summary>
/// The settings both the interceptor and the scaler use to reach the cluster, and the mode switch:
/// <c>UPDRAFT_MODE</c> = <c>auto</c> (default: standalone when a routes file is given, otherwise Kubernetes when
/// running in a pod), <c>standalone</c> or <c>kubernetes</c>. Outside a pod, Kubernetes mode reads
/// <c>UPDRAFT_KUBECONFIG</c>, then <c>KUBECONFIG</c>, then <c>~/.kube/config</c>.
/// </summary>
public sealed class ClusterSettings
{
    public const string ModeVariable = "UPDRAFT_MODE";
    public const string KubeconfigVariable = "UPDRAFT_KUBECONFIG";
    public const string WatchNamespaceVariable = "KEDA_HTTP_WATCH_NAMESPACE";

    /// <summary>The mode asked for; null is <c>auto</c>.</summary>
    public RunMode? Mode { get; set; }

    public string? Kubeconfig { get; set; }

    /// <summary>Only this namespace's routes (and endpoints); null for all namespaces.</summary>
    public string? WatchNamespace { get; set; }

    public static ClusterSettings Read(SettingReader reader, List<string> problems)
    {
        var settings = new ClusterSettings
        {
            Kubeconfig = reader.Text(KubeconfigVariable),
            WatchNamespace = reader.Text(WatchNamespaceVariable),
        };
        switch (reader.Text(ModeVariable)?.ToLowerInvariant())
        {
            case null or "auto":
                break;
            case "standalone":
                settings.Mode = RunMode.Standalone;
                break;
            case "kubernetes":
                settings.Mode = RunMode.Kubernetes;
                break;
            case { } other:
                problems.Add($"{ModeVariable}=\"{other}\" is not a mode; use auto, standalone or kubernetes");
                break;
        }

        return settings;
    }

    /// <summary>
    /// True in a pod: <c>KUBERNETES_SERVICE_HOST</c>/<c>_PORT</c> are set and the service account token is mounted
    /// (the same test KubernetesClient makes, without loading it in standalone mode).
    /// </summary>
    public static bool InCluster() =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST"))
        && !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT"))
        && File.Exists("/var/run/secrets/kubernetes.io/serviceaccount/token");

    /// <summary>The mode in effect, or null when auto finds neither a routes file nor a cluster.</summary>
    public RunMode? Resolve(bool hasRoutesFile, bool inCluster) => Mode ?? (hasRoutesFile ? RunMode.Standalone : inCluster ? RunMode.Kubernetes : null);
}
