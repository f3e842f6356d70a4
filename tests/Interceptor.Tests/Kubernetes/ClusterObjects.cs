namespace Updraft.Interceptor.Tests.Kubernetes;

/// <summary>Kubernetes objects as the API serves them, for the fake and the real API server.</summary>
internal static class ClusterObjects
{
    public const string InterceptorRoutes = "/apis/http.keda.sh/v1beta1/interceptorroutes";
    public const string HttpScaledObjects = "/apis/http.keda.sh/v1alpha1/httpscaledobjects";
    public const string Services = "/api/v1/services";
    public const string ConfigMaps = "/api/v1/configmaps";
    public const string EndpointSlicesV1 = "/apis/discovery.k8s.io/v1/endpointslices";

    public static object Route(string ns, string name, string host, int? port = 80, string? portName = null, string service = "app", object? coldStart = null) => new
    {
        apiVersion = "http.keda.sh/v1beta1",
        kind = "InterceptorRoute",
        metadata = new { name, @namespace = ns },
        spec = new
        {
            target = new { service, port, portName },
            rules = new[] { new { hosts = new[] { host } } },
            scalingMetric = new { concurrency = new { targetValue = 10 } },
            coldStart,
        },
    };

    public static object ScaledObject(string ns, string name, string host, int port = 80, string service = "app") => new
    {
        apiVersion = "http.keda.sh/v1alpha1",
        kind = "HTTPScaledObject",
        metadata = new { name, @namespace = ns },
        spec = new
        {
            hosts = new[] { host },
            scaleTargetRef = new { name = service, service, port },
        },
    };

    public static object Service(string ns, string name, params (string Name, int Port)[] ports) => new
    {
        apiVersion = "v1",
        kind = "Service",
        metadata = new { name, @namespace = ns },
        spec = new { ports = ports.Select(p => new { name = p.Name, port = p.Port, protocol = "TCP" }).ToArray() },
    };

    /// <param name="ns">Namespace.</param>
    /// <param name="name">Slice name.</param>
    /// <param name="service">The Service it belongs to (its label).</param>
    /// <param name="port">The pods' port for port name <paramref name="portName"/>.</param>
    /// <param name="ready">Addresses of ready endpoints.</param>
    /// <param name="notReady">Addresses of endpoints that are not ready.</param>
    /// <param name="portName">The endpoint port's name (the Service port's name).</param>
    /// <param name="apiVersion">discovery.k8s.io/v1 or v1beta1.</param>
    public static object Slice(string ns, string name, string service, int port, string[] ready, string[]? notReady = null, string portName = "http", string apiVersion = "discovery.k8s.io/v1") => new
    {
        apiVersion,
        kind = "EndpointSlice",
        metadata = new { name, @namespace = ns, labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = service } },
        addressType = "IPv4",
        endpoints = ready.Select(a => new { addresses = new[] { a }, conditions = new { ready = true } })
            .Concat((notReady ?? []).Select(a => new { addresses = new[] { a }, conditions = new { ready = false } }))
            .ToArray(),
        ports = new[] { new { name = portName, port, protocol = "TCP" } },
    };
}
