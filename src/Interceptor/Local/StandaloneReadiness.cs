using Updraft.Interceptor.ColdStart;

namespace Updraft.Interceptor.Local;

/// <summary>
/// Standalone mode's <see cref="IEndpointReadiness"/>: <see cref="TcpProbeReadiness"/> for fixed <c>host:port</c>
/// targets, and the feed's rule for a local workload's replicas (<see cref="LocalTargets.ConnectionRefused"/>): a
/// refused replica the feed still lists is dialled again, one it no longer lists sends the request back to pick again.
/// </summary>
internal sealed class StandaloneReadiness(TcpProbeReadiness probes, LocalTargets local) : IEndpointReadiness
{
    public EndpointReadiness For(string endpoint) => probes.For(endpoint);

    public bool ConnectionRefused(string endpoint) => local.ConnectionRefused(endpoint) ?? probes.ConnectionRefused(endpoint);

    public void Connected(string endpoint) => probes.Connected(endpoint);
}
