using Prometheus;

namespace Updraft.Operator.Telemetry;

/// <summary>
/// The operator's Prometheus metrics, in a registry of its own. Reconcile and queue metrics use controller-runtime's
/// names and labels, so dashboards and alerts written for the add-on's operator (and any kubebuilder operator) work.
/// </summary>
internal sealed class OperatorMetrics
{
    private readonly Counter _reconciles;
    private readonly Counter _errors;
    private readonly Histogram _reconcileTime;
    private readonly Gauge _activeWorkers;
    private readonly Gauge _queueDepth;
    private readonly Counter _writes;
    private readonly Gauge _leader;
    private readonly Gauge _watchLists;
    private readonly Gauge _watchFailures;
    private readonly Counter _eventsDropped;
    private readonly Gauge _eventsPending;
    private readonly List<(string Name, Func<int> Depth)> _queues = [];
    private long _writeCount;

    public OperatorMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _reconciles = factory.CreateCounter("controller_runtime_reconcile_total", "Reconciles per controller and result.", "controller", "result");
        _errors = factory.CreateCounter("controller_runtime_reconcile_errors_total", "Reconciles that failed (retried with back-off).", "controller");
        _reconcileTime = factory.CreateHistogram("controller_runtime_reconcile_time_seconds", "Time per reconcile.", new HistogramConfiguration
        {
            LabelNames = ["controller"],
            Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16),
        });
        _activeWorkers = factory.CreateGauge("controller_runtime_active_workers", "Reconciles running now.", "controller");
        _queueDepth = factory.CreateGauge("workqueue_depth", "Keys waiting to be reconciled (now or after a delay).", "name");
        _writes = factory.CreateCounter("updraft_operator_api_writes_total", "Write requests sent to the API server.", "resource", "verb");
        _leader = factory.CreateGauge("leader_election_master_status", "1 while this replica holds the lease (or runs without leader election).", "name");
        _watchLists = factory.CreateGauge("updraft_operator_kube_watch_lists_total", "Full lists per watched resource (1 after the first sync; more after 410 Gone or errors).", "resource");
        _watchFailures = factory.CreateGauge("updraft_operator_kube_watch_failures_total", "Failed list or watch requests per watched resource.", "resource");
        _eventsDropped = factory.CreateCounter("updraft_operator_events_dropped_total", "Kubernetes Events not written because the queue was full.");
        _eventsPending = factory.CreateGauge("updraft_operator_events_pending", "Kubernetes Events queued or being written.");
        Registry.AddBeforeCollectCallback(() =>
        {
            lock (_queues)
            {
                foreach (var (name, depth) in _queues)
                {
                    _queueDepth.WithLabels(name).Set(depth());
                }
            }
        });
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Write requests so far, over every resource and verb.</summary>
    public long Writes => Interlocked.Read(ref _writeCount);

    public void TrackQueue(string name, Func<int> depth)
    {
        lock (_queues)
        {
            _queues.Add((name, depth));
        }

        _reconciles.WithLabels(name, "success").IncTo(0);
        _errors.WithLabels(name).IncTo(0);
    }

    public void Reconciled(string controller, string result, TimeSpan elapsed)
    {
        _reconciles.WithLabels(controller, result).Inc();
        if (result == "error")
        {
            _errors.WithLabels(controller).Inc();
        }

        _reconcileTime.WithLabels(controller).Observe(elapsed.TotalSeconds);
    }

    public void WorkerStarted(string controller) => _activeWorkers.WithLabels(controller).Inc();

    public void WorkerFinished(string controller) => _activeWorkers.WithLabels(controller).Dec();

    public void Wrote(string resource, string verb)
    {
        _writes.WithLabels(resource, verb).Inc();
        Interlocked.Increment(ref _writeCount);
    }

    public void SetWatchCounts(string resource, long lists, long failures)
    {
        _watchLists.WithLabels(resource).Set(lists);
        _watchFailures.WithLabels(resource).Set(failures);
    }

    public void EventDropped() => _eventsDropped.Inc();

    public void SetEventsPending(int pending) => _eventsPending.Set(pending);

    public void SetLeader(string lease, bool leading) => _leader.WithLabels(lease).Set(leading ? 1 : 0);
}
