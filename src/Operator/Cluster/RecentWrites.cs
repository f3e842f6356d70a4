using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace Updraft.Operator.Cluster;

/// <summary>
/// What the operator itself just wrote, until the watch catches up. Without it, a reconcile that runs before the
/// watch has delivered the operator's own write compares against the older copy and writes the same thing again.
/// An entry holds the resource versions the writes replaced: while the cache still shows one of them, the written
/// object is the truth; once the cache shows any other version, the cache has caught up and the entry is dropped.
/// </summary>
/// <remarks>
/// Writes to one key come one after another (a key is reconciled by one worker at a time), so every version an
/// earlier write replaced is older than the latest write too: a second write before the watch caught up with the
/// first adds its replaced version to the set.
/// </remarks>
internal sealed class RecentWrites<T>
    where T : class
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <param name="key"><c>namespace/name</c>.</param>
    /// <param name="replaced">The resource version the write replaced (null: the object did not exist).</param>
    /// <param name="written">What the server answered (null: the object was deleted).</param>
    public void Remember(string key, string? replaced, T? written) =>
        _entries.AddOrUpdate(
            key,
            static (_, state) => new Entry([state.Replaced ?? ""], state.Written),
            static (_, existing, state) => new Entry(existing.Replaced.Add(state.Replaced ?? ""), state.Written),
            (Replaced: replaced, Written: written));

    /// <summary>The written object while the cache still shows a version it replaced, otherwise <paramref name="cached"/>.</summary>
    public T? Resolve(string key, T? cached, string? cachedVersion)
    {
        if (!_entries.TryGetValue(key, out var entry))
        {
            return cached;
        }

        if (entry.Replaced.Contains(cachedVersion ?? ""))
        {
            return entry.Written;
        }

        _entries.TryRemove(new KeyValuePair<string, Entry>(key, entry));
        return cached;
    }

    public void Forget(string key) => _entries.TryRemove(key, out _);

    private sealed record Entry(ImmutableHashSet<string> Replaced, T? Written);
}
