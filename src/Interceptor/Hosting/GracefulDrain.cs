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
internal sealed class GracefulDrain(
    ReadinessState readiness,
    DrainDeadline deadline,
    IOptions<InterceptorOptions> options,
    IHostApplicationLifetime lifetime,
    TimeProvider time,
    ILogger<GracefulDrain> logger)
    : IHostedLifecycleService
{
    /// <summary>The host's shutdown timeout: the delay plus the drain (unbounded when the drain timeout is 0).</summary>
    public static TimeSpan ShutdownTimeout(InterceptorOptions options) =>
        options.DrainTimeout <= TimeSpan.Zero ? Timeout.InfiniteTimeSpan : options.ShutdownDelay + options.DrainTimeout;

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        readiness.BeginDraining();
        if (!lifetime.ApplicationStarted.IsCancellationRequested)
        {
            // Start-up failed (a port in use): nothing was served, so there is nothing to drain.
            return;
        }

        deadline.Start(options.Value.ShutdownDelay, options.Value.DrainTimeout, time);
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

/// <summary>
/// Fires shortly before the drain ends, so requests still held for a target that never became ready are answered
/// 503 instead of being cut off when the listener is torn down. Never fires when the drain is unbounded.
/// </summary>
internal sealed class DrainDeadline : IDisposable
{
    private readonly CancellationTokenSource _fired = new();
    private readonly Lock _gate = new();
    private ITimer? _timer;
    private bool _disposed;

    public CancellationToken Token => _fired.Token;

    public void Start(TimeSpan shutdownDelay, TimeSpan drainTimeout, TimeProvider time)
    {
        if (drainTimeout <= TimeSpan.Zero)
        {
            return;
        }

        // Leave a tenth of the drain, at most a second, to write the answers.
        var margin = TimeSpan.FromTicks(Math.Min(drainTimeout.Ticks / 10, TimeSpan.TicksPerSecond));
        lock (_gate)
        {
            if (!_disposed && _timer is null)
            {
                _timer = time.CreateTimer(static state => ((DrainDeadline)state!).Fire(), this, shutdownDelay + drainTimeout - margin, Timeout.InfiniteTimeSpan);
            }
        }
    }

    // The host may be disposed before the deadline (a drain that finished early): then there is nothing to fire.
    private void Fire()
    {
        lock (_gate)
        {
            if (!_disposed)
            {
                _fired.Cancel();
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _timer?.Dispose();
        }

        _fired.Dispose();
    }
}
