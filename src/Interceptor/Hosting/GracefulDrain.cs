using Microsoft.Extensions.Options;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Telemetry;

namespace Updraft.Interceptor.Hosting;

/// <summary>
/// Shutdown in the add-on's order, so a rolling update drops nothing: on SIGTERM <c>/readyz</c> turns 503 at once
/// and the proxy keeps serving for <c>KEDA_HTTP_SHUTDOWN_DELAY</c> (time for endpoints to stop sending traffic here),
/// with HTTP/1 responses carrying <c>Connection: close</c> so clients move on; then the listener stops accepting and
/// in-flight, held and upgraded requests get <c>KEDA_HTTP_DRAIN_TIMEOUT</c> to finish (the host's shutdown timeout).
/// </summary>
internal sealed class GracefulDrain(ReadinessState readiness, IOptions<InterceptorOptions> options, TimeProvider time, ILogger<GracefulDrain> logger)
    : IHostedLifecycleService
{
    /// <summary>The host's shutdown timeout: the delay plus the drain (unbounded when the drain timeout is 0).</summary>
    public static TimeSpan ShutdownTimeout(InterceptorOptions options) =>
        options.DrainTimeout <= TimeSpan.Zero ? Timeout.InfiniteTimeSpan : options.ShutdownDelay + options.DrainTimeout;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.BeginDraining();
        Log.Draining(logger, options.Value.ShutdownDelay, options.Value.DrainTimeout);
        if (options.Value.ShutdownDelay > TimeSpan.Zero)
        {
            await Task.Delay(options.Value.ShutdownDelay, time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
