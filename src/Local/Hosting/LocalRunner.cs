using System.Threading.Channels;
using Updraft.Local.Feed;
using Updraft.Local.Options;
using Updraft.Local.Replicas;
using Updraft.Local.Scaling;
using Updraft.Shared.Routes;
using Updraft.Shared.Workloads;
using ScalerClient = Updraft.Protos.ExternalScaler.ExternalScaler.ExternalScalerClient;

namespace Updraft.Local.Hosting;

/// <summary>
/// Runs the plan: per workload its replicas and the loop that scales them, and the feed that tells the interceptors
/// where the ready replicas are. It follows the routes file: a workload added there starts, one removed stops, and one
/// whose definition or routes changed is stopped and started again with the new ones; the others run on undisturbed.
/// On shutdown the loops stop first, then every replica is stopped (SIGTERM, SIGKILL after its grace period), so
/// nothing started here outlives the process's orderly exit.
/// </summary>
internal sealed class LocalRunner : BackgroundService
{
    private const string RemovedReason = "(removed from the routes file)";
    private const string ChangedReason = "(changed in the routes file)";

    private readonly Lock _gate = new();
    private readonly Dictionary<string, RunningWorkload> _running = new(StringComparer.Ordinal);
    private readonly Channel<LocalPlan> _reloads = Channel.CreateBounded<LocalPlan>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest });
    private readonly LocalPlan _initial;
    private readonly ScalerClient _client;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly RoutesFileWatcher _routesFile;

    private IReadOnlyList<FeedWorkload> _feedWorkloads = [];
    private CancellationToken _stopping = new(canceled: true);
    private Task? _stopAll;

    public LocalRunner(LocalPlan plan, LocalOptions options, ScalerClient client, TimeProvider time, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
    {
        (_initial, _client, _time, _loggers) = (plan, client, time, loggers);
        _logger = loggers.CreateLogger<LocalRunner>();
        var latest = plan.Signature();
        _routesFile = new RoutesFileWatcher(
            options.RoutesFile,
            RouteEnvironment.Standalone,
            time,
            (result, _) =>
            {
                var next = LocalPlan.From(result);
                var signature = next.Signature();
                if (signature != latest)
                {
                    latest = signature;
                    _reloads.Writer.TryWrite(next);
                }
            },
            problem => Telemetry.Log.RoutesFileProblem(_logger, problem));
        // At the first sign of shutdown, before the hosted services stop in turn: a replica that exits then (without
        // setsid, in our process group, it gets a terminal's Ctrl-C too) is stopping with the rest, not a crash.
        lifetime.ApplicationStopping.Register(() => StopReplicas());
        Events = new ReplicaEventLog(Console.Out, time);
        Feed = new ReplicaFeed(() => Volatile.Read(ref _feedWorkloads), () => Events.Recent.Select(e => e.Line), time, loggers.CreateLogger<ReplicaFeed>());
        // Events that change no address (stopped, crashed, failed) still reach the interceptors' status pages.
        Events.Recorded += _ => Feed.Publish();
        foreach (var entry in plan.Workloads)
        {
            Add(entry);
        }
    }

    public ReplicaFeed Feed { get; }

    public ReplicaEventLog Events { get; }

    /// <summary>The workloads running now, in no particular order.</summary>
    public IReadOnlyList<WorkloadReplicas> Workloads
    {
        get
        {
            lock (_gate)
            {
                return [.. _running.Values.Select(w => w.Replicas)];
            }
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        lock (_gate)
        {
            _stopping = stoppingToken;
            foreach (var workload in _running.Values)
            {
                workload.StartScaling(stoppingToken);
            }
        }

        // The first read matches the plan (read moments ago at start-up) unless the file changed in between.
        foreach (var problem in await _routesFile.LoadAsync(stoppingToken))
        {
            Telemetry.Log.RoutesFileProblem(_logger, problem);
        }

        var watching = _routesFile.RunAsync(stoppingToken);
        try
        {
            await foreach (var plan in _reloads.Reader.ReadAllAsync(stoppingToken))
            {
                await ApplyAsync(plan);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Shutting down.
        }

        await watching;
        Task[] loops;
        lock (_gate)
        {
            loops = [.. _running.Values.Select(w => w.Scaling)];
        }

        await Task.WhenAll(loops);
    }

    public override void Dispose()
    {
        _routesFile.Dispose();
        lock (_gate)
        {
            foreach (var workload in _running.Values)
            {
                workload.Dispose();
            }
        }

        base.Dispose();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await StopReplicas();
    }

    /// <summary>Stops the workloads the new plan drops or changes (fully, so a fixed port is free), then starts the new ones.</summary>
    private async Task ApplyAsync(LocalPlan plan)
    {
        var wanted = plan.Workloads.ToDictionary(entry => entry.Workload.Key, StringComparer.Ordinal);
        List<(RunningWorkload Workload, string Reason)> leaving = [];
        lock (_gate)
        {
            foreach (var (key, running) in _running)
            {
                if (!wanted.TryGetValue(key, out var entry))
                {
                    leaving.Add((running, RemovedReason));
                }
                else if (LocalPlan.Signature(entry) != running.Signature)
                {
                    leaving.Add((running, ChangedReason));
                }
            }
        }

        foreach (var (workload, reason) in leaving)
        {
            Telemetry.Log.WorkloadLeaving(_logger, workload.Replicas.Workload.Key, reason);
            await workload.StopAsync(reason);
            lock (_gate)
            {
                _running.Remove(workload.Replicas.Workload.Key);
                PublishWorkloadsLocked();
            }

            workload.Dispose();
        }

        Feed.Publish();
        foreach (var entry in plan.Workloads)
        {
            bool added;
            lock (_gate)
            {
                added = _stopAll is null && !_running.ContainsKey(entry.Workload.Key);
            }

            if (added && Add(entry))
            {
                Telemetry.Log.WorkloadAdded(_logger, entry.Workload.Key, entry.Routes.Count);
            }
        }

        Feed.Publish();
    }

    /// <returns>False when shutdown began meanwhile: nothing was started.</returns>
    private bool Add((WorkloadDefinition Workload, IReadOnlyList<string> Routes) entry)
    {
        var (workload, routes) = entry;
        var replicas = new WorkloadReplicas(workload, cancellationToken => Feed.WaitAppliedAsync(cancellationToken), Events, Console.Out, _time);
        var scaler = new WorkloadScaler(workload, routes, _client, replicas, _time, _loggers.CreateLogger<WorkloadScaler>());
        var running = new RunningWorkload(replicas, scaler, LocalPlan.Signature(entry));
        lock (_gate)
        {
            if (_stopAll is not null)
            {
                return false;
            }

            _running.Add(workload.Key, running);
            PublishWorkloadsLocked();
            if (!_stopping.IsCancellationRequested)
            {
                running.StartScaling(_stopping);
            }
        }

        replicas.Changed += Feed.Publish;
        if (routes.Count == 0)
        {
            Telemetry.Log.WorkloadWithoutRoutes(_logger, workload.Key, workload.MinReplicas);
        }

        return true;
    }

    private void PublishWorkloadsLocked() => Volatile.Write(ref _feedWorkloads, [.. _running.Values.Select(w => w.Feed)]);

    private Task StopReplicas()
    {
        lock (_gate)
        {
            return _stopAll ??= Task.WhenAll(_running.Values.Select(w => w.Replicas.StopAllAsync()));
        }
    }

    /// <summary>One workload's replicas, the loop that scales them, and what it was started from.</summary>
    private sealed class RunningWorkload(WorkloadReplicas replicas, WorkloadScaler scaler, string signature) : IDisposable
    {
        private readonly CancellationTokenSource _stop = new();

        public WorkloadReplicas Replicas { get; } = replicas;

        public string Signature { get; } = signature;

        public FeedWorkload Feed { get; } = new(replicas.Workload.Namespace, replicas.Workload.Name, () => replicas.ReadyAddresses);

        public Task Scaling { get; private set; } = Task.CompletedTask;

        public void StartScaling(CancellationToken stoppingToken)
        {
            Scaling = ScaleAsync(stoppingToken);
        }

        private async Task ScaleAsync(CancellationToken stoppingToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, _stop.Token);
            await scaler.RunAsync(linked.Token);
        }

        /// <summary>Its loop ends first, so that nothing scales it up again, then every replica stops.</summary>
        public async Task StopAsync(string reason)
        {
            await _stop.CancelAsync();
            await Scaling;
            await Replicas.StopAllAsync(reason);
        }

        public void Dispose() => _stop.Dispose();
    }
}
