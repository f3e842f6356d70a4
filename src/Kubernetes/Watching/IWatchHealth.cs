namespace Updraft.Kubernetes.Watching;

/// <summary>How current a watch's copy is known to be, whatever it holds (see <see cref="ResourceWatch{T}"/>).</summary>
public interface IWatchHealth
{
    /// <summary>The watched resource, for messages.</summary>
    public string Name { get; }

    /// <summary>The resource's plural name (<c>services</c>), as health reports show it.</summary>
    public string Plural { get; }

    /// <summary>Completes once the first list has been taken in.</summary>
    public Task Synced { get; }

    /// <summary>Full lists taken so far (the first, and one after each expired version).</summary>
    public long Lists { get; }

    /// <summary>Requests that failed so far.</summary>
    public long Failures { get; }

    /// <summary>When the server last showed the copy is current (a <see cref="TimeProvider"/> timestamp; 0: never).</summary>
    public long ConfirmedAt { get; }

    /// <summary>Why the last request failed, or null.</summary>
    public string? LastProblem { get; }

    /// <summary>Restarts the current watch request, resuming from the last version seen.</summary>
    public void Refresh();
}
