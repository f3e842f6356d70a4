using System.Text;

namespace Updraft.Kubernetes.Model;

/// <summary>A kind of object the API serves: its group (empty for the core group), version and plural name.</summary>
public sealed record ApiResource(string Group, string Version, string Plural)
{
    public static readonly ApiResource InterceptorRoutes = new("http.keda.sh", "v1beta1", "interceptorroutes");
    public static readonly ApiResource HttpScaledObjects = new("http.keda.sh", "v1alpha1", "httpscaledobjects");
    public static readonly ApiResource Services = new("", "v1", "services");
    public static readonly ApiResource ConfigMaps = new("", "v1", "configmaps");
    public static readonly ApiResource EndpointSlicesV1 = new("discovery.k8s.io", "v1", "endpointslices");
    public static readonly ApiResource EndpointSlicesV1Beta1 = new("discovery.k8s.io", "v1beta1", "endpointslices");
    public static readonly ApiResource ScaledObjects = new("keda.sh", "v1alpha1", "scaledobjects");
    public static readonly ApiResource Events = new("", "v1", "events");
    public static readonly ApiResource Leases = new("coordination.k8s.io", "v1", "leases");
    public static readonly ApiResource Functions = new("core.openfunction.io", "v1beta2", "functions");
    public static readonly ApiResource Deployments = new("apps", "v1", "deployments");

    /// <summary><c>group/version</c> (just <c>version</c> for the core group).</summary>
    public string GroupVersion => Group.Length == 0 ? Version : Group + "/" + Version;

    /// <summary>The collection's path, cluster-wide when <paramref name="namespace"/> is null or empty.</summary>
    public string Path(string? @namespace)
    {
        var path = new StringBuilder(Group.Length == 0 ? "/api/" : "/apis/" + Group + "/").Append(Version);
        if (!string.IsNullOrEmpty(@namespace))
        {
            path.Append("/namespaces/").Append(Uri.EscapeDataString(@namespace));
        }

        return path.Append('/').Append(Plural).ToString();
    }

    /// <summary>One object's path.</summary>
    public string Path(string? @namespace, string name) => Path(@namespace) + "/" + Uri.EscapeDataString(name);

    /// <summary>The RBAC rule a component needs to list and watch this resource (for the docs and the chart).</summary>
    public override string ToString() => $"{Plural}.{(Group.Length == 0 ? "core" : Group)}/{Version}";
}
