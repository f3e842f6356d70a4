using Microsoft.Extensions.Options;
using Updraft.ExternalScaler.Options;
using Updraft.ExternalScaler.Telemetry;
using Updraft.Shared.Hosting;
using Updraft.Shared.Routes;

namespace Updraft.ExternalScaler.Routes;

/// <summary>
/// Standalone mode: the scaler reads the same routes file as the interceptors (<c>--routes</c>) and follows its
/// changes. A file with problems stops start-up; later bad versions are logged and the previous routes stay.
/// </summary>
internal sealed class RoutesFileRouteSource : BackgroundService
{
    private readonly RoutesFileWatcher _watcher;

    public RoutesFileRouteSource(IOptions<ScalerOptions> options, RouteCatalog catalog, TimeProvider time, ILogger<RoutesFileRouteSource> logger)
    {
        var path = options.Value.RoutesFile!;
        _watcher = new RoutesFileWatcher(
            path,
            RouteEnvironment.Standalone,
            time,
            (result, before) =>
            {
                catalog.Publish(result.Routes);
                if (result.Routes.Count == 0 && before > 0)
                {
                    Log.RoutesDroppedToZero(logger, path, before);
                }
                else
                {
                    Log.RoutesLoaded(logger, result.Routes.Count, path);
                }
            },
            problem => Log.RoutesReloadFailed(logger, path, problem));
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

    protected override Task ExecuteAsync(CancellationToken stoppingToken) => _watcher.RunAsync(stoppingToken);

    public override void Dispose()
    {
        _watcher.Dispose();
        base.Dispose();
    }
}
