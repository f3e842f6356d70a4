using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Forwarding;

namespace Updraft.Interceptor.Local;

/// <summary>
/// A route's upstream when it names a local workload (standalone mode): the workload's ready replicas as the local
/// autoscaler's feed last reported them. One per workload, shared by every route that names it and kept across
/// routing-table rebuilds, so requests held on it are released by the feed itself.
/// </summary>
/// <remarks>
/// Ready: at least one ready replica (before the feed has said anything, none). Destination: the ready replicas taken
/// in turn. The replicas are an immutable snapshot swapped atomically; the request path reads it once.
/// </remarks>
internal sealed class LocalTarget : IDestinationPicker
{
    private volatile State _state = State.Empty;
    private int _next;

    /// <param name="key"><c>namespace/name</c> of the workload.</param>
    public LocalTarget(string key)
    {
        Key = key;
        Readiness = new EndpointReadiness(key);
        Readiness.Set(EndpointState.NotReady);
    }

    /// <summary><c>namespace/name</c>.</summary>
    public string Key { get; }

    public EndpointReadiness Readiness { get; }

    /// <summary>The ready replicas now, in the feed's order.</summary>
    public IReadOnlyList<ReplicaAddress> Replicas => _state.Replicas;

    public bool UsesH2c => false;

    public string? Pick(bool tls)
    {
        var destinations = tls ? _state.Tls : _state.Plain;
        if (destinations.Length == 0)
        {
            return null;
        }

        var turn = (uint)Interlocked.Increment(ref _next);
        return destinations[turn % (uint)destinations.Length];
    }

    /// <summary>Puts <paramref name="replicas"/> in force (one writer at a time: <see cref="LocalTargets"/> serialises).</summary>
    public void Set(ReplicaAddress[] replicas)
    {
        var next = new State(replicas);
        if (replicas.Length == 0)
        {
            // Not ready first: a request that finds no destination also finds the target not ready (IDestinationPicker).
            Readiness.Set(EndpointState.NotReady);
            _state = next;
        }
        else
        {
            _state = next;
            Readiness.Set(EndpointState.Ready);
        }
    }

    private sealed class State
    {
        public static readonly State Empty = new([]);

        public State(ReplicaAddress[] replicas)
        {
            Replicas = replicas;
            Plain = new string[replicas.Length];
            Tls = new string[replicas.Length];
            for (var i = 0; i < replicas.Length; i++)
            {
                Plain[i] = "http://" + replicas[i].Authority;
                Tls[i] = "https://" + replicas[i].Authority;
            }
        }

        public ReplicaAddress[] Replicas { get; }

        public string[] Plain { get; }

        public string[] Tls { get; }
    }
}
