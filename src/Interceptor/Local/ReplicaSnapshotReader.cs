using System.Text;
using Updraft.Protos.V1;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Local;

/// <summary>What a snapshot from the feed holds once checked.</summary>
/// <param name="Workloads">Ready replicas by workload key (<c>namespace/name</c>); null when the snapshot is refused whole.</param>
/// <param name="Refusal">Why the whole snapshot is refused (over the bounds), or null.</param>
/// <param name="Skipped">Malformed entries left out (a workload without a name, an address that is not <c>host:port</c>).</param>
/// <param name="Examples">A few of them, quoted and shortened, for the log.</param>
internal sealed record CheckedSnapshot(Dictionary<string, ReplicaAddress[]>? Workloads, string? Refusal, int Skipped, string Examples)
{
    /// <summary>The autoscaler's latest replica events, for the status page: at most <see cref="ReplicaSnapshotReader.MaxEvents"/>, each cut and with control characters shown as '?'.</summary>
    public IReadOnlyList<string> Events { get; init; } = [];
}

/// <summary>
/// Checks a <see cref="ReplicaSnapshot"/> from the feed before anything of it is used. A feed is a peer process and
/// may be broken: a snapshot over <see cref="MaxWorkloads"/> workloads or <see cref="MaxReplicas"/> replicas per
/// workload is refused whole; a malformed entry is skipped and the rest applied. Duplicate entries are merged.
/// </summary>
internal static class ReplicaSnapshotReader
{
    public const int MaxWorkloads = 1_000;
    public const int MaxReplicas = 1_000;
    public const int MaxEvents = 50;
    public const int MaxEventLength = 300;

    private const int MaxExamples = 3;
    private const int MaxExampleLength = 60;
    private const int MaxNameLength = 253;

    private static readonly System.Buffers.SearchValues<char> NameChars = System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyz0123456789-.");

    public static CheckedSnapshot Check(ReplicaSnapshot snapshot)
    {
        if (snapshot.Workloads.Count > MaxWorkloads)
        {
            return new CheckedSnapshot(null, $"{snapshot.Workloads.Count} workloads, more than {MaxWorkloads}", 0, "");
        }

        var workloads = new Dictionary<string, List<ReplicaAddress>>(snapshot.Workloads.Count, StringComparer.Ordinal);
        var skipped = 0;
        var examples = new StringBuilder();
        foreach (var workload in snapshot.Workloads)
        {
            if (workload.Ready.Count > MaxReplicas)
            {
                return new CheckedSnapshot(null, $"workload {Quote(workload.Namespace + "/" + workload.Name)} has {workload.Ready.Count} replicas, more than {MaxReplicas}", 0, "");
            }

            if (!IsName(workload.Namespace) || !IsName(workload.Name))
            {
                skipped++;
                Example(examples, skipped, "workload " + Quote(workload.Namespace + "/" + workload.Name));
                continue;
            }

            var key = RouteKeys.Format(workload.Namespace, workload.Name);
            if (!workloads.TryGetValue(key, out var replicas))
            {
                replicas = new List<ReplicaAddress>(workload.Ready.Count);
                workloads.Add(key, replicas);
            }

            foreach (var text in workload.Ready)
            {
                if (!ReplicaAddress.TryParse(text, out var address))
                {
                    skipped++;
                    Example(examples, skipped, Quote(text) + " of " + key);
                }
                else if (!replicas.Contains(address))
                {
                    if (replicas.Count == MaxReplicas)
                    {
                        return new CheckedSnapshot(null, $"workload {Quote(key)} has more than {MaxReplicas} replicas", 0, "");
                    }

                    replicas.Add(address);
                }
            }
        }

        var result = new Dictionary<string, ReplicaAddress[]>(workloads.Count, StringComparer.Ordinal);
        foreach (var (key, replicas) in workloads)
        {
            result.Add(key, [.. replicas]);
        }

        return new CheckedSnapshot(result, null, skipped, examples.ToString()) { Events = Events(snapshot) };
    }

    /// <summary>The last <see cref="MaxEvents"/> event lines, each at most <see cref="MaxEventLength"/> characters, one line each.</summary>
    private static string[] Events(ReplicaSnapshot snapshot)
    {
        var lines = snapshot.RecentEvents;
        var first = Math.Max(0, lines.Count - MaxEvents);
        var events = new string[lines.Count - first];
        for (var i = first; i < lines.Count; i++)
        {
            var line = lines[i].Length > MaxEventLength ? lines[i][..MaxEventLength] + "..." : lines[i];
            events[i - first] = string.Create(line.Length, line, static (span, text) =>
            {
                for (var j = 0; j < text.Length; j++)
                {
                    span[j] = char.IsControl(text[j]) || text[j] is '\u2028' or '\u2029' ? '?' : text[j];
                }
            });
        }

        return events;
    }

    /// <summary>A namespace or name: what a Kubernetes object may be called (lower-case, digits, '-', '.').</summary>
    private static bool IsName(string text) =>
        text.Length is > 0 and <= MaxNameLength && !text.AsSpan().ContainsAnyExcept(NameChars);

    private static void Example(StringBuilder examples, int skipped, string text)
    {
        if (skipped <= MaxExamples)
        {
            examples.Append(examples.Length > 0 ? ", " : "").Append(text);
        }
    }

    /// <summary>Quoted, shortened, control characters shown as '?': feed text is untrusted and goes to the log.</summary>
    private static string Quote(string text)
    {
        var shown = text.Length > MaxExampleLength ? text[..MaxExampleLength] + "..." : text;
        var builder = new StringBuilder(shown.Length + 2).Append('"');
        foreach (var c in shown)
        {
            builder.Append(char.IsControl(c) ? '?' : c);
        }

        return builder.Append('"').ToString();
    }
}
