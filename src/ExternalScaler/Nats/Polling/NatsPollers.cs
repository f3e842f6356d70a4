using System.Collections.Concurrent;

namespace Updraft.ExternalScaler.Nats.Polling;

/// <summary>
/// The pollers of the NATS sources, one per thing read (endpoint or servers, account, stream, consumer or channel),
/// shared by every trigger that reads it. A poller starts when a trigger is first seen and stops once no RPC has
/// asked for it for <c>UPDRAFT_NATS_POLLER_EXPIRY</c> (an open <c>StreamIsActive</c> keeps asking).
/// </summary>
internal sealed class NatsPollers(NatsOptions options, TimeProvider time, ILogger<NatsPollers> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<object, Poller> _pollers = new();
    private readonly Lock _creating = new();

    public int Count => _pollers.Count;

    /// <summary>The poller for <paramref name="key"/>, started with <paramref name="create"/>'s poll function if there is none.</summary>
    /// <param name="key">Identifies what is read; equal keys share a poller.</param>
    /// <param name="description">What is read, for messages.</param>
    /// <param name="create">Makes the poll function (called once per poller; it may keep state between polls).</param>
    public Poller<T> Get<T>(object key, string description, Func<Func<CancellationToken, Task<PollResult<T>>>> create)
        where T : class
    {
        if (_pollers.TryGetValue(key, out var existing))
        {
            return (Poller<T>)existing;
        }

        lock (_creating)
        {
            if (_pollers.TryGetValue(key, out existing))
            {
                return (Poller<T>)existing;
            }

            var poller = new Poller<T>(description, create(), options.PollInterval, time);
            _pollers[key] = poller;
            NatsLog.PollerStarted(logger, description, _pollers.Count);
            return poller;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var sweep = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(100).Ticks, Math.Min(options.PollerExpiry.Ticks / 4, TimeSpan.FromSeconds(30).Ticks)));
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                await Task.Delay(sweep, time, stoppingToken);
                var now = Environment.TickCount64;
                foreach (var (key, poller) in _pollers)
                {
                    if (now - poller.LastUsed > (long)options.PollerExpiry.TotalMilliseconds && _pollers.TryRemove(key, out _))
                    {
                        await poller.DisposeAsync();
                        NatsLog.PollerExpired(logger, key, _pollers.Count);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            foreach (var key in _pollers.Keys)
            {
                if (_pollers.TryRemove(key, out var poller))
                {
                    await poller.DisposeAsync();
                }
            }
        }
    }
}
