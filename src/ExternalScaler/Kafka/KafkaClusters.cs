using System.Collections.Concurrent;

namespace Updraft.ExternalScaler.Kafka;

/// <summary>
/// Every Kafka client of the scaler: one <see cref="KafkaCluster"/> (admin client and metadata cache) per
/// (bootstrap servers, credentials profile), shared by every ScaledObject on it, and one <see cref="GroupPoller"/> per
/// (cluster, profile, consumer group). Both are created on first sight of a trigger; a poller no RPC asked about for
/// <see cref="KafkaOptions.IdleExpiry"/> stops, and a cluster with no poller left closes its client.
/// </summary>
internal sealed class KafkaClusters(KafkaOptions options, TimeProvider time, ILogger<KafkaClusters> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<(string Cluster, string Profile), Lazy<KafkaCluster>> _clusters = new();
    private readonly ConcurrentDictionary<(string Cluster, string Profile, string Group), Lazy<GroupPoller>> _pollers = new();
    private readonly Lock _sweep = new();
    private int _clientsCreated;

    /// <summary>How many admin clients were ever created (one per cluster and credentials, unless one expired).</summary>
    public int ClientsCreated => Volatile.Read(ref _clientsCreated);

    public int OpenClients => _clusters.Count;

    public int Pollers => _pollers.Count;

    /// <summary>The poller of the trigger's group on its cluster, started if it was not running.</summary>
    public GroupPoller Poller(KafkaTrigger trigger, KafkaProfile? profile)
    {
        var profileName = profile?.Name ?? "";
        var key = (trigger.Cluster, profileName, trigger.ConsumerGroup);
        if (_pollers.TryGetValue(key, out var existing))
        {
            return existing.Value;
        }

        lock (_sweep)
        {
            var cluster = _clusters.GetOrAdd((trigger.Cluster, profileName), k => new Lazy<KafkaCluster>(() =>
            {
                Interlocked.Increment(ref _clientsCreated);
                KafkaLog.ClientCreated(logger, k.Cluster, k.Profile.Length > 0 ? k.Profile : "none");
                return new KafkaCluster(k.Cluster, profile, options, time);
            })).Value;
            return _pollers.GetOrAdd(key, k => new Lazy<GroupPoller>(() =>
            {
                KafkaLog.PollerStarted(logger, k.Group, k.Cluster);
                return new GroupPoller(cluster, k.Group, options, time, logger);
            })).Value;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var period = TimeSpan.FromTicks(Math.Clamp(options.IdleExpiry.Ticks / 4, TimeSpan.FromMilliseconds(250).Ticks, TimeSpan.FromSeconds(30).Ticks));
        using var timer = new PeriodicTimer(period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await SweepAsync(options.IdleExpiry);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Stops pollers idle for <paramref name="expiry"/>, then closes clients no poller uses.</summary>
    public async Task SweepAsync(TimeSpan expiry)
    {
        var expired = new List<GroupPoller>();
        var closed = new List<KafkaCluster>();
        lock (_sweep)
        {
            foreach (var (key, poller) in _pollers)
            {
                if (poller.IsValueCreated && poller.Value.IdleFor >= expiry && _pollers.TryRemove(key, out _))
                {
                    KafkaLog.PollerExpired(logger, key.Group, key.Cluster, poller.Value.IdleFor);
                    expired.Add(poller.Value);
                }
            }

            foreach (var (key, cluster) in _clusters)
            {
                if (cluster.IsValueCreated && !_pollers.Values.Any(p => p.IsValueCreated && ReferenceEquals(p.Value.Cluster, cluster.Value))
                    && _clusters.TryRemove(key, out _))
                {
                    closed.Add(cluster.Value);
                }
            }
        }

        foreach (var poller in expired)
        {
            await poller.DisposeAsync();
        }

        foreach (var cluster in closed)
        {
            KafkaLog.ClientClosed(logger, cluster.Cluster);
            cluster.Dispose();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await SweepAsync(TimeSpan.Zero);
    }
}
