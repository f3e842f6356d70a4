using Microsoft.Extensions.Options;
using Updraft.Interceptor.Options;
using Updraft.Shared.Durations;

namespace Updraft.Interceptor.Routing;

/// <summary>One source the routing table is built from, and when it last showed the table is current.</summary>
/// <param name="Source">What it is (a watched resource, the routes file).</param>
/// <param name="ConfirmedAt">A <see cref="TimeProvider"/> timestamp; 0 before the first confirmation.</param>
/// <param name="LastProblem">Why the last attempt failed, or null.</param>
internal readonly record struct FreshnessConfirmation(string Source, long ConfirmedAt, string? LastProblem);

/// <summary>
/// Whether the routing table has been confirmed current within <c>KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS</c>: every
/// source it is built from (the Kubernetes watches, or the routes file) must have shown it so recently. A source that
/// cannot (a watch that hangs, an API server that cannot be reached, a routes file that cannot be read) makes
/// <c>/readyz</c> answer 503 once the limit passes, so traffic moves to replicas that know the current routes.
/// </summary>
internal sealed class RouteFreshness(IOptions<InterceptorOptions> options, TimeProvider time)
{
    private Func<IReadOnlyList<FreshnessConfirmation>> _sources = static () => [];

    public TimeSpan MaxStaleness => options.Value.RoutingTableMaxStaleness;

    /// <summary>Called once by the route source.</summary>
    public void Track(Func<IReadOnlyList<FreshnessConfirmation>> sources) => _sources = sources;

    /// <summary>Null when every source confirmed the table within the limit; else which did not, and why.</summary>
    public string? Problem()
    {
        List<string>? stale = null;
        foreach (var source in _sources())
        {
            if (source.ConfirmedAt == 0)
            {
                continue; // not started yet: readiness waits for the first load anyway
            }

            var age = time.GetElapsedTime(source.ConfirmedAt);
            if (age > MaxStaleness)
            {
                (stale ??= []).Add($"{source.Source} last confirmed {GoDuration.Format(RoundToSeconds(age))} ago ({source.LastProblem ?? "no answer since"})");
            }
        }

        return stale is null
            ? null
            : $"the routing table has not been confirmed current within KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS ({GoDuration.Format(MaxStaleness)}): {string.Join("; ", stale)}";
    }

    private static TimeSpan RoundToSeconds(TimeSpan age) => age >= TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(Math.Floor(age.TotalSeconds)) : age;
}
