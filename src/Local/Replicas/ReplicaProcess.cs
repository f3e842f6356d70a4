using System.ComponentModel;
using System.Diagnostics;

namespace Updraft.Local.Replicas;

/// <summary>
/// One run of a replica's program: started with stdin closed (as <c>&lt;/dev/null</c>), its stdout and stderr
/// re-printed on ours, and, where util-linux's <c>setsid</c> is on <c>PATH</c>, as the leader of its own process group.
/// Signals then go to the whole group, as a terminal's Ctrl-C does: a wrapper script that does not <c>exec</c> its
/// server, and whatever else it started, get them too, and stay reachable after the script has exited. Without
/// <c>setsid</c> (not Linux), signals go to the process, and <see cref="Kill"/> to every descendant still under it.
/// </summary>
internal sealed class ReplicaProcess : IDisposable
{
    private static readonly TimeSpan OutputDrainLimit = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan GroupCheckPeriod = TimeSpan.FromMilliseconds(10);

    /// <summary>util-linux's <c>setsid</c>: it makes the program it runs (in the same process) lead a new session and group.</summary>
    private static readonly string? SessionStarter = FindSessionStarter();

    private readonly Process _process;
    private readonly Task _output;

    private ReplicaProcess(Process process, Task output, bool ownGroup)
    {
        _process = process;
        _output = output;
        OwnGroup = ownGroup;
        Pid = process.Id;
        Exited = process.WaitForExitAsync();
    }

    public int Pid { get; }

    /// <summary>The process leads its own process group (numbered as its pid), which holds whatever it started.</summary>
    public bool OwnGroup { get; }

    /// <summary>Completes when the process has exited (and has been reaped).</summary>
    public Task Exited { get; }

    public bool HasExited => Exited.IsCompleted;

    /// <summary>The exit code, or 128 plus the signal that ended it; valid once <see cref="Exited"/> completed.</summary>
    public int ExitCode => _process.ExitCode;

    /// <exception cref="ReplicaStartException">The program is not found, not executable, or the directory is missing: the system's message.</exception>
    public static ReplicaProcess Start(ProcessStartInfo info, string outputPrefix, TextWriter output)
    {
        var ownGroup = SessionStarter is not null;
        if (ownGroup)
        {
            // Checked here, as setsid's own exec failure would look like a crash of the program.
            CheckStartable(info);
            info.ArgumentList.Insert(0, info.FileName);
            info.FileName = SessionStarter;
        }

        var process = new Process { StartInfo = info };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            process.Dispose();
            throw new ReplicaStartException(e.Message);
        }

        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // Already gone: its exit is seen as usual.
        }

        var pumps = Task.WhenAll(
            ReplicaOutput.PumpAsync(process.StandardOutput.BaseStream, outputPrefix, output),
            ReplicaOutput.PumpAsync(process.StandardError.BaseStream, outputPrefix, output));
        return new ReplicaProcess(process, pumps, ownGroup);
    }

    /// <summary>
    /// SIGTERM to its group, or to the process itself while it has not made its group yet (setsid runs first) or has
    /// none; nothing to a process that has exited (its pid may belong to someone else by now).
    /// </summary>
    public void Terminate()
    {
        if (!(OwnGroup && Signals.SendToGroup(Pid, Signals.Terminate)) && !HasExited)
        {
            Signals.Send(Pid, Signals.Terminate);
        }
    }

    /// <summary>
    /// Whether a process it started still runs in its group after it has exited. No pid of the group is reused while
    /// one of them lives, so its number still means the same group.
    /// </summary>
    public bool GroupStillRuns => OwnGroup && ProcessGroup.HasLiveMembers(Pid);

    /// <summary>Waits until <see cref="GroupStillRuns"/> turns false, at most <paramref name="limit"/>; whether it did.</summary>
    public async Task<bool> GroupEndsWithinAsync(TimeSpan limit)
    {
        var waited = Stopwatch.StartNew();
        while (GroupStillRuns)
        {
            if (waited.Elapsed >= limit)
            {
                return false;
            }

            await Task.Delay(GroupCheckPeriod);
        }

        return true;
    }

    /// <summary>SIGKILL to its group and to every descendant still under it.</summary>
    public void Kill()
    {
        if (OwnGroup)
        {
            Signals.SendToGroup(Pid, Signals.Kill);
        }

        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (Exception e) when (e is InvalidOperationException or Win32Exception)
        {
            // Exited meanwhile.
        }
    }

    /// <summary>
    /// After the exit: waits briefly for the last lines it wrote. A descendant that still holds the pipes open keeps
    /// them printing; that is not waited for.
    /// </summary>
    public Task DrainOutputAsync() => _output.WaitAsync(OutputDrainLimit).ContinueWith(static _ => { }, TaskScheduler.Default);

    public void Dispose() => _process.Dispose();

    private static string? FindSessionStarter()
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            return ReplicaCommand.ResolveProgram("setsid", "/", Environment.GetEnvironmentVariable("PATH"));
        }
        catch (ReplicaStartException)
        {
            return null;
        }
    }

    /// <summary>The reasons the system would give for not starting the program, in its words.</summary>
    private static void CheckStartable(ProcessStartInfo info)
    {
        if (!Directory.Exists(info.WorkingDirectory))
        {
            throw new ReplicaStartException($"the working directory '{info.WorkingDirectory}': No such file or directory");
        }

        if (!File.Exists(info.FileName))
        {
            throw new ReplicaStartException($"'{info.FileName}': No such file or directory");
        }

        if (!ReplicaCommand.IsExecutable(info.FileName))
        {
            throw new ReplicaStartException($"'{info.FileName}': Permission denied");
        }
    }
}
