using System.Collections.Concurrent;
using System.Collections.Frozen;
using Updraft.Interceptor.Telemetry;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Local;

/// <summary>
/// Every <see cref="LocalTarget"/> in use, updated from the local replicas feed (<see cref="LocalReplicaFeed"/>). Also
/// decides what a refused connect to a replica means: while the feed still lists the replica the connector keeps
/// dialling (the feed corrects the set, as EndpointSlices do in Kubernetes mode); once it no longer does, the request
/// goes back to pick another replica or wait.
/// </summary>
internal sealed class LocalTargets(InterceptorMetrics metrics)
{
    /// <summary>Addresses remembered as former replicas at most; beyond, the memory starts afresh.</summary>
    public const int MaxRetired = 10_000;

    private readonly ConcurrentDictionary<string, LocalTarget> _targets = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _retired = new(StringComparer.OrdinalIgnoreCase);

    // The feed and route-table rebuilds both touch targets: a target created while a snapshot is applied must start
    // from that snapshot, never from the one before.
    private readonly Lock _gate = new();
    private FrozenDictionary<string, ReplicaAddress[]> _latest = FrozenDictionary<string, ReplicaAddress[]>.Empty;
    private volatile FrozenSet<string> _current = FrozenSet<string>.Empty;

    /// <summary>The last snapshot applied, by workload key (<c>namespace/name</c>); empty before the first.</summary>
    public IReadOnlyDictionary<string, ReplicaAddress[]> Latest => Volatile.Read(ref _latest);

    /// <summary>The version of the last snapshot applied, or null before the first.</summary>
    public ulong? Version { get; private set; }

    /// <summary>The target for local workload <paramref name="workload"/> in <paramref name="namespace"/>; the same object for the same workload.</summary>
    public LocalTarget For(string @namespace, string workload)
    {
        var key = RouteKeys.Format(@namespace, workload);
        if (_targets.TryGetValue(key, out var existing))
        {
            return existing;
        }

        lock (_gate)
        {
            if (_targets.TryGetValue(key, out existing))
            {
                return existing;
            }

            var target = new LocalTarget(key);
            if (_latest.TryGetValue(key, out var replicas))
            {
                target.Set(replicas);
            }

            _targets[key] = target;
            return target;
        }
    }

    /// <summary>
    /// Puts a whole snapshot in force: from the return on, no request picks a replica it does not list. Workloads it
    /// does not name have no ready replica.
    /// </summary>
    public void Apply(IReadOnlyDictionary<string, ReplicaAddress[]> workloads, ulong version)
    {
        lock (_gate)
        {
            var previous = _latest;
            var latest = workloads.ToFrozenDictionary(StringComparer.Ordinal);
            foreach (var (key, target) in _targets)
            {
                target.Set(latest.TryGetValue(key, out var replicas) ? replicas : []);
            }

            var current = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
            foreach (var (key, replicas) in latest)
            {
                foreach (var replica in replicas)
                {
                    current.Add(replica.Endpoint);
                    _retired.TryRemove(replica.Endpoint, out _);
                }

                metrics.SetLocalReplicas(key, replicas.Length);
            }

            foreach (var endpoint in _current)
            {
                if (!current.Contains(endpoint))
                {
                    if (_retired.Count >= MaxRetired)
                    {
                        _retired.Clear();
                    }

                    _retired[endpoint] = 0;
                }
            }

            foreach (var key in previous.Keys)
            {
                if (!latest.ContainsKey(key))
                {
                    metrics.RemoveLocalReplicas(key);
                }
            }

            _current = current.ToFrozenSet(StringComparer.OrdinalIgnoreCase);
            Volatile.Write(ref _latest, latest);
            Version = version;
        }
    }

    /// <summary>
    /// A connect to <paramref name="endpoint"/> (<c>host:port</c>) was refused. Null: not a local replica's address;
    /// false: the feed still lists it, keep dialling; true: it was a replica and is no longer, stop and pick again.
    /// </summary>
    public bool? ConnectionRefused(string endpoint) =>
        _current.Contains(endpoint) ? false : _retired.ContainsKey(endpoint) ? true : null;
}
