using System.Globalization;

namespace Updraft.Local.Replicas;

internal enum ReplicaEventKind
{
    /// <summary>The process started (for a scale-up or a restart).</summary>
    Started,

    /// <summary>The readiness check passed: the replica is in <see cref="WorkloadReplicas.ReadyAddresses"/>.</summary>
    Ready,

    /// <summary>A stop began (scale-down or shutdown): the replica left the ready addresses.</summary>
    Stopping,

    /// <summary>Still running after the termination grace period: SIGKILL was sent.</summary>
    Killed,

    /// <summary>The process exited after we stopped it.</summary>
    Stopped,

    /// <summary>The process exited when we did not stop it; a restart follows after the back-off.</summary>
    Crashed,

    /// <summary>The process ran but did not become ready within the readiness timeout; it is stopped and restarted.</summary>
    Failed,

    /// <summary>No process: no free port, or the program could not be started.</summary>
    FailedToStart,

    /// <summary>A replica waiting out its back-off was scaled away before it restarted.</summary>
    RestartCancelled,
}

/// <summary>One event of one replica, as the event log prints it and the status page shows it.</summary>
/// <param name="Detail">What follows the event's word on its line, e.g. <c>pid=1234 port=41237 (scale 0->1: ...)</c>.</param>
/// <param name="ExitCode">For exits: the process's code, or 128 plus the signal that ended it (137 for SIGKILL), as a shell reports it.</param>
internal sealed record ReplicaEvent(
    DateTimeOffset Time,
    ReplicaEventKind Kind,
    string Key,
    int Index,
    int? Pid,
    int? Port,
    int? ExitCode,
    string Detail)
{
    /// <summary>The event's word on its line; kept stable (tests and the README quote them).</summary>
    public string Word => Kind switch
    {
        ReplicaEventKind.Started => "started",
        ReplicaEventKind.Ready => "ready",
        ReplicaEventKind.Stopping => "stopping",
        ReplicaEventKind.Killed => "killed:",
        ReplicaEventKind.Stopped => "stopped",
        ReplicaEventKind.Crashed => "crashed",
        ReplicaEventKind.Failed => "failed:",
        ReplicaEventKind.FailedToStart => "failed to start:",
        ReplicaEventKind.RestartCancelled => "restart cancelled",
        _ => Kind.ToString(),
    };

    /// <summary><c>demo/echo#1</c>.</summary>
    public string Replica => Key + "#" + Index.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>started pid=1234 port=41237 (scale 0->1: ...)</c>: the line without its time.</summary>
    public string Message => Detail.Length == 0 ? Word : Word + " " + Detail;

    /// <summary><c>2026-12-03T19:40:01.123Z demo/echo#1 started pid=1234 port=41237 (scale 0->1: ...)</c>.</summary>
    public string Line => FormatTime(Time) + " " + Replica + " " + Message;

    /// <summary>UTC with milliseconds: <c>2026-12-03T19:40:01.123Z</c>.</summary>
    public static string FormatTime(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
