using System.Globalization;
using Updraft.Shared.Workloads;

namespace Updraft.Local.Replicas;

/// <summary>
/// The replicas of one local workload, each a process on its own loopback port. <see cref="SetDesired"/> starts and
/// stops them in the background; <see cref="ReadyAddresses"/> is what the interceptors may send requests to. A
/// replica that crashes (or never becomes ready) is restarted after a back-off. Thread-safe.
/// </summary>
/// <remarks>
/// Stopping one replica: it leaves <see cref="ReadyAddresses"/> (<see cref="Changed"/> is raised), then
/// <c>unpublished</c> is awaited (it completes once every interceptor has applied addresses without it), then SIGTERM,
/// SIGKILL after the workload's termination grace period, and the exit. A replica finishes its requests in flight on
/// SIGTERM itself, as a pod does. Only the replica's own process gets SIGTERM: a wrapper script should <c>exec</c> the
/// server or pass the signal on; SIGKILL after the grace period reaches every descendant still under it.
/// </remarks>
internal sealed class WorkloadReplicas : IAsyncDisposable
{
    public static readonly TimeSpan InitialBackoff = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(30);

    /// <summary>A replica ready this long before it fails restarts its back-off from <see cref="InitialBackoff"/>.</summary>
    public static readonly TimeSpan BackoffReset = TimeSpan.FromSeconds(60);

    private const string ShutdownReason = "(shutdown)";

    private readonly Lock _lock = new();
    private readonly List<Replica> _replicas = [];
    private string[] _readyAddresses = [];
    private int _desired;
    private long _sequence;
    private Task? _stopAll;

    /// <param name="unpublished">Awaited before a ready replica gets SIGTERM; completes once no interceptor sends it requests.</param>
    /// <param name="events">Where replica events go (one line each on stdout, and records).</param>
    /// <param name="output">Where the replicas' own stdout and stderr lines are re-printed, prefixed.</param>
    /// <param name="timeProvider">
    /// The clock of the restart back-off and of the status times (a fake one in tests). Waits that race a real process
    /// (readiness checks and timeout, the termination grace period) run on real time.
    /// </param>
    public WorkloadReplicas(WorkloadDefinition workload, Func<CancellationToken, Task> unpublished, ReplicaEventLog events, TextWriter output, TimeProvider timeProvider)
    {
        Workload = workload;
        Unpublished = unpublished;
        Events = events;
        Output = TextWriter.Synchronized(output);
        TimeProvider = timeProvider;
        Ports = new PortAllocator(workload.Ports);
        Probe = new ReadinessProbe(workload.Readiness);
    }

    /// <summary>Raised (on the thread that made the change) whenever <see cref="ReadyAddresses"/> is replaced.</summary>
    public event Action? Changed;

    public WorkloadDefinition Workload { get; }

    /// <summary><c>127.0.0.1:PORT</c> of each replica that is ready and not stopping, by index; an immutable snapshot.</summary>
    public IReadOnlyList<string> ReadyAddresses => Volatile.Read(ref _readyAddresses);

    /// <summary>The replica count last asked for with <see cref="SetDesired"/> (0 after <see cref="StopAllAsync"/>).</summary>
    public int Desired
    {
        get
        {
            lock (_lock)
            {
                return _desired;
            }
        }
    }

    /// <summary>Replicas whose process is alive (starting, ready or stopping).</summary>
    public int Running
    {
        get
        {
            lock (_lock)
            {
                var running = 0;
                foreach (var replica in _replicas)
                {
                    running += replica.Alive ? 1 : 0;
                }

                return running;
            }
        }
    }

    /// <summary>Every replica, stopping ones included, by index.</summary>
    public IReadOnlyList<ReplicaStatus> Replicas
    {
        get
        {
            lock (_lock)
            {
                var statuses = new List<ReplicaStatus>(_replicas.Count);
                foreach (var replica in _replicas)
                {
                    statuses.Add(replica.Status());
                }

                statuses.Sort(static (a, b) => a.Index.CompareTo(b.Index));
                return statuses;
            }
        }
    }

    internal Func<CancellationToken, Task> Unpublished { get; }

    internal ReplicaEventLog Events { get; }

    internal TextWriter Output { get; }

    internal TimeProvider TimeProvider { get; }

    internal PortAllocator Ports { get; }

    internal ReadinessProbe Probe { get; }

    /// <summary>Guards every replica's state and the list; never held across an await or a callback.</summary>
    internal Lock Sync => _lock;

    /// <summary>
    /// Asks for <paramref name="replicas"/> replicas (at most <see cref="WorkloadDefinition.MaxReplicas"/>) and returns
    /// at once: new replicas start in the background; surplus ones (those waiting out a back-off first, then those not
    /// ready yet, then the newest) leave <see cref="ReadyAddresses"/> before this returns and stop in the background.
    /// Ignored after <see cref="StopAllAsync"/>.
    /// </summary>
    /// <param name="reason">Why, for the event log: <c>(scale 0->1: reason)</c>.</param>
    public void SetDesired(int replicas, string reason)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(replicas);
        replicas = Math.Min(replicas, Workload.MaxReplicas);
        List<Replica> stopping = [];
        bool changed;
        string cause;
        lock (_lock)
        {
            if (_stopAll is not null || replicas == _desired)
            {
                return;
            }

            cause = string.Create(CultureInfo.InvariantCulture, $"(scale {_desired}->{replicas}: {reason})");
            _desired = replicas;
            var active = new List<Replica>(_replicas.Count);
            foreach (var replica in _replicas)
            {
                if (!replica.StopRequested)
                {
                    active.Add(replica);
                }
            }

            for (var count = active.Count; count < replicas; count++)
            {
                var replica = new Replica(this, NextIndex(), ++_sequence, cause);
                _replicas.Add(replica);
                replica.Start();
            }

            if (active.Count > replicas)
            {
                active.Sort(static (a, b) => a.StopRank != b.StopRank ? a.StopRank.CompareTo(b.StopRank) : b.Sequence.CompareTo(a.Sequence));
                for (var i = 0; i < active.Count - replicas; i++)
                {
                    active[i].MarkStopping();
                    stopping.Add(active[i]);
                }
            }

            changed = PublishLocked();
        }

        if (changed)
        {
            RaiseChanged();
        }

        foreach (var replica in stopping)
        {
            replica.RequestStop(cause);
        }
    }

    /// <summary>
    /// Stops every replica (in parallel, each with the full stop protocol) and completes when every process has exited.
    /// Later <see cref="SetDesired"/> calls are ignored. Safe to call more than once.
    /// </summary>
    /// <param name="reason">For the <c>stopping</c> events: <c>shutdown</c>, or why the workload is going away.</param>
    public Task StopAllAsync(string reason = ShutdownReason)
    {
        List<Replica> stopping = [];
        Task[] supervisors;
        bool changed;
        lock (_lock)
        {
            if (_stopAll is not null)
            {
                return _stopAll;
            }

            _desired = 0;
            supervisors = new Task[_replicas.Count];
            for (var i = 0; i < _replicas.Count; i++)
            {
                supervisors[i] = _replicas[i].Supervisor;
                if (!_replicas[i].StopRequested)
                {
                    _replicas[i].MarkStopping();
                    stopping.Add(_replicas[i]);
                }
            }

            changed = PublishLocked();
            _stopAll = WaitForAllAsync(supervisors);
        }

        if (changed)
        {
            RaiseChanged();
        }

        foreach (var replica in stopping)
        {
            replica.RequestStop(reason);
        }

        return _stopAll;
    }

    public async ValueTask DisposeAsync() => await StopAllAsync();

    /// <summary>Replaces <see cref="ReadyAddresses"/> if the ready replicas changed; the caller raises <see cref="Changed"/> after unlocking.</summary>
    internal bool PublishLocked()
    {
        List<(int Index, string Address)> ready = [];
        foreach (var replica in _replicas)
        {
            if (replica.State == ReplicaState.Ready && replica.Port is int port)
            {
                ready.Add((replica.Index, "127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture)));
            }
        }

        ready.Sort(static (a, b) => a.Index.CompareTo(b.Index));
        var current = _readyAddresses;
        if (current.Length == ready.Count)
        {
            var same = true;
            for (var i = 0; i < current.Length && same; i++)
            {
                same = current[i] == ready[i].Address;
            }

            if (same)
            {
                return false;
            }
        }

        var addresses = new string[ready.Count];
        for (var i = 0; i < addresses.Length; i++)
        {
            addresses[i] = ready[i].Address;
        }

        Volatile.Write(ref _readyAddresses, addresses);
        return true;
    }

    internal void RaiseChanged()
    {
        try
        {
            Changed?.Invoke();
        }
#pragma warning disable CA1031 // A subscriber's failure must not end the replica's supervision (its process would be orphaned).
        catch (Exception e)
#pragma warning restore CA1031
        {
            Events.Note($"{Workload.Key}: a handler of the ready addresses' change failed: {e.GetType().Name}: {e.Message}");
        }
    }

    /// <summary>Called by a replica's supervision as it ends: its process has exited and no restart is pending.</summary>
    internal void Remove(Replica replica)
    {
        lock (_lock)
        {
            _replicas.Remove(replica);
        }
    }

    private async Task WaitForAllAsync(Task[] supervisors)
    {
        try
        {
            await Task.WhenAll(supervisors);
        }
        finally
        {
            Probe.Dispose();
        }
    }

    private int NextIndex()
    {
        for (var index = 1; ; index++)
        {
            var taken = false;
            foreach (var replica in _replicas)
            {
                taken |= replica.Index == index;
            }

            if (!taken)
            {
                return index;
            }
        }
    }
}
