using Microsoft.Extensions.Options;
using Updraft.ExternalScaler.Options;
using Updraft.ExternalScaler.Routes;
using Updraft.Shared.Routes;

namespace Updraft.ExternalScaler.Http;

/// <summary>
/// Turns the replicas' reports into one <see cref="HttpLoadSnapshot"/>: concurrency is the sum of the replicas'
/// latest values (a silent replica's last value still counts for <c>UPDRAFT_SCALER_REPLAY_LIMIT</c>); the rate comes
/// from the replicas' monotonic request counters, differenced per replica (a restart, seen by a new instance id or a
/// counter that went down, counts from zero) and windowed per route with the route's own window and granularity.
/// Runs every tick and at once after a report, so a route that becomes busy is visible within milliseconds; the
/// snapshot is swapped atomically and <see cref="Published"/> wakes the streams.
/// </summary>
internal sealed class CountsAggregator : BackgroundService
{
    private static readonly RequestRateTarget DefaultRate = new(100, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));

    private readonly InterceptorFleet _fleet;
    private readonly RouteCatalog _routes;
    private readonly ScalerOptions _options;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _wake = new(0, 1);
    /// <summary>Each replica's report as of the last round: the base its next counter deltas are taken from.</summary>
    private readonly Dictionary<string, ReplicaReport> _baselines = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, (RequestRateTarget Config, RequestRateWindow Window)> _windows = new(StringComparer.Ordinal);
    private HttpLoadSnapshot _current = HttpLoadSnapshot.Initial;
    private TaskCompletionSource _published = NewSignal();

    public CountsAggregator(InterceptorFleet fleet, RouteCatalog routes, IOptions<ScalerOptions> options, TimeProvider time)
    {
        _fleet = fleet;
        _routes = routes;
        _options = options.Value;
        _time = time;
        fleet.OnReport(Wake);
    }

    public HttpLoadSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Completes at the next publication.</summary>
    public Task Published => Volatile.Read(ref _published).Task;

    public void Wake()
    {
        try
        {
            _wake.Release();
        }
        catch (SemaphoreFullException)
        {
            // A run is already pending.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Aggregate(_time.GetUtcNow());
                await _wake.WaitAsync(_options.QueueTick, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One aggregation round; called only from the loop (and by tests), never concurrently.</summary>
    internal HttpLoadSnapshot Aggregate(DateTimeOffset now)
    {
        var concurrency = new Dictionary<string, int>(StringComparer.Ordinal);
        var deltas = new Dictionary<string, long>(StringComparer.Ordinal);
        var replicas = _fleet.Replicas;
        var fresh = 0;
        foreach (var replica in replicas)
        {
            var report = replica.Latest;
            if (report is null)
            {
                continue;
            }

            var age = now - report.ReceivedAt;
            if (age <= _options.FreshFor)
            {
                fresh++;
            }
            else if (age > _options.ReplayLimit)
            {
                continue;
            }

            foreach (var (key, counts) in report.Routes)
            {
                concurrency[key] = concurrency.GetValueOrDefault(key) + counts.Concurrency;
            }

            AddDeltas(replica.Address, report, deltas);
        }

        ForgetGoneReplicas(replicas);
        var catalog = _routes.Current;
        var loads = new Dictionary<string, RouteLoad>(concurrency.Count, StringComparer.Ordinal);
        var total = 0;
        foreach (var (key, value) in concurrency)
        {
            total += value;
            var window = WindowFor(key, catalog);
            window.Record(now, deltas.GetValueOrDefault(key));
            loads[key] = new RouteLoad(value, window.Average(now));
        }

        // A route no replica reports right now keeps its history while it exists; a deleted route's is dropped.
        List<string>? deleted = null;
        foreach (var (key, entry) in _windows)
        {
            if (loads.ContainsKey(key))
            {
                continue;
            }

            if (catalog.ByKey.ContainsKey(key))
            {
                loads[key] = new RouteLoad(0, entry.Window.Average(now));
            }
            else
            {
                (deleted ??= []).Add(key);
            }
        }

        foreach (var key in deleted ?? [])
        {
            _windows.Remove(key);
        }

        var snapshot = new HttpLoadSnapshot(loads, total, fresh, replicas.Count, now);
        Volatile.Write(ref _current, snapshot);
        Interlocked.Exchange(ref _published, NewSignal()).TrySetResult();
        return snapshot;
    }

    private void AddDeltas(string address, ReplicaReport report, Dictionary<string, long> deltas)
    {
        if (_baselines.TryGetValue(address, out var baseline)
            && ReferenceEquals(baseline.Routes, report.Routes)
            && baseline.InstanceId == report.InstanceId)
        {
            return; // no count moved on this replica since the last round
        }

        var restarted = baseline is not null && report.InstanceId is not null && baseline.InstanceId != report.InstanceId;
        if (baseline is not null)
        {
            foreach (var (key, counts) in report.Routes)
            {
                long delta;
                if (restarted)
                {
                    delta = counts.RequestCount; // a new process counts from zero
                }
                else if (baseline.Routes.TryGetValue(key, out var before))
                {
                    delta = counts.RequestCount - before.RequestCount;
                    if (delta < 0)
                    {
                        delta = counts.RequestCount; // the counter went down: the replica restarted between polls
                    }
                }
                else
                {
                    delta = counts.RequestCount; // a route added since the last report counts from zero
                }

                if (delta > 0)
                {
                    deltas[key] = deltas.GetValueOrDefault(key) + delta;
                }
            }
        }

        // A replica seen for the first time only sets the baseline: its totals since start are not a burst now.
        _baselines[address] = report;
    }

    private void ForgetGoneReplicas(IReadOnlyList<InterceptorReplica> replicas)
    {
        if (_baselines.Count <= replicas.Count)
        {
            return;
        }

        var live = new HashSet<string>(replicas.Select(r => r.Address), StringComparer.OrdinalIgnoreCase);
        foreach (var address in _baselines.Keys.Where(a => !live.Contains(a)).ToList())
        {
            _baselines.Remove(address);
        }
    }

    private RequestRateWindow WindowFor(string key, RouteCatalog.Snapshot catalog)
    {
        var config = catalog.ByKey.TryGetValue(key, out var route) && route.ScalingMetric.RequestRate is { } rate ? rate : DefaultRate;
        if (_windows.TryGetValue(key, out var entry))
        {
            if (entry.Config.Window == config.Window && entry.Config.Granularity == config.Granularity)
            {
                return entry.Window;
            }

            entry.Window.Resize(config.Window, config.Granularity);
            _windows[key] = (config, entry.Window);
            return entry.Window;
        }

        var window = new RequestRateWindow(config.Window, config.Granularity);
        _windows[key] = (config, window);
        return window;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public override void Dispose()
    {
        _wake.Dispose();
        base.Dispose();
    }
}
