using Updraft.Kubernetes.Client;
using Updraft.Operator.Telemetry;

namespace Updraft.Operator.Reconciling;

/// <summary>
/// Runs one reconciler while this replica leads: a <see cref="WorkQueue"/> of keys, a fixed number of workers (one
/// slow reconcile never blocks the others), exponential back-off per key on failure (capped, never giving up), and a
/// periodic resync of every key. Keys enqueued while not running are dropped: the first pass after
/// <see cref="RunAsync"/> starts reconciles everything anyway.
/// </summary>
internal sealed class Controller : IDisposable
{
    public static readonly TimeSpan MinBackoff = TimeSpan.FromMilliseconds(50);
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromMinutes(2);

    private readonly IReconciler _reconciler;
    private readonly int _workers;
    private readonly TimeSpan _resyncPeriod;
    private readonly OperatorMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Dictionary<string, int> _failures = new(StringComparer.Ordinal);
    private volatile bool _running;

    public Controller(IReconciler reconciler, int workers, TimeSpan resyncPeriod, OperatorMetrics metrics, TimeProvider time, ILogger logger)
    {
        _reconciler = reconciler;
        _workers = workers;
        _resyncPeriod = resyncPeriod;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        Queue = new WorkQueue(time);
        metrics.TrackQueue(reconciler.Name, () => Queue.Depth);
    }

    public string Name => _reconciler.Name;

    public WorkQueue Queue { get; }

    /// <summary>Asks for <paramref name="key"/> to be reconciled (no-op while not running).</summary>
    public void Enqueue(string key)
    {
        if (_running)
        {
            Queue.Add(key);
        }
    }

    /// <summary>Reconciles until <paramref name="cancellationToken"/> is cancelled (leadership lost or shutdown), then drops the queue.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        _running = true;
        try
        {
            EnqueueAll();
            var tasks = new List<Task>(_workers + 1) { ResyncAsync(cancellationToken) };
            for (var i = 0; i < _workers; i++)
            {
                tasks.Add(WorkAsync(cancellationToken));
            }

            await Task.WhenAll(tasks);
        }
        finally
        {
            _running = false;
            Queue.Clear();
            lock (_failures)
            {
                _failures.Clear();
            }
        }
    }

    /// <summary>Asks for every key the reconciler manages (no-op while not running).</summary>
    public void EnqueueAll()
    {
        if (!_running)
        {
            return;
        }

        foreach (var key in _reconciler.Keys())
        {
            Queue.Add(key);
        }
    }

    private async Task ResyncAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_resyncPeriod, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellationToken))
            {
                EnqueueAll();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private async Task WorkAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            string key;
            try
            {
                key = await Queue.TakeAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            await ReconcileOneAsync(key, cancellationToken);
        }
    }

    private async Task ReconcileOneAsync(string key, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        _metrics.WorkerStarted(Name);
        try
        {
            var result = await _reconciler.ReconcileAsync(key, cancellationToken);
            lock (_failures)
            {
                _failures.Remove(key);
            }

            if (result.RequeueAfter is { } after)
            {
                Queue.AddAfter(key, after);
            }

            _metrics.Reconciled(Name, result.RequeueAfter is null ? "success" : "requeue_after", _time.GetElapsedTime(started));
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Leadership lost or shutting down: the key is dropped with the queue.
        }
        catch (Exception e)
        {
            var delay = NextBackoff(key);
            Queue.AddAfter(key, delay);
            _metrics.Reconciled(Name, "error", _time.GetElapsedTime(started));
            // An API error is expected now and then; its stack trace says nothing. Anything else is a defect.
            Log.ReconcileFailed(_logger, Name, key, delay, e.Message, e is KubeApiException or HttpRequestException ? null : e);
        }
        finally
        {
            _metrics.WorkerFinished(Name);
            Queue.Done(key);
        }
    }

    private TimeSpan NextBackoff(string key)
    {
        int failures;
        lock (_failures)
        {
            _failures[key] = failures = _failures.GetValueOrDefault(key) + 1;
        }

        var ticks = MinBackoff.Ticks * Math.Pow(2, Math.Min(failures - 1, 30));
        return TimeSpan.FromTicks((long)Math.Min(ticks, MaxBackoff.Ticks));
    }

    public void Dispose() => Queue.Dispose();
}
