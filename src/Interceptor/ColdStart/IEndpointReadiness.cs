namespace Updraft.Interceptor.ColdStart;

/// <summary>
/// Where the interceptor learns whether an upstream target can take requests. One <see cref="EndpointReadiness"/>
/// per target, looked up when the routing table is built (never per request), so the hot path only reads its state.
/// </summary>
/// <remarks>
/// Standalone mode uses <see cref="TcpProbeReadiness"/>. Kubernetes mode will feed the same objects from
/// EndpointSlices (ready = some endpoint with <c>conditions.ready</c> nil-or-true), and will answer
/// <see cref="ConnectionRefused"/> with false while the slices say ready, so the connector keeps dialling a Service
/// address that is not programmed yet instead of sending the request back to wait.
/// </remarks>
internal interface IEndpointReadiness
{
    /// <summary>The readiness of <paramref name="endpoint"/> (<c>host:port</c>); the same object for the same key.</summary>
    public EndpointReadiness For(string endpoint);

    /// <summary>
    /// The forwarder's connect to <paramref name="endpoint"/> was refused. True: the target is now not ready and the
    /// connector should give up at once so the request waits in the hold queue; false: keep retrying the connect.
    /// </summary>
    public bool ConnectionRefused(string endpoint);

    /// <summary>The forwarder connected to <paramref name="endpoint"/>.</summary>
    public void Connected(string endpoint);
}
