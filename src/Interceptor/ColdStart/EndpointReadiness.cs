namespace Updraft.Interceptor.ColdStart;

/// <summary>What is known about an upstream target.</summary>
internal enum EndpointState
{
    /// <summary>Nothing yet (never connected, never probed). Treated as ready: the first request simply tries.</summary>
    Unknown,

    /// <summary>A connect succeeded (standalone) or the source says it has ready endpoints (Kubernetes).</summary>
    Ready,

    /// <summary>A connect was refused (standalone) or the source says it has no ready endpoint (Kubernetes).</summary>
    NotReady,
}

/// <summary>
/// The readiness of one upstream target (<c>host:port</c>), shared by every route that sends there. The state is an
/// immutable snapshot swapped atomically; each snapshot carries a task that completes when the state next flips, so
/// a flip wakes every waiter at once (a broadcast, not a per-request poll) and the check on the hot path is one
/// volatile read.
/// </summary>
/// <remarks>
/// Race-free waiting: a waiter reads the current snapshot, and if it is not ready awaits that snapshot's
/// <see cref="Snapshot.Changed"/>. A flip publishes the new snapshot before completing the old one's task, so a
/// waiter either sees the new state on its read or is woken by the old task; it can never sleep through a flip.
/// Who flips the state depends on the source (<see cref="IEndpointReadiness"/>): TCP probes and the forwarder's
/// connect results in standalone mode, EndpointSlices in Kubernetes mode.
/// </remarks>
internal sealed class EndpointReadiness
{
    private readonly Action<EndpointReadiness>? _wanted;
    private volatile Snapshot _current = new(EndpointState.Unknown);
    private int _waiters;

    /// <param name="endpoint"><c>host:port</c>.</param>
    /// <param name="wanted">Called when a request finds the target not ready (waiting or not), so a source that
    /// checks on demand can start looking. It must return quickly and tolerate being called many times.</param>
    public EndpointReadiness(string endpoint, Action<EndpointReadiness>? wanted = null)
    {
        Endpoint = endpoint;
        _wanted = wanted;
    }

    public string Endpoint { get; }

    /// <summary>True unless the target is known not to be ready (unknown counts as ready-to-try). One volatile read.</summary>
    public bool IsReady => _current.State != EndpointState.NotReady;

    public EndpointState State => _current.State;

    /// <summary>The current state object: a new one per change, so it identifies one readiness change.</summary>
    public object Current => _current;

    /// <summary>Requests currently waiting in <see cref="WaitUntilReadyAsync"/>.</summary>
    public int Waiters => Volatile.Read(ref _waiters);

    /// <summary>Sets the state; when it changes, wakes every waiter. Returns true when it changed.</summary>
    public bool Set(EndpointState state)
    {
        while (true)
        {
            var current = _current;
            if (current.State == state)
            {
                return false;
            }

            var next = new Snapshot(state);
#pragma warning disable CS0420 // Interlocked makes the volatile field's exchange atomic.
            if (Interlocked.CompareExchange(ref _current, next, current) == current)
#pragma warning restore CS0420
            {
                current.Flip();
                return true;
            }
        }
    }

    /// <summary>A request found the target not ready and will not wait (placeholder, static route, overflow).</summary>
    public void Want() => _wanted?.Invoke(this);

    /// <summary>Completes once the target is ready (at once if it already is). Cancellation throws.</summary>
    public async Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        if (IsReady)
        {
            return;
        }

        Interlocked.Increment(ref _waiters);
        try
        {
            _wanted?.Invoke(this);
            while (true)
            {
                var snapshot = _current;
                if (snapshot.State != EndpointState.NotReady)
                {
                    return;
                }

                await snapshot.Changed.WaitAsync(cancellationToken);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }

    /// <summary>One immutable state and the signal that it has been replaced.</summary>
    internal sealed class Snapshot(EndpointState state)
    {
        private readonly TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public EndpointState State { get; } = state;

        /// <summary>Completes when this snapshot is replaced by a newer one.</summary>
        public Task Changed => _changed.Task;

        public void Flip() => _changed.TrySetResult();
    }
}
