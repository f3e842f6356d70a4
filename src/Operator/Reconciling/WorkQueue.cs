namespace Updraft.Operator.Reconciling;

/// <summary>
/// Keys (<c>namespace/name</c>) waiting to be reconciled. A key is queued at most once; a key that is added while it
/// is being reconciled is marked dirty and queued again when that reconcile ends, so one key never runs twice at
/// once and no change is lost. Delayed adds keep the earliest due time; an immediate add wins over a delay.
/// </summary>
internal sealed class WorkQueue : IDisposable
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly Queue<string> _ready = new();
    private readonly HashSet<string> _queued = new(StringComparer.Ordinal);
    private readonly HashSet<string> _processing = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (DateTimeOffset Due, ITimer Timer)> _delayed = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _available = new(0);

    public WorkQueue(TimeProvider time) => _time = time;

    /// <summary>Keys waiting now or later (not those being reconciled).</summary>
    public int Depth
    {
        get
        {
            lock (_lock)
            {
                return _ready.Count + _delayed.Count;
            }
        }
    }

    /// <summary>Keys being reconciled now.</summary>
    public int InFlight
    {
        get
        {
            lock (_lock)
            {
                return _processing.Count;
            }
        }
    }

    public void Add(string key)
    {
        lock (_lock)
        {
            if (_delayed.Remove(key, out var delayed))
            {
                delayed.Timer.Dispose();
            }

            if (_processing.Contains(key))
            {
                _dirty.Add(key);
                return;
            }

            if (!_queued.Add(key))
            {
                return;
            }

            _ready.Enqueue(key);
        }

        _available.Release();
    }

    /// <summary>Queues <paramref name="key"/> after <paramref name="delay"/>, unless it is due sooner already.</summary>
    public void AddAfter(string key, TimeSpan delay)
    {
        if (delay <= TimeSpan.Zero)
        {
            Add(key);
            return;
        }

        lock (_lock)
        {
            if (_queued.Contains(key) || _dirty.Contains(key))
            {
                return;
            }

            var due = _time.GetUtcNow() + delay;
            if (_delayed.TryGetValue(key, out var existing))
            {
                if (existing.Due <= due)
                {
                    return;
                }

                existing.Timer.Dispose();
            }

            var timer = _time.CreateTimer(static state => ((Action)state!)(), (Action)(() => Fire(key, due)), delay, Timeout.InfiniteTimeSpan);
            _delayed[key] = (due, timer);
        }
    }

    /// <summary>Waits for the next key and marks it as being reconciled; call <see cref="Done"/> when finished.</summary>
    public async ValueTask<string> TakeAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await _available.WaitAsync(cancellationToken);
            lock (_lock)
            {
                // Clear may have emptied the queue after the signal was given.
                if (_ready.TryDequeue(out var key))
                {
                    _queued.Remove(key);
                    _processing.Add(key);
                    return key;
                }
            }
        }
    }

    /// <summary>Ends a reconcile of <paramref name="key"/>; a key added meanwhile is queued again at once.</summary>
    public void Done(string key)
    {
        lock (_lock)
        {
            _processing.Remove(key);
            if (!_dirty.Remove(key) || !_queued.Add(key))
            {
                return;
            }

            _ready.Enqueue(key);
        }

        _available.Release();
    }

    /// <summary>Drops everything waiting (on losing leadership); reconciles in progress still end with <see cref="Done"/>.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _ready.Clear();
            _queued.Clear();
            _dirty.Clear();
            foreach (var (_, delayed) in _delayed)
            {
                delayed.Timer.Dispose();
            }

            _delayed.Clear();
        }
    }

    private void Fire(string key, DateTimeOffset due)
    {
        lock (_lock)
        {
            // A later AddAfter or an Add may have replaced this timer.
            if (!_delayed.TryGetValue(key, out var delayed) || delayed.Due != due)
            {
                return;
            }
        }

        Add(key);
    }

    public void Dispose()
    {
        Clear();
        _available.Dispose();
    }
}
