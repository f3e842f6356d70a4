namespace Updraft.Local.Scaling;

/// <summary>One trigger's reading at a poll: the metric, its target per replica, and whether the scaler said active.</summary>
/// <param name="Error">GetMetrics or IsActive failed; the reading is unusable.</param>
internal readonly record struct TriggerReading(double Value, double Target, bool Active, string? Error = null);

/// <summary>
/// KEDA's and the HPA's replica decisions for one workload, kept apart from the I/O so they can be checked with a
/// fake clock:
/// <list type="bullet">
/// <item>0 → 1 (KEDA): any trigger active (pushed or polled) at zero replicas scales to <c>max(min, 1)</c>.</item>
/// <item>→ 0 (KEDA): no trigger active for <c>cooldownPeriod</c> since the last active report, minimum 0, and no
/// error: scale to 0.</item>
/// <item>1 ↔ N (the HPA, <c>AverageValue</c>): per trigger <c>ceil(value / target)</c> unless the usage is within
/// ±10 % of the current replicas' capacity; the highest wins; clamped to <c>[max(min, 1), max]</c>. Up at once;
/// down only to the highest recommendation of the last <c>cooldownPeriod</c> (the HPA's scale-down stabilization,
/// 5 minutes by default, here the workload's cooldown).</item>
/// <item>A poll with an error changes nothing (KEDA does not scale on errors without a fallback).</item>
/// </list>
/// Not thread-safe: one scaling loop owns it.
/// </summary>
internal sealed class ScaleRules
{
    public const double Tolerance = 0.1;

    private readonly Queue<(DateTimeOffset At, int Replicas)> _recommendations = new();
    private DateTimeOffset? _lastActive;

    private readonly int _min;
    private readonly int _max;
    private readonly TimeSpan _cooldown;

    public ScaleRules(int min, int max, TimeSpan cooldown)
    {
        _min = min;
        _max = max;
        _cooldown = cooldown;
        Replicas = min;
    }

    public int Replicas { get; private set; }

    /// <summary>A <c>true</c> pushed on <c>StreamIsActive</c>; returns the new count and why, or null when it stays.</summary>
    public (int Replicas, string Reason)? Pushed(DateTimeOffset now)
    {
        _lastActive = now;
        return Replicas == 0 ? Set(Math.Max(_min, 1), "a trigger became active") : null;
    }

    /// <summary>A poll of every trigger; returns the new count and why it changed, or null.</summary>
    public (int Replicas, string Reason)? Polled(DateTimeOffset now, IReadOnlyList<TriggerReading> readings)
    {
        var failed = false;
        var active = false;
        foreach (var reading in readings)
        {
            failed |= reading.Error is not null;
            active |= reading.Error is null && reading.Active;
        }

        if (active)
        {
            _lastActive = now;
            if (Replicas == 0)
            {
                return Set(Math.Max(_min, 1), "a trigger is active");
            }
        }
        else if (!failed && Replicas > 0 && _min == 0 && (_lastActive is null || now - _lastActive.Value >= _cooldown))
        {
            _recommendations.Clear();
            return Set(0, _lastActive is null ? "no trigger is active" : $"no trigger active for the cooldown period ({Format(_cooldown)})");
        }

        if (Replicas == 0 || failed)
        {
            return null;
        }

        var desired = 0;
        string? which = null;
        foreach (var reading in readings)
        {
            var recommended = Recommend(reading);
            if (recommended > desired)
            {
                desired = recommended;
                which = $"metric {reading.Value:0.###} for a target of {reading.Target:0.###} per replica";
            }
        }

        desired = Math.Clamp(desired, Math.Max(_min, 1), _max);
        _recommendations.Enqueue((now, desired));
        while (_recommendations.Count > 0 && now - _recommendations.Peek().At > _cooldown)
        {
            _recommendations.Dequeue();
        }

        var stabilized = desired;
        foreach (var (_, replicas) in _recommendations)
        {
            stabilized = Math.Max(stabilized, replicas);
        }

        return stabilized == Replicas ? null : Set(stabilized, which ?? "the metrics");
    }

    private int Recommend(TriggerReading reading)
    {
        if (reading.Target <= 0 || !double.IsFinite(reading.Value) || reading.Value < 0)
        {
            return Replicas;
        }

        var ratio = reading.Value / (reading.Target * Replicas);
        if (Math.Abs(1 - ratio) <= Tolerance)
        {
            return Replicas;
        }

        return (int)Math.Min(int.MaxValue, Math.Ceiling(reading.Value / reading.Target));
    }

    private (int, string) Set(int replicas, string reason)
    {
        Replicas = replicas;
        return (replicas, reason);
    }

    private static string Format(TimeSpan value) => Shared.Durations.GoDuration.Format(value);
}
