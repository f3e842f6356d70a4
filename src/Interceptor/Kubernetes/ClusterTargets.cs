using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Options;
using Updraft.Kubernetes.Endpoints;
using Updraft.Kubernetes.Model;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Kubernetes;

/// <summary>
/// Every <see cref="ClusterTarget"/> in use, updated from the Service and EndpointSlice watches. Also the
/// interceptor's <see cref="IEndpointReadiness"/> in Kubernetes mode: readiness comes from EndpointSlices alone, so
/// a refused connect never marks a target not ready (the connector keeps dialling an address that is still being
/// programmed, as the add-on does).
/// </summary>
internal sealed class ClusterTargets(IOptions<InterceptorOptions> options) : IEndpointReadiness
{
    private readonly ConcurrentDictionary<string, ClusterTarget> _targets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, EndpointReadiness> _byAddress = new(StringComparer.Ordinal);
    private Func<string, Service?> _services = static _ => null;
    private Func<string, ServiceEndpoints> _endpoints = ServiceEndpoints.Empty;

    /// <summary>Connects the sources once the watches exist (before the first routing table is built).</summary>
    public void Attach(Func<string, Service?> services, Func<string, ServiceEndpoints> endpoints)
    {
        _services = services;
        _endpoints = endpoints;
        foreach (var target in _targets.Values)
        {
            target.Update(services(target.ServiceKey), endpoints(target.ServiceKey));
        }
    }

    /// <summary>The target for <paramref name="upstream"/> in <paramref name="namespace"/>; the same object for the same Service port.</summary>
    public ClusterTarget For(string @namespace, UpstreamRef upstream)
    {
        var directPods = options.Value.DirectPodRouting;
        var probe = new ClusterTarget(@namespace, upstream.Service, upstream.Port, upstream.PortName, directPods);
        if (_targets.TryGetValue(probe.Key, out var existing))
        {
            return existing;
        }

        var target = _targets.GetOrAdd(probe.Key, probe);
        if (target == probe)
        {
            target.Update(_services(target.ServiceKey), _endpoints(target.ServiceKey));
        }

        return target;
    }

    /// <summary>A Service was added, changed or deleted (null).</summary>
    public void ServiceChanged(string serviceKey, Service? service) => Refresh(serviceKey, service, _endpoints(serviceKey));

    /// <summary>A Service's EndpointSlices changed.</summary>
    public void EndpointsChanged(ServiceEndpoints endpoints) => Refresh(endpoints.Key, _services(endpoints.Key), endpoints);

    /// <summary>Re-reads every target (after a re-list).</summary>
    public void RefreshAll()
    {
        foreach (var target in _targets.Values)
        {
            target.Update(_services(target.ServiceKey), _endpoints(target.ServiceKey));
        }
    }

    private void Refresh(string serviceKey, Service? service, ServiceEndpoints endpoints)
    {
        foreach (var target in _targets.Values)
        {
            if (target.ServiceKey == serviceKey)
            {
                target.Update(service, endpoints);
            }
        }
    }

    EndpointReadiness IEndpointReadiness.For(string endpoint) => _byAddress.GetOrAdd(endpoint, static key => new EndpointReadiness(key));

    bool IEndpointReadiness.ConnectionRefused(string endpoint) => false;

    void IEndpointReadiness.Connected(string endpoint)
    {
    }
}
