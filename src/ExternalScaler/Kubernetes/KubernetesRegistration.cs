using Updraft.ExternalScaler.Http;
using Updraft.ExternalScaler.Options;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Hosting;

namespace Updraft.ExternalScaler.Kubernetes;

internal static class KubernetesRegistration
{
    /// <summary>Where a pod's service account tells it its namespace.</summary>
    public const string PodNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

    /// <summary>
    /// Kubernetes mode: routes from the cluster's watches, interceptor replicas from the admin Service's
    /// EndpointSlices. Settings that only make sense in standalone mode, a missing admin namespace, or a kubeconfig
    /// that cannot be used go to <paramref name="problems"/> (nothing is registered then).
    /// </summary>
    /// <remarks>
    /// API calls (for RBAC): list and watch <c>interceptorroutes</c> and <c>httpscaledobjects</c> (<c>http.keda.sh</c>)
    /// in <c>KEDA_HTTP_WATCH_NAMESPACE</c> or cluster-wide, and <c>endpointslices</c> (<c>discovery.k8s.io</c>) in
    /// <c>KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE</c>; get on the <c>/apis/discovery.k8s.io</c> discovery document.
    /// </remarks>
    public static void AddKubernetesMode(this IServiceCollection services, ScalerOptions options, ClusterSettings cluster, List<string> problems, string podNamespaceFile = PodNamespaceFile)
    {
        var explicitly = cluster.Mode == RunMode.Kubernetes ? $" ({ClusterSettings.ModeVariable}=kubernetes)" : " (running in a pod)";
        if (options.Interceptors.Count > 0)
        {
            problems.Add($"{ScalerOptions.InterceptorsVariable} (--interceptors) conflicts with Kubernetes mode{explicitly}, where interceptor replicas are discovered from {ScalerOptions.AdminServiceVariable}; unset it, or set {ClusterSettings.ModeVariable}=standalone");
        }

        if (options.RoutesFile is not null)
        {
            problems.Add($"{ScalerOptions.RoutesFileVariable} (--routes) conflicts with Kubernetes mode{explicitly}, where routes come from the cluster's InterceptorRoutes and HTTPScaledObjects; unset it, or set {ClusterSettings.ModeVariable}=standalone");
        }

        options.AdminNamespace ??= ReadPodNamespace(podNamespaceFile);
        if (options.AdminNamespace is null)
        {
            problems.Add($"{ScalerOptions.AdminNamespaceVariable} is required in Kubernetes mode outside a pod; use the namespace of the interceptor admin Service {options.AdminService}");
        }

        if (problems.Count > 0)
        {
            return;
        }

        KubeApiClient client;
        try
        {
            client = KubeApiClient.Create(cluster.Kubeconfig);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            problems.Add(cluster.Kubeconfig is { } path
                ? $"{ClusterSettings.KubeconfigVariable}=\"{path}\" cannot be used: {e.Message}; use the path of a readable kubeconfig"
                : $"Kubernetes mode{explicitly} found no usable cluster configuration: {e.Message}; set {ClusterSettings.KubeconfigVariable} to a kubeconfig, or run in a pod");
            return;
        }

        services.AddSingleton(cluster);
        // Registered through a factory so the container disposes the client with the application.
        services.AddSingleton(_ => client);
        services.AddSingleton<ClusterInterceptorAddresses>();
        services.AddSingleton<IInterceptorAddresses>(provider => provider.GetRequiredService<ClusterInterceptorAddresses>());
        services.AddHostedService(provider => provider.GetRequiredService<ClusterInterceptorAddresses>());
        services.AddHostedService<KubernetesRouteSource>();
    }

    /// <summary>The pod's namespace from its service account, or null outside a pod.</summary>
    internal static string? ReadPodNamespace(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim() is { Length: > 0 } ns ? ns : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
