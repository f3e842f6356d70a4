namespace Updraft.Local.Replicas;

internal enum ReplicaState
{
    /// <summary>The process runs (or is being started) and has not passed its readiness check yet.</summary>
    Starting,

    /// <summary>Passed its readiness check: in <see cref="WorkloadReplicas.ReadyAddresses"/>.</summary>
    Ready,

    /// <summary>Being stopped (scale-down, shutdown, or not ready in time): out of the ready addresses.</summary>
    Stopping,

    /// <summary>No process: waiting out the back-off before a restart.</summary>
    Backoff,
}

/// <summary>One replica for a status view.</summary>
/// <param name="Index">The <c>#1</c> in <c>demo/echo#1</c>: the lowest number no other replica of the workload has.</param>
/// <param name="Pid">Null when no process runs (back-off).</param>
/// <param name="Since">When it entered <paramref name="State"/>.</param>
/// <param name="Restarts">Starts after the first one (after crashes and failures).</param>
/// <param name="LastExitCode">Of its last process; 128 plus the signal for one ended by a signal.</param>
internal sealed record ReplicaStatus(int Index, int? Pid, int? Port, ReplicaState State, DateTimeOffset Since, int Restarts, int? LastExitCode);
