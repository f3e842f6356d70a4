namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// A target whose destination is chosen per request from live state: a Kubernetes Service port's ready pods
/// (<see cref="Kubernetes.ClusterTarget"/>) or a local workload's ready replicas (<see cref="Local.LocalTarget"/>).
/// </summary>
/// <remarks>
/// Implementations keep their state in one immutable snapshot swapped atomically, so <see cref="Pick"/> is a volatile
/// read and an interlocked increment, and publish a readiness that is not ready whenever <see cref="Pick"/> can return
/// null (set before the snapshot empties, so a request that finds no destination also finds the target not ready).
/// </remarks>
internal interface IDestinationPicker
{
    /// <summary>The destination for the next request (scheme, host, port), taken in turn; null while there is none.</summary>
    public string? Pick(bool tls);

    /// <summary>The destination asks for HTTP/2 with prior knowledge whatever the route says.</summary>
    public bool UsesH2c { get; }
}
