using Updraft.ExternalScaler.Telemetry;

namespace Updraft.ExternalScaler.Routes;

/// <summary>
/// Used in standalone mode without a routes file (no cluster either): publishes an empty route set, so backlog-source
/// triggers work and HTTP triggers get <c>NotFound</c> naming their route.
/// </summary>
internal sealed class NoRouteSource(RouteCatalog catalog, ILogger<NoRouteSource> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        catalog.Publish([]);
        Log.NoRouteSource(logger);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
