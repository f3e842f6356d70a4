using Grpc.Core;
using Updraft.Local.Replicas;
using Updraft.Local.Telemetry;
using Updraft.Protos.ExternalScaler;
using Updraft.Shared.Workloads;
using ScalerClient = Updraft.Protos.ExternalScaler.ExternalScaler.ExternalScalerClient;

namespace Updraft.Local.Scaling;

/// <summary>
/// KEDA's part for one workload, against the real external scaler: one <c>StreamIsActive</c> stream per trigger (a
/// <c>true</c> scales from zero at once), and every <c>pollingInterval</c> <c>GetMetricSpec</c>, <c>GetMetrics</c>
/// and <c>IsActive</c> per trigger, fed to <see cref="ScaleRules"/>. A trigger is one route that names the workload
/// (scaler metadata <c>interceptorRoute: name</c>, the ScaledObject named after the workload).
/// </summary>
internal sealed class WorkloadScaler
{
    private static readonly TimeSpan CallDeadline = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan LastRetry = TimeSpan.FromSeconds(5);

    private readonly WorkloadDefinition _workload;
    private readonly IReadOnlyList<ScaledObjectRef> _triggers;
    private readonly ScalerClient _client;
    private readonly WorkloadReplicas _replicas;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly ScaleRules _rules;
    private readonly Lock _gate = new();
    private bool _answered;
    private DateTimeOffset? _problemSince;
    private bool _warned;

    /// <summary>A scaler that has never answered is a warning only after this.</summary>
    public static readonly TimeSpan NotAnsweringWarningAfter = TimeSpan.FromSeconds(30);

    /// <summary>A scaler that answered before and stops answering is a warning after this.</summary>
    public static readonly TimeSpan StoppedAnsweringWarningAfter = TimeSpan.FromSeconds(5);

    public WorkloadScaler(WorkloadDefinition workload, IReadOnlyList<string> routes, ScalerClient client, WorkloadReplicas replicas, TimeProvider time, ILogger logger)
    {
        _workload = workload;
        _triggers = [.. routes.Select(route => Trigger(workload, route))];
        _client = client;
        _replicas = replicas;
        _time = time;
        _logger = logger;
        _rules = new ScaleRules(workload.MinReplicas, workload.MaxReplicas, workload.CooldownPeriod);
    }

    public static ScaledObjectRef Trigger(WorkloadDefinition workload, string route) => new()
    {
        Name = workload.Name,
        Namespace = workload.Namespace,
        ScalerMetadata = { ["interceptorRoute"] = route },
    };

    public int Replicas
    {
        get
        {
            lock (_gate)
            {
                return _rules.Replicas;
            }
        }
    }

    /// <summary>Until cancelled: the push streams and the polling loop. The minimum is asked for first.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (_workload.MinReplicas > 0)
        {
            _replicas.SetDesired(_workload.MinReplicas, "minReplicaCount");
        }

        var loops = new List<Task>(_triggers.Count + 1) { PollAsync(cancellationToken) };
        foreach (var trigger in _triggers)
        {
            loops.Add(WatchActiveAsync(trigger, cancellationToken));
        }

        await Task.WhenAll(loops);
    }

    private async Task WatchActiveAsync(ScaledObjectRef trigger, CancellationToken cancellationToken)
    {
        var retry = FirstRetry;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                using var call = _client.StreamIsActive(trigger, cancellationToken: cancellationToken);
                await foreach (var message in call.ResponseStream.ReadAllAsync(cancellationToken))
                {
                    retry = FirstRetry;
                    if (message.Result)
                    {
                        Apply(rules => rules.Pushed(_time.GetUtcNow()));
                    }
                }
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Cancelled && cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (RpcException e)
            {
                Problem($"StreamIsActive ({trigger.ScalerMetadata["interceptorRoute"]}): {e.StatusCode} {e.Status.DebugException?.Message ?? e.Status.Detail}");
            }

            await Task.Delay(retry, _time, cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            retry = retry * 2 > LastRetry ? LastRetry : retry * 2;
        }
    }

    private async Task PollAsync(CancellationToken cancellationToken)
    {
        using var timer = new PeriodicTimer(_workload.PollingInterval, _time);
        while (!cancellationToken.IsCancellationRequested)
        {
            var readings = new TriggerReading[_triggers.Count];
            for (var i = 0; i < _triggers.Count; i++)
            {
                readings[i] = await ReadAsync(_triggers[i], cancellationToken);
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            var error = Array.Find(readings, r => r.Error is not null).Error;
            if (error is not null)
            {
                Problem(error);
            }
            else
            {
                Answered();
            }

            Apply(rules => rules.Polled(_time.GetUtcNow(), readings));
            try
            {
                await timer.WaitForNextTickAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task<TriggerReading> ReadAsync(ScaledObjectRef trigger, CancellationToken cancellationToken)
    {
        try
        {
            var specs = await _client.GetMetricSpecAsync(trigger, deadline: Deadline(), cancellationToken: cancellationToken);
            var spec = specs.MetricSpecs.FirstOrDefault();
            if (spec is null)
            {
                return new TriggerReading(0, 0, false, $"GetMetricSpec ({trigger.ScalerMetadata["interceptorRoute"]}) returned no metric");
            }

            var target = spec.TargetSizeFloat > 0 ? spec.TargetSizeFloat : spec.TargetSize;
            var metrics = await _client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = trigger, MetricName = spec.MetricName }, deadline: Deadline(), cancellationToken: cancellationToken);
            var value = 0.0;
            foreach (var metric in metrics.MetricValues)
            {
                value += metric.MetricValueFloat > 0 ? metric.MetricValueFloat : metric.MetricValue_;
            }

            var active = await _client.IsActiveAsync(trigger, deadline: Deadline(), cancellationToken: cancellationToken);
            return new TriggerReading(value, target, active.Result);
        }
        catch (RpcException e) when (!cancellationToken.IsCancellationRequested)
        {
            return new TriggerReading(0, 0, false, $"{trigger.ScalerMetadata["interceptorRoute"]}: {e.StatusCode} {e.Status.DebugException?.Message ?? e.Status.Detail}");
        }
        catch (Exception e) when (e is OperationCanceledException or RpcException)
        {
            return new TriggerReading(0, 0, false, "stopping");
        }
    }

    private DateTime Deadline() => _time.GetUtcNow().UtcDateTime + CallDeadline;

    private void Apply(Func<ScaleRules, (int Replicas, string Reason)?> decide)
    {
        lock (_gate)
        {
            if (decide(_rules) is { } change)
            {
                _replicas.SetDesired(change.Replicas, change.Reason);
            }
        }
    }

    /// <summary>
    /// A problem is information at first (the scaler and the autoscaler start and stop together, in either order) and
    /// a warning once it has lasted <see cref="NotAnsweringWarningAfter"/> (<see cref="StoppedAnsweringWarningAfter"/>
    /// when the scaler had answered before).
    /// </summary>
    private void Problem(string problem)
    {
        lock (_gate)
        {
            var now = _time.GetUtcNow();
            if (_problemSince is null)
            {
                _problemSince = now;
                Log.ScalerNotAnsweringYet(_logger, _workload.Key, problem);
            }
            else if (!_warned && now - _problemSince.Value >= (_answered ? StoppedAnsweringWarningAfter : NotAnsweringWarningAfter))
            {
                _warned = true;
                Log.ScalerProblem(_logger, _workload.Key, problem);
            }
        }
    }

    private void Answered()
    {
        lock (_gate)
        {
            _answered = true;
            if (_problemSince is not null)
            {
                _problemSince = null;
                _warned = false;
                Log.ScalerAnswering(_logger, _workload.Key);
            }
        }
    }
}
