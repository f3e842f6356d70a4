using Microsoft.Extensions.Options;
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
internal sealed class RoutesFileSource : BackgroundService
{
    private readonly RoutesFileWatcher _watcher;
    private readonly ILogger<RoutesFileSource> _logger;

    public RoutesFileSource(IOptions<InterceptorOptions> options, RouteTablePublisher publisher, InterceptorMetrics metrics, TimeProvider time, ILogger<RoutesFileSource> logger)
    {
        _logger = logger;
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
                Log.RoutesReloadFailed(logger, path, problem);
            });
    }

    public override async Task StartAsync(CancellationToken cancellationToken)
    {
        var problems = await _watcher.LoadAsync(cancellationToken);
        if (problems.Count > 0)
        {
            throw new StartupProblemsException(problems);
        }

        await base.StartAsync(cancellationToken);
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

    public override void Dispose()
    {
        _watcher.Dispose();
        base.Dispose();
    }
}
