using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Kubernetes;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Options;
using Updraft.Shared.Routes;
using Yarp.ReverseProxy.Forwarder;

namespace Updraft.Interceptor.Forwarding;

/// <summary>Everything the forwarder needs for a route, resolved when the routing table is built.</summary>
/// <param name="DestinationPrefix">Scheme, host and port, e.g. <c>http://10.0.0.7:8080</c>.</param>
/// <param name="TlsDestinationPrefix">The same over TLS, for requests that came in on the TLS listener (the add-on's rule).</param>
/// <param name="Endpoint"><c>host:port</c> as the connector sees it.</param>
/// <param name="Invoker">The shared pool behind this route's response-header timeout.</param>
/// <param name="RequestConfig">HTTP version policy for the upstream protocol, and the idle timeout.</param>
/// <param name="H2cConfig">The same for h2c, which a Kubernetes Service port's <c>appProtocol</c> may ask for.</param>
/// <param name="RequestTimeout">Whole-request deadline; zero is off.</param>
/// <param name="ResponseHeaderTimeout">From the request sent to the response headers; zero is off (the lean path applies it itself).</param>
/// <param name="Readiness">Whether the endpoint can take requests now (shared by every route that sends there).</param>
/// <param name="Picker">A Kubernetes Service port or a local workload: its live state picks each request's destination.</param>
internal sealed record UpstreamTarget(
    string DestinationPrefix,
    string TlsDestinationPrefix,
    string Endpoint,
    HttpMessageInvoker Invoker,
    ForwarderRequestConfig RequestConfig,
    ForwarderRequestConfig H2cConfig,
    TimeSpan RequestTimeout,
    TimeSpan ResponseHeaderTimeout,
    EndpointReadiness Readiness,
    IDestinationPicker? Picker = null)
{
    /// <summary>
    /// Where this request goes: what the picker chooses (a ready pod or the Service, a ready local replica), else the
    /// fixed address. Null when the picker has no destination now; its readiness then says not ready.
    /// </summary>
    public string? Destination(bool tls) => Picker is { } picker ? picker.Pick(tls) : FixedDestination(tls);

    /// <summary>The address resolved when the table was built (with a picker, a placeholder that is never ready).</summary>
    public string FixedDestination(bool tls) => tls ? TlsDestinationPrefix : DestinationPrefix;

    /// <summary>The HTTP version policy for this request (a Service port's <c>appProtocol</c> may ask for h2c).</summary>
    public ForwarderRequestConfig Config => Picker is { UsesH2c: true } ? H2cConfig : RequestConfig;
}

internal sealed class UpstreamTargetFactory(IOptions<InterceptorOptions> options, ForwarderClients clients, IEndpointReadiness readiness, ModeInfo mode, ClusterTargets clusterTargets, LocalTargets localTargets)
{
    // YARP's activity timeout is the idle timeout: it restarts whenever a read or write completes on either side
    // (request body, response body, upgraded streams) and also runs while the response headers are awaited.
    private static readonly TimeSpan NoIdleTimeout = TimeSpan.FromMilliseconds(int.MaxValue);

    private readonly Dictionary<(bool H2c, TimeSpan Idle), ForwarderRequestConfig> _configs = [];

    public UpstreamTarget Create(RouteDefinition route) => Create(route.Target, route.Timeouts, route.Namespace);

    /// <summary>The target of a route, or its cold-start fallback (same timeouts, same namespace).</summary>
    public UpstreamTarget Create(UpstreamRef target, RouteTimeouts timeouts, string @namespace)
    {
        var settings = options.Value;
        var responseHeader = timeouts.ResponseHeader ?? settings.ResponseHeaderTimeout;
        var idle = IdleTimeout(settings.IdleTimeout, responseHeader);
        if (mode.IsKubernetes)
        {
            var cluster = clusterTargets.For(@namespace, target);
            // Until the port resolves, the placeholder address is never used: the target is not ready, so requests wait.
            var service = cluster.ServicePrefix ?? "http://" + target.Service + "." + @namespace + ":" + (target.Port ?? 80).ToString(CultureInfo.InvariantCulture);
            return new UpstreamTarget(
                service,
                "https://" + service["http://".Length..],
                cluster.Key,
                clients.ForResponseHeaderTimeout(responseHeader),
                Config(target.Protocol == UpstreamProtocol.H2c, idle),
                Config(h2c: true, idle),
                timeouts.Request ?? settings.RequestTimeout,
                responseHeader,
                cluster.Readiness,
                cluster);
        }

        if (target.Workload is { } workload)
        {
            // Standalone mode: the local autoscaler's feed keeps the workload's ready replicas current.
            var local = localTargets.For(@namespace, workload);
            return new UpstreamTarget(
                "http://" + target.Service + ":80",
                "https://" + target.Service + ":80",
                "local workload " + local.Key,
                clients.ForResponseHeaderTimeout(responseHeader),
                Config(target.Protocol == UpstreamProtocol.H2c, idle),
                Config(h2c: true, idle),
                timeouts.Request ?? settings.RequestTimeout,
                responseHeader,
                local.Readiness,
                local);
        }

        var host = IPAddress.TryParse(target.Service, out var ip) && ip.AddressFamily == AddressFamily.InterNetworkV6
            ? "[" + ip + "]"
            : target.Service;
        var port = (target.Port ?? 80).ToString(CultureInfo.InvariantCulture);
        var endpoint = target.Service + ":" + port;
        return new UpstreamTarget(
            "http://" + host + ":" + port,
            "https://" + host + ":" + port,
            endpoint,
            clients.ForResponseHeaderTimeout(responseHeader),
            Config(target.Protocol == UpstreamProtocol.H2c, idle),
            Config(h2c: true, idle),
            timeouts.Request ?? settings.RequestTimeout,
            responseHeader,
            readiness.For(endpoint));
    }

    /// <summary>
    /// <c>UPDRAFT_IDLE_TIMEOUT</c>, stretched to the route's response-header timeout when that is longer: the idle clock
    /// also runs while the headers are awaited, and the first byte has its own, documented limit.
    /// </summary>
    internal static TimeSpan IdleTimeout(TimeSpan idle, TimeSpan responseHeader) =>
        idle <= TimeSpan.Zero ? NoIdleTimeout : responseHeader > idle ? responseHeader : idle;

    private ForwarderRequestConfig Config(bool h2c, TimeSpan idle)
    {
        // Called while a routing table is built (one thread at a time); a handful of distinct values.
        lock (_configs)
        {
            if (!_configs.TryGetValue((h2c, idle), out var config))
            {
                config = new ForwarderRequestConfig
                {
                    ActivityTimeout = idle,
                    Version = h2c ? HttpVersion.Version20 : HttpVersion.Version11,
                    VersionPolicy = h2c ? HttpVersionPolicy.RequestVersionExact : HttpVersionPolicy.RequestVersionOrLower,
                };
                _configs.Add((h2c, idle), config);
            }

            return config;
        }
    }
}
