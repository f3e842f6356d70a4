using Microsoft.Extensions.Options;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Telemetry;
using Updraft.Shared.Hosting;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Standalone;

/// <summary>
/// Standalone mode's route source: a YAML file of InterceptorRoute/HTTPScaledObject documents. At start-up any
/// problem stops the process (one line per problem). Afterwards the file is followed by a
/// <see cref="RoutesFileWatcher"/> and each changed version, once settled, is applied with one atomic table swap; a
/// version with problems is logged and counted, and the previous table stays. A version that removes every route is
/// applied like any other, with a warning.
/// </summary>
internal sealed class RoutesFileSource : BackgroundService, IRouteSourceHealth
{
    private readonly RoutesFileWatcher _watcher;
    private readonly ILogger<RoutesFileSource> _logger;
    private readonly TimeProvider _time;
    private readonly bool _localFeed;
    private FileState _state = new(null, 0, null, 0);
    private IReadOnlyList<RouteDefinition> _loaded = [];
    private bool _started;

    public RoutesFileSource(IOptions<InterceptorOptions> options, RouteTablePublisher publisher, RouteFreshness freshness, InterceptorMetrics metrics, TimeProvider time, ILogger<RoutesFileSource> logger)
    {
        _logger = logger;
        _time = time;
        _localFeed = options.Value.LocalReplicas is not null;
        var path = options.Value.RoutesFile!;
        _watcher = new RoutesFileWatcher(
            path,
            RouteEnvironment.Standalone,
            time,
            (result, before) =>
            {
                // Counted first: whoever sees the new table also sees its reload counted.
                metrics.RouteReloadSucceeded();
                publisher.Publish(result.Routes);
                _loaded = result.Routes;
                WarnLocalWorkloadsWithoutFeed(result.Routes);
                var state = Volatile.Read(ref _state);
                Volatile.Write(ref _state, state with { LoadedAt = _time.GetUtcNow(), Routes = result.Routes.Count, Problem = null });
                if (result.Routes.Count == 0 && before > 0)
                {
                    Log.RoutesDroppedToZero(logger, path, before);
                }
                else
                {
                    Log.RoutesLoaded(logger, result.Routes.Count, path);
                }
            },
            problem =>
            {
                metrics.RouteReloadFailed();
                var state = Volatile.Read(ref _state);
                Volatile.Write(ref _state, state with { Problem = problem, Failures = state.Failures + 1 });
                Log.RoutesReloadFailed(logger, path, problem);
            });
        // Each successful read of the file (at least every poll, 2 s) confirms the table.
        var source = "routes file " + path;
        freshness.Track(() => [new FreshnessConfirmation(source, _watcher.ConfirmedAt, _watcher.LastProblem)]);
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var problems = await _watcher.LoadAsync(cancellationToken);
        if (problems.Count > 0)
        {
            throw new StartupProblemsException(problems);
        }

        if (!_localFeed && LocalWorkloadRoutes.Of(_loaded).Select(LocalWorkloadRoutes.Problem).ToList() is { Count: > 0 } unserved)
        {
            throw new StartupProblemsException(unserved);
        }

        _started = true;
        await base.StartAsync(cancellationToken);
    }

    /// <summary>After start-up a reload is applied whatever it says: a route that cannot be served is warned about.</summary>
    private void WarnLocalWorkloadsWithoutFeed(IReadOnlyList<RouteDefinition> routes)
    {
        if (_started && !_localFeed)
        {
            foreach (var route in LocalWorkloadRoutes.Of(routes))
            {
                Log.LocalWorkloadWithoutFeed(_logger, route.Key, LocalWorkloadRoutes.Workload(route));
            }
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var running = _watcher.RunAsync(stoppingToken);
        if (_watcher.WatchProblem is { } problem)
        {
            Log.RoutesWatchFailed(_logger, _watcher.DisplayPath, problem);
        }

        return running;
    }

    public RouteSourceHealth Health()
    {
        var state = Volatile.Read(ref _state);
        var details = new List<string>(4) { "file: " + _watcher.DisplayPath };
        if (state.LoadedAt is { } loadedAt)
        {
            details.Add($"loaded {state.Routes} routes at {loadedAt:yyyy-MM-ddTHH:mm:ssZ}");
        }

        if (state.Failures > 0)
        {
            details.Add($"failed reloads: {state.Failures}");
        }

        if (state.Problem is not null)
        {
            details.Add("last reload failed, the previous routes stay: " + state.Problem);
        }

        if (_watcher.WatchProblem is { } watchProblem)
        {
            details.Add("watching: " + watchProblem);
        }

        return new RouteSourceHealth("routes-file", state.Problem is null && state.LoadedAt is not null, details, []);
    }

    public override void Dispose()
    {
        _watcher.Dispose();
        base.Dispose();
    }

    /// <summary>What the status page shows of the file: written by the watcher's callbacks, one record at a time.</summary>
    private sealed record FileState(DateTimeOffset? LoadedAt, int Routes, string? Problem, long Failures);
}
