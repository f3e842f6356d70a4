namespace Updraft.Kubernetes.Watching;

/// <summary>Exponential back-off with jitter.</summary>
internal sealed class Backoff(TimeSpan min, TimeSpan max)
{
    private readonly TimeSpan _min = min;
    private readonly TimeSpan _max = max;
    private TimeSpan _next = min;

    public TimeSpan Next()
    {
        var current = _next;
        _next = TimeSpan.FromTicks(Math.Min(_max.Ticks, current.Ticks * 2));
        // ±20% so that many watchers do not retry in step.
        return current * (0.8 + (Random.Shared.NextDouble() * 0.4));
    }

    public void Reset() => _next = _min;
}
