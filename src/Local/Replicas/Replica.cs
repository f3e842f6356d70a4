using System.Diagnostics;
using System.Globalization;

namespace Updraft.Local.Replicas;

/// <summary>
/// One replica slot of a workload and its supervision: start the process on a free port, wait for readiness, watch
/// for a crash, restart after the back-off, until a stop is requested; then the stop protocol. One supervision task
/// owns the process, so a stop and a crash never race over it. Fields marked "under Sync" are guarded by the owner's lock.
/// </summary>
internal sealed class Replica : IDisposable
{
    private readonly WorkloadReplicas _owner;
    private readonly CancellationTokenSource _stop = new();
    private readonly string _firstReason;
    private readonly string _prefix;

    // Under Sync.
    private int _failures;
    private long? _readySince;
    private int? _pid;
    private bool _awaitUnpublished;
    private long _stopRequestedAt;

    public Replica(WorkloadReplicas owner, int index, long sequence, string reason)
    {
        _owner = owner;
        Index = index;
        Sequence = sequence;
        _firstReason = reason;
        _prefix = "[" + owner.Workload.Key + "#" + index.ToString(CultureInfo.InvariantCulture) + "] ";
        Since = owner.TimeProvider.GetUtcNow();
    }

    public int Index { get; }

    /// <summary>Creation order: the newest replica stops first.</summary>
    public long Sequence { get; }

    /// <summary>Under Sync.</summary>
    public ReplicaState State { get; private set; } = ReplicaState.Starting;

    /// <summary>Under Sync: the port of the running process.</summary>
    public int? Port { get; private set; }

    /// <summary>Under Sync: the process is alive.</summary>
    public bool Alive { get; private set; }

    /// <summary>Under Sync: set once, by a scale-down or the shutdown.</summary>
    public bool StopRequested { get; private set; }

    /// <summary>Under Sync: which replicas a scale-down picks first (lower first): those furthest from serving.</summary>
    public int StopRank => State switch
    {
        ReplicaState.Backoff or ReplicaState.Stopping => 0,
        ReplicaState.Starting => 1,
        _ => 2,
    };

    public Task Supervisor { get; private set; } = Task.CompletedTask;

    private DateTimeOffset Since { get; set; }

    private int Restarts { get; set; }

    private int? LastExitCode { get; set; }

    private string Key => _owner.Workload.Key;

    /// <summary>Under Sync.</summary>
    public ReplicaStatus Status() => new(Index, _pid, Port, State, Since, Restarts, LastExitCode);

    public void Dispose() => _stop.Dispose();

    /// <summary>Under Sync: begins supervision on the thread pool.</summary>
    public void Start() => Supervisor = Task.Run(SuperviseAsync);

    /// <summary>Under Sync: out of the ready addresses from now on (the caller publishes and raises Changed).</summary>
    public void MarkStopping()
    {
        StopRequested = true;
        _stopRequestedAt = Stopwatch.GetTimestamp();
        _awaitUnpublished = State == ReplicaState.Ready;
        if (State != ReplicaState.Backoff)
        {
            State = ReplicaState.Stopping;
            Since = _owner.TimeProvider.GetUtcNow();
        }
    }

    /// <summary>After <see cref="MarkStopping"/>, the lock released and Changed raised: records the event and wakes supervision.</summary>
    public void RequestStop(string reason)
    {
        ReplicaState state;
        int? pid;
        int? port;
        lock (_owner.Sync)
        {
            (state, pid, port) = (State, _pid, Port);
        }

        var kind = state == ReplicaState.Backoff ? ReplicaEventKind.RestartCancelled : ReplicaEventKind.Stopping;
        _owner.Events.Record(kind, Key, Index, pid, port, null, reason);
        // Asynchronously: the supervision's continuations must not run on (and hold up) the caller's thread.
        try
        {
            _ = _stop.CancelAsync();
        }
        catch (ObjectDisposedException)
        {
            // Its supervision saw the stop request and ended already.
        }
    }

    private async Task SuperviseAsync()
    {
        try
        {
            var reason = _firstReason;
            while (true)
            {
                var backoff = await RunOnceAsync(reason);
                if (backoff is null)
                {
                    return;
                }

                await backoff.ContinueWith(static _ => { }, TaskScheduler.Default);
                lock (_owner.Sync)
                {
                    if (StopRequested)
                    {
                        return;
                    }

                    Restarts++;
                    State = ReplicaState.Starting;
                    Since = _owner.TimeProvider.GetUtcNow();
                    reason = string.Create(CultureInfo.InvariantCulture, $"(restart {Restarts})");
                }
            }
        }
        finally
        {
            _owner.Remove(this);
            Dispose();
        }
    }

    /// <summary>One process, start to exit. Returns the back-off to wait out before the next, or null when stopped.</summary>
    private async Task<Task?> RunOnceAsync(string reason)
    {
        if (IsStopRequested())
        {
            return null;
        }

        if (!_owner.Ports.TryReserve(out var port, out var portError))
        {
            return EndAttempt(ReplicaEventKind.FailedToStart, portError, null, null, null);
        }

        ReplicaProcess process;
        try
        {
            process = ReplicaProcess.Start(ReplicaCommand.StartInfo(_owner.Workload, port), _prefix, _owner.Output);
        }
        catch (ReplicaStartException e)
        {
            _owner.Ports.Release(port);
            return EndAttempt(ReplicaEventKind.FailedToStart, e.Message, null, null, null);
        }

        try
        {
            return await RunAsync(process, port, reason);
        }
        finally
        {
            if (!process.HasExited)
            {
                // Only on a bug of ours: never leave the process behind.
                process.Kill();
                await process.Exited;
            }

            process.Dispose();
            _owner.Ports.Release(port);
        }
    }

    private async Task<Task?> RunAsync(ReplicaProcess process, int port, string reason)
    {
        var started = Stopwatch.GetTimestamp();
        lock (_owner.Sync)
        {
            (_pid, Port, Alive) = (process.Pid, port, true);
        }

        _owner.Events.Record(ReplicaEventKind.Started, Key, Index, process.Pid, port, null, string.Create(CultureInfo.InvariantCulture, $"pid={process.Pid} port={port} {reason}"));
        switch (await WaitUntilReadyAsync(process, port, started))
        {
            case Readiness.StopRequested:
                return await StopAsync(process, port);
            case Readiness.Exited:
                return await CrashedAsync(process, port);
            case Readiness.TimedOut:
                return await NotReadyAsync(process, port);
        }

        bool changed;
        lock (_owner.Sync)
        {
            if (StopRequested)
            {
                changed = false;
            }
            else
            {
                State = ReplicaState.Ready;
                Since = _owner.TimeProvider.GetUtcNow();
                _readySince = _owner.TimeProvider.GetTimestamp();
                changed = _owner.PublishLocked();
            }
        }

        if (IsStopRequested())
        {
            return await StopAsync(process, port);
        }

        if (changed)
        {
            _owner.RaiseChanged();
        }

        _owner.Events.Record(ReplicaEventKind.Ready, Key, Index, process.Pid, port, null, "after " + ReplicaDuration.Format(Stopwatch.GetElapsedTime(started)));
        try
        {
            await process.Exited.WaitAsync(_stop.Token);
        }
        catch (OperationCanceledException)
        {
            // A stop was requested.
        }

        return IsStopRequested() ? await StopAsync(process, port) : await CrashedAsync(process, port);
    }

    private async Task<Readiness> WaitUntilReadyAsync(ReplicaProcess process, int port, long started)
    {
        var check = _owner.Workload.Readiness;
        while (true)
        {
            if (IsStopRequested())
            {
                return Readiness.StopRequested;
            }

            if (process.HasExited)
            {
                return Readiness.Exited;
            }

            bool ready;
            try
            {
                ready = await _owner.Probe.IsReadyAsync(port, _stop.Token);
            }
            catch (OperationCanceledException)
            {
                return Readiness.StopRequested;
            }

            if (ready)
            {
                // Something answered on the port, but not our process if it has exited meanwhile.
                return process.HasExited ? Readiness.Exited : Readiness.Ready;
            }

            var left = check.Timeout - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero)
            {
                return Readiness.TimedOut;
            }

            await Task.WhenAny(Task.Delay(left < check.Period ? left : check.Period, _stop.Token), process.Exited);
        }
    }

    /// <summary>The stop protocol: (the ready addresses were already replaced) unpublished, SIGTERM, SIGKILL after the grace, exit.</summary>
    private async Task<Task?> StopAsync(ReplicaProcess process, int port)
    {
        bool awaitUnpublished;
        long requestedAt;
        lock (_owner.Sync)
        {
            (awaitUnpublished, requestedAt) = (_awaitUnpublished, _stopRequestedAt);
        }

        if (awaitUnpublished)
        {
            try
            {
                await _owner.Unpublished(CancellationToken.None);
            }
#pragma warning disable CA1031 // Whatever the hook does, the process must still be stopped.
            catch (Exception e)
#pragma warning restore CA1031
            {
                _owner.Events.Note($"{Key}#{Index}: waiting until no interceptor sends it requests failed ({e.GetType().Name}: {e.Message}); stopping it anyway");
            }
        }

        var exitCode = await TerminateAsync(process, port);
        lock (_owner.Sync)
        {
            (_pid, Port, Alive, LastExitCode) = (null, null, false, exitCode);
        }

        _owner.Events.Record(ReplicaEventKind.Stopped, Key, Index, process.Pid, port, exitCode, string.Create(CultureInfo.InvariantCulture, $"exit={exitCode} after {ReplicaDuration.Format(Stopwatch.GetElapsedTime(requestedAt))}"));
        return null;
    }

    private async Task<Task?> CrashedAsync(ReplicaProcess process, int port)
    {
        KillLeftovers(process, port);
        await process.DrainOutputAsync();
        var exitCode = process.ExitCode;
        return EndAttempt(ReplicaEventKind.Crashed, string.Create(CultureInfo.InvariantCulture, $"exit={exitCode}"), process.Pid, port, exitCode);
    }

    private async Task<Task?> NotReadyAsync(ReplicaProcess process, int port)
    {
        _owner.Events.Record(ReplicaEventKind.Failed, Key, Index, process.Pid, port, null, "not ready after " + ReplicaDuration.Format(_owner.Workload.Readiness.Timeout));
        lock (_owner.Sync)
        {
            if (!StopRequested)
            {
                State = ReplicaState.Stopping;
                Since = _owner.TimeProvider.GetUtcNow();
            }
        }

        var stopping = Stopwatch.GetTimestamp();
        var exitCode = await TerminateAsync(process, port);
        return EndAttempt(ReplicaEventKind.Stopped, string.Create(CultureInfo.InvariantCulture, $"exit={exitCode} after {ReplicaDuration.Format(Stopwatch.GetElapsedTime(stopping))}"), process.Pid, port, exitCode);
    }

    /// <summary>
    /// SIGTERM; SIGKILL if it, or a process it started, still runs after the grace period; its exit code. A wrapper
    /// script may exit at once on SIGTERM while its server finishes the requests in flight: that is waited for too.
    /// </summary>
    private async Task<int> TerminateAsync(ReplicaProcess process, int port)
    {
        var grace = _owner.Workload.TerminationGracePeriod;
        var terminated = Stopwatch.GetTimestamp();
        process.Terminate();
        string? stillRunning = null;
        try
        {
            await process.Exited.WaitAsync(grace);
            if (!await process.GroupEndsWithinAsync(grace - Stopwatch.GetElapsedTime(terminated)))
            {
                stillRunning = "a process it started is still running ";
            }
        }
        catch (TimeoutException)
        {
            stillRunning = "still running ";
        }

        if (stillRunning is not null)
        {
            _owner.Events.Record(ReplicaEventKind.Killed, Key, Index, process.Pid, port, null, stillRunning + ReplicaDuration.Format(grace) + " after SIGTERM");
            process.Kill();
            await process.Exited;
        }

        await process.DrainOutputAsync();
        return process.ExitCode;
    }

    /// <summary>
    /// After it exited by itself: what it started and left behind is killed at once (as a container's other processes
    /// are when its first one exits), so that a restart finds its port free.
    /// </summary>
    private void KillLeftovers(ReplicaProcess process, int port)
    {
        if (process.GroupStillRuns)
        {
            _owner.Events.Record(ReplicaEventKind.Killed, Key, Index, process.Pid, port, null, "a process it started was still running after it exited");
            process.Kill();
        }
    }

    /// <summary>
    /// An attempt ended without a stop request: out of the ready addresses, then the event, with the back-off unless a
    /// stop came meanwhile. The back-off's timer exists before the event is recorded (a test on a fake clock advances
    /// it once it sees the event).
    /// </summary>
    private Task? EndAttempt(ReplicaEventKind kind, string detail, int? pid, int? port, int? exitCode)
    {
        TimeSpan? backoff = null;
        bool changed;
        lock (_owner.Sync)
        {
            var wasReady = State == ReplicaState.Ready;
            (_pid, Port, Alive) = (null, null, false);
            LastExitCode = exitCode ?? LastExitCode;
            if (!StopRequested)
            {
                State = ReplicaState.Backoff;
                Since = _owner.TimeProvider.GetUtcNow();
                backoff = NextBackoff();
            }

            changed = wasReady && _owner.PublishLocked();
        }

        if (changed)
        {
            _owner.RaiseChanged();
        }

        if (backoff is not TimeSpan delay)
        {
            _owner.Events.Record(kind, Key, Index, pid, port, exitCode, detail);
            return null;
        }

        var wait = Task.Delay(delay, _owner.TimeProvider, _stop.Token);
        _owner.Events.Record(kind, Key, Index, pid, port, exitCode, detail + "; restarting in " + ReplicaDuration.Format(delay));
        return wait;
    }

    /// <summary>Under Sync: 1 s, 2 s, 4 s ... at most 30 s; from 1 s again after the replica was ready for a minute.</summary>
    private TimeSpan NextBackoff()
    {
        if (_readySince is long readySince && _owner.TimeProvider.GetElapsedTime(readySince) >= WorkloadReplicas.BackoffReset)
        {
            _failures = 0;
        }

        _readySince = null;
        _failures = Math.Min(_failures + 1, 16);
        var backoff = WorkloadReplicas.InitialBackoff * Math.Pow(2, _failures - 1);
        return backoff < WorkloadReplicas.MaxBackoff ? backoff : WorkloadReplicas.MaxBackoff;
    }

    private bool IsStopRequested()
    {
        lock (_owner.Sync)
        {
            return StopRequested;
        }
    }

    private enum Readiness
    {
        Ready,
        Exited,
        TimedOut,
        StopRequested,
    }
}
