using Updraft.Kubernetes.Watching;
using Updraft.Operator.Cluster;
using Updraft.Operator.Functions;
using Updraft.Operator.HttpScaledObjects;
using Updraft.Operator.InterceptorRoutes;
using Updraft.Operator.Options;
using Updraft.Operator.Reconciling;

namespace Updraft.Operator.Hosting;

/// <summary>
/// Runs the watches (always), and the controllers while this replica leads (always, without leader election), once
/// every watch has listed. Watch events are mapped to the keys of the objects they concern.
/// </summary>
internal sealed class OperatorService : BackgroundService
{
    private readonly ClusterCache _cache;
    private readonly OperatorOptions _options;
    private readonly LeaderElection _election;
    private readonly EventRecorder _events;
    private readonly Telemetry.OperatorMetrics _metrics;
    private readonly Controller _httpScaledObjects;
    private readonly Controller _interceptorRoutes;
    private readonly Controller? _functions;
    private readonly List<IDisposable> _subscriptions = [];

    public OperatorService(
        ClusterCache cache,
        HttpScaledObjectReconciler httpScaledObjects,
        InterceptorRouteReconciler interceptorRoutes,
        FunctionReconciler functions,
        LeaderElection election,
        EventRecorder events,
        OperatorOptions options,
        Telemetry.OperatorMetrics metrics,
        TimeProvider time,
        ILoggerFactory loggers)
    {
        _cache = cache;
        _options = options;
        _election = election;
        _events = events;
        _metrics = metrics;
        var logger = loggers.CreateLogger<Controller>();
        _httpScaledObjects = new Controller(httpScaledObjects, options.Workers, options.ResyncPeriod, metrics, time, logger);
        _interceptorRoutes = new Controller(interceptorRoutes, options.Workers, options.ResyncPeriod, metrics, time, logger);

        _subscriptions.Add(cache.HttpScaledObjects.Subscribe(change => Enqueue(_httpScaledObjects, change.Kind, change.Key)));
        _subscriptions.Add(cache.ScaledObjects.Subscribe(change =>
        {
            if (change.Kind == WatchChangeKind.Reset)
            {
                _httpScaledObjects.EnqueueAll();
                return;
            }

            foreach (var owner in httpScaledObjects.OwnersOf(change.Key, change.Value ?? change.Previous))
            {
                _httpScaledObjects.Enqueue(owner);
            }

            EnqueueFunctionOf(change.Value ?? change.Previous);
        }));
        _subscriptions.Add(cache.InterceptorRoutes.Subscribe(change => Enqueue(_interceptorRoutes, change.Kind, change.Key)));
        _subscriptions.Add(cache.Services.Subscribe(change =>
        {
            if (change.Kind == WatchChangeKind.Reset)
            {
                _interceptorRoutes.EnqueueAll();
                return;
            }

            foreach (var route in interceptorRoutes.RoutesTo(change.Key))
            {
                _interceptorRoutes.Enqueue(route);
            }
        }));

        if (options.Functions != FunctionsMode.None)
        {
            _functions = new Controller(functions, options.Workers, options.ResyncPeriod, metrics, time, logger);
            _subscriptions.Add(cache.Functions.Subscribe(change => Enqueue(_functions, change.Kind, change.Key)));
            foreach (var children in new[] { cache.FunctionDeployments, cache.FunctionServices, cache.FunctionRoutes, cache.FunctionKnativeServices, cache.FunctionComponents, cache.FunctionStatefulSets, cache.FunctionJobs, cache.FunctionScaledJobs })
            {
                _subscriptions.Add(children.Subscribe(change =>
                {
                    if (change.Kind == WatchChangeKind.Reset)
                    {
                        _functions.EnqueueAll();
                    }
                    else
                    {
                        EnqueueFunctionOf(change.Value ?? change.Previous);
                    }
                }));
            }
        }
    }

    public IReadOnlyList<Controller> Controllers => _functions is null ? [_httpScaledObjects, _interceptorRoutes] : [_httpScaledObjects, _interceptorRoutes, _functions];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var watches = _cache.RunAsync(stoppingToken);
        var events = _events.RunAsync(stoppingToken);
        try
        {
            await _cache.Synced.WaitAsync(stoppingToken);
            if (_options.LeaderElection)
            {
                await _election.RunAsync(RunControllersAsync, stoppingToken);
            }
            else
            {
                _metrics.SetLeader(_options.LeaseName, true);
                await RunControllersAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        await Task.WhenAll(watches, events);
    }

    private Task RunControllersAsync(CancellationToken cancellationToken) => Task.WhenAll(Controllers.Select(c => c.RunAsync(cancellationToken)));

    private void EnqueueFunctionOf(System.Text.Json.Nodes.JsonObject? child)
    {
        if (_functions is not null && FunctionReconciler.OwnerOf(child) is { } owner)
        {
            _functions.Enqueue(owner);
        }
    }

    /// <summary>A re-list (Reset) may have dropped or changed anything: every key is checked again.</summary>
    private static void Enqueue(Controller controller, WatchChangeKind kind, string key)
    {
        if (kind == WatchChangeKind.Reset)
        {
            controller.EnqueueAll();
        }
        else
        {
            controller.Enqueue(key);
        }
    }

    public override void Dispose()
    {
        foreach (var subscription in _subscriptions)
        {
            subscription.Dispose();
        }

        foreach (var controller in Controllers)
        {
            controller.Dispose();
        }

        base.Dispose();
    }
}
