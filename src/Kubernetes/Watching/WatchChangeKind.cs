namespace Updraft.Kubernetes.Watching;

public enum WatchChangeKind
{
    /// <summary>A full list replaced everything (the first sync, or a re-list after <c>410 Gone</c>).</summary>
    Reset,

    /// <summary>An object was added or modified.</summary>
    Upsert,

    /// <summary>An object was deleted.</summary>
    Delete,
}
