using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Forwarding;
using Updraft.Kubernetes.Endpoints;
using Updraft.Kubernetes.Model;

namespace Updraft.Interceptor.Kubernetes;

/// <summary>
/// A route's upstream in Kubernetes mode: one Service port (<c>port</c> or <c>portName</c>) in the route's namespace,
/// kept current from the Service and its EndpointSlices. Shared by every route that names the same Service port and
/// kept across routing-table rebuilds, so requests held on it are released by the EndpointSlice watch itself.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>Ready: the port resolves (a numeric port always does; a name needs the Service to have it) and the Service has
/// a ready endpoint.</item>
/// <item>Destination: with direct-pod routing, a ready pod's address for the Service port's endpoint port, taken in
/// turn across pods; otherwise (or while the pod port is unknown) the Service's cluster DNS name.</item>
/// <item>Protocol: h2c when the Service port says <c>appProtocol: kubernetes.io/h2c</c> (as the add-on decides),
/// otherwise the route's own choice.</item>
/// </list>
/// The state is an immutable snapshot swapped atomically; the request path reads it once.
/// </remarks>
internal sealed class ClusterTarget : IDestinationPicker
{
    private readonly bool _directPods;
    private volatile State _state;
    private int _next;

    public ClusterTarget(string @namespace, string service, int? port, string? portName, bool directPods)
    {
        Namespace = @namespace;
        Service = service;
        Port = port;
        PortName = portName;
        ServiceKey = @namespace + "/" + service;
        Key = KeyOf(@namespace, service, port, portName);
        _directPods = directPods;
        Readiness = new EndpointReadiness(Key);
        _state = State.Unresolved;
    }

    public string Namespace { get; }

    public string Service { get; }

    public int? Port { get; }

    public string? PortName { get; }

    /// <summary><c>namespace/service</c>.</summary>
    public string ServiceKey { get; }

    /// <summary><c>namespace/service:port</c> or <c>namespace/service:portName</c>.</summary>
    public string Key { get; }

    public static string KeyOf(string @namespace, string service, int? port, string? portName) =>
        @namespace + "/" + service + ":" + (port?.ToString(CultureInfo.InvariantCulture) ?? portName);

    public EndpointReadiness Readiness { get; }

    /// <summary>The destination for the next request (scheme, host, port), or null while the port does not resolve.</summary>
    public string? Pick(bool tls)
    {
        var state = _state;
        var pods = tls ? state.TlsPods : state.Pods;
        if (pods.Length > 0)
        {
            var turn = (uint)Interlocked.Increment(ref _next);
            return pods[turn % (uint)pods.Length];
        }

        return tls ? state.TlsServicePrefix : state.ServicePrefix;
    }

    /// <summary>The Service's DNS destination, for logs (null while unresolved).</summary>
    public string? ServicePrefix => _state.ServicePrefix;

    /// <summary>The Service port asks for HTTP/2 with prior knowledge (<c>appProtocol: kubernetes.io/h2c</c>).</summary>
    public bool UsesH2c => _state.H2c;

    /// <summary>Recomputes the state from the Service (null: unknown) and its merged endpoints.</summary>
    public void Update(Service? service, ServiceEndpoints endpoints)
    {
        var servicePort = Resolve(service);
        State next;
        if (servicePort is not { } resolved)
        {
            next = State.Unresolved;
        }
        else
        {
            var host = Service + "." + Namespace;
            var pods = _directPods && endpoints.AddressesByPort.TryGetValue(resolved.EndpointPortName, out var addresses) ? addresses : [];
            next = new State(
                "http://" + host + ":" + resolved.Port.ToString(CultureInfo.InvariantCulture),
                "https://" + host + ":" + resolved.Port.ToString(CultureInfo.InvariantCulture),
                Prefixes("http://", pods),
                Prefixes("https://", pods),
                resolved.AppProtocol == H2cAppProtocol);
        }

        // Not ready is published before a state without a destination, ready after one with: a request that finds no
        // destination (Pick returns null) also finds the target not ready, and waits (see IDestinationPicker).
        var ready = next.ServicePrefix is not null && endpoints.Ready;
        if (!ready)
        {
            Readiness.Set(EndpointState.NotReady);
        }

        _state = next;
        if (ready)
        {
            Readiness.Set(EndpointState.Ready);
        }
    }

    /// <summary>
    /// The Service port this target names and the name its endpoints use for it (<c>""</c> when unnamed). A numeric
    /// port the Service does not list still resolves (the endpoint port is then unknown, so the DNS name is used).
    /// </summary>
    private (int Port, string EndpointPortName, string? AppProtocol)? Resolve(Service? service)
    {
        foreach (var candidate in service?.Spec?.Ports ?? [])
        {
            if (candidate.Port is { } number && (Port is { } wanted ? number == wanted : candidate.Name == PortName))
            {
                return (number, candidate.Name ?? "", candidate.AppProtocol);
            }
        }

        return Port is { } port ? (port, service is null ? "" : "\0unlisted", null) : null;
    }

    private static string[] Prefixes(string scheme, PodAddress[] pods)
    {
        var prefixes = new string[pods.Length];
        for (var i = 0; i < pods.Length; i++)
        {
            var ip = IPAddress.TryParse(pods[i].Ip, out var parsed) && parsed.AddressFamily == AddressFamily.InterNetworkV6 ? "[" + pods[i].Ip + "]" : pods[i].Ip;
            prefixes[i] = scheme + ip + ":" + pods[i].Port.ToString(CultureInfo.InvariantCulture);
        }

        return prefixes;
    }

    private const string H2cAppProtocol = "kubernetes.io/h2c";

    private sealed record State(string? ServicePrefix, string? TlsServicePrefix, string[] Pods, string[] TlsPods, bool H2c = false)
    {
        public static readonly State Unresolved = new(null, null, [], []);
    }
}
