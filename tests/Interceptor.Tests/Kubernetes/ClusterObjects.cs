using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Updraft.Kubernetes.Model;

namespace Updraft.Interceptor.Tests.Kubernetes;

/// <summary>
/// Kubernetes objects as written to an API server, in shapes both the fake and the real v1.20 server accept (unset
/// fields are left out rather than written as null, which a CRD schema would not allow).
/// </summary>
internal static class ClusterObjects
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public static JsonObject Route(string ns, string name, string host, int? port = 80, string? portName = null, string service = "app", object? coldStart = null) => ToJson(new
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
    });

    public static JsonObject ScaledObject(string ns, string name, string host, int port = 80, string service = "app") => ToJson(new
    {
        apiVersion = "http.keda.sh/v1alpha1",
        kind = "HTTPScaledObject",
        metadata = new { name, @namespace = ns },
        spec = new
        {
            hosts = new[] { host },
            scaleTargetRef = new { name = service, service, port },
        },
    });

    public static JsonObject Service(string ns, string name, params (string Name, int Port)[] ports) => ToJson(new
    {
        apiVersion = "v1",
        kind = "Service",
        metadata = new { name, @namespace = ns },
        spec = new { ports = ports.Select(p => new { name = p.Name, port = p.Port, protocol = "TCP" }).ToArray() },
    });

    /// <summary>A ConfigMap labelled as a source of response bodies.</summary>
    public static JsonObject BodyConfigMap(string ns, string name, string key, string body) => ToJson(new
    {
        apiVersion = "v1",
        kind = "ConfigMap",
        metadata = new { name, @namespace = ns, labels = new Dictionary<string, string> { ["http.keda.sh/response-body"] = "true" } },
        data = new Dictionary<string, string> { [key] = body },
    });

    /// <summary>
    /// An IPv4 EndpointSlice in the version <paramref name="resource"/> names: the fields used here
    /// (<c>endpoints[].addresses</c>, <c>endpoints[].conditions.ready</c>, <c>ports</c>) are the same in
    /// <c>discovery.k8s.io/v1</c> and <c>v1beta1</c>.
    /// </summary>
    /// <param name="resource">The EndpointSlice resource the server serves.</param>
    /// <param name="ns">Namespace.</param>
    /// <param name="name">Slice name.</param>
    /// <param name="service">The Service it belongs to (its label).</param>
    /// <param name="port">The pods' port for port name <paramref name="portName"/>.</param>
    /// <param name="ready">Addresses of ready endpoints.</param>
    /// <param name="notReady">Addresses of endpoints that are not ready.</param>
    /// <param name="portName">The endpoint port's name (the Service port's name).</param>
    public static JsonObject Slice(ApiResource resource, string ns, string name, string service, int port, string[] ready, string[]? notReady = null, string portName = "http") => ToJson(new
    {
        apiVersion = resource.GroupVersion,
        kind = "EndpointSlice",
        metadata = new { name, @namespace = ns, labels = new Dictionary<string, string> { ["kubernetes.io/service-name"] = service } },
        addressType = "IPv4",
        endpoints = ready.Select(a => new { addresses = new[] { a }, conditions = new { ready = true } })
            .Concat((notReady ?? []).Select(a => new { addresses = new[] { a }, conditions = new { ready = false } }))
            .ToArray(),
        ports = new[] { new { name = portName, port, protocol = "TCP" } },
    });

    private static JsonObject ToJson(object value) => JsonSerializer.SerializeToNode(value, Options)!.AsObject();
}
