namespace Updraft.Kubernetes.Watching;

/// <param name="Kind">What happened.</param>
/// <param name="Key"><c>namespace/name</c> of the object (empty for <see cref="WatchChangeKind.Reset"/>).</param>
/// <param name="Value">The new object (Upsert) or the last known one (Delete); null for Reset.</param>
/// <param name="Previous">The object this replaced or removed, when there was one.</param>
public readonly record struct WatchChange<T>(WatchChangeKind Kind, string Key, T? Value, T? Previous)
    where T : class;
