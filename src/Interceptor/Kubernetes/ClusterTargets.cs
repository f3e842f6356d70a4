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

    // The route, Service and EndpointSlice watches update targets from their own threads. Each update reads both
    // sources afresh under this lock, so an update computed from reads made before another source changed can never
    // land after (and overwrite) the update that change triggered: such a lost update would leave a target not
    // ready, holding its requests, with no later event to correct it.
    private readonly Lock _gate = new();
    private Func<string, Service?> _services = static _ => null;
    private Func<string, ServiceEndpoints> _endpoints = ServiceEndpoints.Empty;

    /// <summary>Connects the sources once the watches exist (before the first routing table is built).</summary>
    public void Attach(Func<string, Service?> services, Func<string, ServiceEndpoints> endpoints)
    {
        lock (_gate)
        {
            _services = services;
            _endpoints = endpoints;
        }

        RefreshAll();
    }

    /// <summary>The target for <paramref name="upstream"/> in <paramref name="namespace"/>; the same object for the same Service port.</summary>
    public ClusterTarget For(string @namespace, UpstreamRef upstream)
    {
        var key = ClusterTarget.KeyOf(@namespace, upstream.Service, upstream.Port, upstream.PortName);
        if (_targets.TryGetValue(key, out var existing))
        {
            return existing;
        }

        var created = new ClusterTarget(@namespace, upstream.Service, upstream.Port, upstream.PortName, options.Value.DirectPodRouting);
        var target = _targets.GetOrAdd(key, created);
        if (target == created)
        {
            Refresh(target);
        }

        return target;
    }

    /// <summary>The Service <paramref name="serviceKey"/> was added, changed or deleted (already reflected in the source).</summary>
    public void ServiceChanged(string serviceKey) => Refresh(serviceKey);

    /// <summary>A Service's EndpointSlices changed (already reflected in the source).</summary>
    public void EndpointsChanged(ServiceEndpoints endpoints) => Refresh(endpoints.Key);

    /// <summary>Re-reads every target (after a re-list).</summary>
    public void RefreshAll()
    {
        foreach (var target in _targets.Values)
        {
            Refresh(target);
        }
    }

    private void Refresh(string serviceKey)
    {
        foreach (var target in _targets.Values)
        {
            if (target.ServiceKey == serviceKey)
            {
                Refresh(target);
            }
        }
    }

    private void Refresh(ClusterTarget target)
    {
        lock (_gate)
        {
            target.Update(_services(target.ServiceKey), _endpoints(target.ServiceKey));
        }
    }

    // Kubernetes mode resolves targets per Service port (For(namespace, upstream)); nothing asks by address.
    EndpointReadiness IEndpointReadiness.For(string endpoint) =>
        throw new NotSupportedException("in Kubernetes mode readiness is per Service port: use ClusterTargets.For(namespace, upstream)");

    bool IEndpointReadiness.ConnectionRefused(string endpoint) => false;

    void IEndpointReadiness.Connected(string endpoint)
    {
    }
}
