using System.Collections.Frozen;

namespace Updraft.Kubernetes.Endpoints;

/// <summary>One address a Service's port reaches on one pod.</summary>
public readonly record struct PodAddress(string Ip, int Port);

/// <summary>
/// A Service's endpoints merged over all its EndpointSlices: whether it can take requests, and the pod addresses per
/// port name (<c>""</c> for an unnamed port). Immutable; a new snapshot replaces it on every change.
/// </summary>
/// <remarks>
/// Conditions as Kubernetes defines them: an endpoint is ready when <c>ready</c> is true or absent. When no endpoint
/// is ready, endpoints that are terminating but still <c>serving</c> are used (so a Service whose last pods are
/// shutting down keeps answering instead of holding requests), as Gateway API implementations do. The first address
/// of each endpoint is used, as the add-on does.
/// </remarks>
public sealed class ServiceEndpoints
{
    public static readonly FrozenDictionary<string, PodAddress[]> NoPorts = FrozenDictionary<string, PodAddress[]>.Empty;

    public ServiceEndpoints(string key, FrozenDictionary<string, PodAddress[]> addressesByPort)
    {
        Key = key;
        AddressesByPort = addressesByPort;
        foreach (var addresses in addressesByPort.Values)
        {
            if (addresses.Length > 0)
            {
                Ready = true;
                break;
            }
        }
    }

    /// <summary><c>namespace/service</c>.</summary>
    public string Key { get; }

    /// <summary>Some endpoint can take requests.</summary>
    public bool Ready { get; }

    public FrozenDictionary<string, PodAddress[]> AddressesByPort { get; }

    public static ServiceEndpoints Empty(string key) => new(key, NoPorts);

    public bool SameAs(ServiceEndpoints other)
    {
        if (Ready != other.Ready || AddressesByPort.Count != other.AddressesByPort.Count)
        {
            return false;
        }

        foreach (var (port, addresses) in AddressesByPort)
        {
            if (!other.AddressesByPort.TryGetValue(port, out var others) || !addresses.AsSpan().SequenceEqual(others))
            {
                return false;
            }
        }

        return true;
    }
}
