using Microsoft.Extensions.Options;
using Updraft.ExternalScaler.Options;
using Updraft.ExternalScaler.Telemetry;

namespace Updraft.ExternalScaler.Http;

/// <summary>
/// Where interceptor replicas' admin addresses come from: a fixed list in standalone mode, the admin Service's
/// EndpointSlices in Kubernetes mode.
/// </summary>
internal interface IInterceptorAddresses
{
    public IReadOnlyList<string> Current { get; }

    /// <summary>False until <see cref="Current"/> holds a complete first list (the scaler is not ready before).</summary>
    public bool Synced { get; }

    /// <summary>Completes when <see cref="Current"/> changes.</summary>
    public Task Changed { get; }
}

/// <summary>The addresses given with <c>--interceptors</c> / <c>UPDRAFT_INTERCEPTORS</c>.</summary>
internal sealed class StaticInterceptorAddresses(IOptions<ScalerOptions> options) : IInterceptorAddresses
{
    public IReadOnlyList<string> Current => options.Value.Interceptors;

    public bool Synced => true;

    public Task Changed => Task.Delay(Timeout.Infinite);
}

/// <summary>One <see cref="InterceptorReplica"/> per address, added and removed as the addresses change.</summary>
internal sealed class InterceptorFleet(
    IInterceptorAddresses addresses,
    IOptions<ScalerOptions> options,
    TimeProvider time,
    ScalerMetrics metrics,
    ILoggerFactory loggerFactory) : BackgroundService
{
    private readonly HttpClient _queueClient = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        ConnectTimeout = options.Value.QueueTick,
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
    })
    {
        Timeout = Timeout.InfiniteTimeSpan, // each poll is bounded by the tick
    };

    private readonly ILogger _logger = loggerFactory.CreateLogger<InterceptorFleet>();
    private InterceptorReplica[] _replicas = [];
    private Action _reported = static () => { };

    /// <summary>The current replicas; an immutable array replaced on change.</summary>
    public IReadOnlyList<InterceptorReplica> Replicas => Volatile.Read(ref _replicas);

    /// <summary>The replicas followed now, and how many of them failed their last fetch (for the metrics).</summary>
    public (int Followed, int Unreachable) Reachability()
    {
        var replicas = Replicas;
        var unreachable = 0;
        foreach (var replica in replicas)
        {
            if (replica.LastFetchFailed)
            {
                unreachable++;
            }
        }

        return (replicas.Count, unreachable);
    }

    /// <summary>Called after any replica reports (set once by the aggregator before start).</summary>
    public void OnReport(Action reported) => _reported = reported;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                var changed = addresses.Changed;
                await ReconcileAsync(addresses.Current);
                await changed.WaitAsync(stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    private async Task ReconcileAsync(IReadOnlyList<string> wanted)
    {
        var current = Replicas;
        var keep = new List<InterceptorReplica>(wanted.Count);
        var added = 0;
        foreach (var address in wanted.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var existing = current.FirstOrDefault(r => string.Equals(r.Address, address, StringComparison.OrdinalIgnoreCase));
            if (existing is null)
            {
                existing = new InterceptorReplica(address, _queueClient, options.Value.QueueTick, options.Value.StreamInterval, time, () => _reported(), _logger, metrics);
                existing.Start();
                added++;
            }

            keep.Add(existing);
        }

        Volatile.Write(ref _replicas, [.. keep]);
        var removed = 0;
        foreach (var replica in current)
        {
            if (!keep.Contains(replica))
            {
                removed++;
                await replica.DisposeAsync();
            }
        }

        if (added + removed > 0)
        {
            Log.ReplicasChanged(_logger, added, removed, keep.Count);
            _reported();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        foreach (var replica in Interlocked.Exchange(ref _replicas, []))
        {
            await replica.DisposeAsync();
        }
    }

    public override void Dispose()
    {
        _queueClient.Dispose();
        base.Dispose();
    }
}
