using Updraft.Local.Feed;
using Updraft.Local.Options;
using Updraft.Local.Replicas;
using Updraft.Local.Scaling;
using Updraft.Shared.Routes;
using ScalerClient = Updraft.Protos.ExternalScaler.ExternalScaler.ExternalScalerClient;

namespace Updraft.Local.Hosting;

/// <summary>
/// Runs the plan: per workload its replicas and the loop that scales them, and the feed that tells the interceptors
/// where the ready replicas are. On shutdown the loops stop first, then every replica is stopped (SIGTERM, SIGKILL
/// after its grace period), so nothing started here outlives the process's orderly exit.
/// </summary>
internal sealed class LocalRunner : BackgroundService
{
    private readonly List<(WorkloadReplicas Replicas, WorkloadScaler Scaler)> _workloads = [];
    private readonly ILogger _logger;

    private Task? _stopAll;

    private readonly RoutesFileWatcher _routesFile;

    public LocalRunner(LocalPlan plan, LocalOptions options, ScalerClient client, TimeProvider time, ILoggerFactory loggers, IHostApplicationLifetime lifetime)
    {
        _logger = loggers.CreateLogger<LocalRunner>();
        // The plan is fixed for the process's life; a changed file is said, so nobody waits for it to take effect.
        var running = plan.Signature();
        string? reported = null;
        _routesFile = new RoutesFileWatcher(
            options.RoutesFile,
            RouteEnvironment.Standalone,
            time,
            (result, _) =>
            {
                var signature = LocalPlan.From(result).Signature();
                if (signature != running && signature != reported)
                {
                    reported = signature;
                    Telemetry.Log.WorkloadsChangedOnReload(_logger, options.RoutesFile);
                }
            },
            problem => Telemetry.Log.RoutesFileProblem(_logger, problem));
        // At the first sign of shutdown, before the hosted services stop in turn: a replica that exits then (without
        // setsid, in our process group, it gets a terminal's Ctrl-C too) is stopping with the rest, not a crash.
        lifetime.ApplicationStopping.Register(() => StopReplicas());
        Events = new ReplicaEventLog(Console.Out, time);
        var feedWorkloads = new List<FeedWorkload>();
        foreach (var (workload, routes) in plan.Workloads)
        {
            var replicas = new WorkloadReplicas(workload, cancellationToken => Feed!.WaitAppliedAsync(cancellationToken), Events, Console.Out, time);
            feedWorkloads.Add(new FeedWorkload(workload.Namespace, workload.Name, () => replicas.ReadyAddresses));
            var scaler = new WorkloadScaler(workload, routes, client, replicas, time, loggers.CreateLogger<WorkloadScaler>());
            _workloads.Add((replicas, scaler));
            if (routes.Count == 0)
            {
                Telemetry.Log.WorkloadWithoutRoutes(_logger, workload.Key, workload.MinReplicas);
            }
        }

        Feed = new ReplicaFeed(feedWorkloads, () => Events.Recent.Select(e => e.Line), time, loggers.CreateLogger<ReplicaFeed>());
        // Events that change no address (stopped, crashed, failed) still reach the interceptors' status pages.
        Events.Recorded += _ => Feed.Publish();
        foreach (var (replicas, _) in _workloads)
        {
            replicas.Changed += Feed.Publish;
        }
    }

    public ReplicaFeed Feed { get; }

    public ReplicaEventLog Events { get; }

    public IReadOnlyList<WorkloadReplicas> Workloads => [.. _workloads.Select(w => w.Replicas)];

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // The first read matches the plan (read moments ago at start-up) unless the file changed in between.
        foreach (var problem in await _routesFile.LoadAsync(stoppingToken))
        {
            Telemetry.Log.RoutesFileProblem(_logger, problem);
        }

        await Task.WhenAll([.. _workloads.Select(w => w.Scaler.RunAsync(stoppingToken)), _routesFile.RunAsync(stoppingToken)]);
    }

    public override void Dispose()
    {
        _routesFile.Dispose();
        base.Dispose();
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await StopReplicas();
    }

    private Task StopReplicas()
    {
        lock (_workloads)
        {
            return _stopAll ??= Task.WhenAll(_workloads.Select(w => w.Replicas.StopAllAsync()));
        }
    }
}
