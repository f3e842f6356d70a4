using System.Globalization;

namespace Updraft.Interceptor.Local;

/// <summary>The status page's "Local replicas" section: the feed and each workload's ready replicas.</summary>
/// <param name="Address">The feed's <c>host:port</c>.</param>
/// <param name="Connected">A stream is open and applied.</param>
/// <param name="Since">When it connected or was lost; null before the first attempt ended.</param>
/// <param name="Problem">Why the last attempt failed, while not connected.</param>
/// <param name="Version">The snapshot in force, or null before the first.</param>
/// <param name="Workloads">Workloads of the snapshot in force, by key, at most <see cref="MaxWorkloads"/>.</param>
/// <param name="MoreWorkloads">Workloads left out of <paramref name="Workloads"/>.</param>
internal sealed record LocalReplicasStatus(
    string Address,
    bool Connected,
    DateTimeOffset? Since,
    string? Problem,
    ulong? Version,
    IReadOnlyList<LocalWorkloadStatus> Workloads,
    int MoreWorkloads)
{
    /// <summary>The autoscaler's latest replica events, newest first: started, ready, stopping, stopped, crashed, with the reason.</summary>
    public IReadOnlyList<string> Events { get; init; } = [];

    public const int MaxWorkloads = 100;

    /// <summary>Replica addresses listed per workload at most.</summary>
    public const int MaxListed = 8;

    public static LocalReplicasStatus Of(LocalReplicaFeed feed, LocalTargets targets)
    {
        var state = feed.State;
        var latest = targets.Latest;
        var keys = latest.Keys.Order(StringComparer.Ordinal).Take(MaxWorkloads);
        var workloads = new List<LocalWorkloadStatus>(Math.Min(latest.Count, MaxWorkloads));
        foreach (var key in keys)
        {
            var replicas = latest[key];
            workloads.Add(new LocalWorkloadStatus(key, replicas.Length, [.. replicas.Take(MaxListed).Select(r => r.Authority)]));
        }

        return new LocalReplicasStatus(feed.Address, state.Connected, state.Since, state.Problem, targets.Version, workloads, latest.Count - workloads.Count)
        {
            Events = [.. feed.RecentEvents.Reverse()],
        };
    }

    /// <summary>One line for the feed, as the page shows it.</summary>
    public string FeedLine() =>
        Address + ": " + (Connected ? "connected" : "not connected")
        + (Since is { } since ? " since " + since.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture) : "")
        + (Version is { } version ? ", snapshot " + version.ToString(CultureInfo.InvariantCulture) : "")
        + (Problem is { } problem && !Connected ? "; last problem: " + problem : "");
}

/// <summary>One local workload and its ready replicas.</summary>
/// <param name="Workload"><c>namespace/name</c>.</param>
/// <param name="ReadyCount">Ready replicas in all.</param>
/// <param name="Ready">Their addresses, at most <see cref="LocalReplicasStatus.MaxListed"/>.</param>
internal sealed record LocalWorkloadStatus(string Workload, int ReadyCount, IReadOnlyList<string> Ready)
{
    /// <summary>One line for the workload, as the page shows it.</summary>
    public string Line() =>
        Workload + ": " + (ReadyCount == 0 ? "no ready replica" : ReadyCount.ToString(CultureInfo.InvariantCulture) + " ready: " + string.Join(' ', Ready)
            + (ReadyCount > Ready.Count ? " +" + (ReadyCount - Ready.Count).ToString(CultureInfo.InvariantCulture) + " more" : ""));
}
