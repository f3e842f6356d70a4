using System.ComponentModel;
using System.Diagnostics;

namespace Updraft.Local.Replicas;

/// <summary>
/// One run of a replica's program: started with stdin closed (as <c>&lt;/dev/null</c>) and its stdout and stderr
/// re-printed on ours. Only this process gets SIGTERM (as only a container's first process does); its descendants
/// are left to it. <see cref="Kill"/> (after the grace period) ends it and every descendant still under it.
/// </summary>
internal sealed class ReplicaProcess : IDisposable
{
    private static readonly TimeSpan OutputDrainLimit = TimeSpan.FromSeconds(1);

    private readonly Process _process;
    private readonly Task _output;

    private ReplicaProcess(Process process, Task output)
    {
        _process = process;
        _output = output;
        Pid = process.Id;
        Exited = process.WaitForExitAsync();
    }

    public int Pid { get; }

    /// <summary>Completes when the process has exited (and has been reaped).</summary>
    public Task Exited { get; }

    public bool HasExited => Exited.IsCompleted;

    /// <summary>The exit code, or 128 plus the signal that ended it; valid once <see cref="Exited"/> completed.</summary>
    public int ExitCode => _process.ExitCode;

    /// <exception cref="ReplicaStartException">The program is not found, not executable, or the directory is missing: the system's message.</exception>
    public static ReplicaProcess Start(ProcessStartInfo info, string outputPrefix, TextWriter output)
    {
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
        return new ReplicaProcess(process, pumps);
    }

    /// <summary>SIGTERM, unless it has exited (its pid may belong to someone else by now).</summary>
    public void Terminate()
    {
        if (!HasExited)
        {
            Signals.Send(Pid, Signals.Terminate);
        }
    }

    /// <summary>SIGKILL to it and every descendant still under it.</summary>
    public void Kill()
    {
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
}
