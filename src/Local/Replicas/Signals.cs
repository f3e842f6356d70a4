using System.Runtime.InteropServices;

namespace Updraft.Local.Replicas;

/// <summary><c>kill(2)</c>: .NET's <see cref="System.Diagnostics.Process.Kill()"/> only sends SIGKILL, and only to processes.</summary>
internal static partial class Signals
{
    public const int Kill = 9;
    public const int Terminate = 15;

    /// <summary>Sends <paramref name="signal"/> to one process; false when it is gone (ESRCH) or not ours.</summary>
    public static bool Send(int pid, int signal) => kill(pid, signal) == 0;

    /// <summary>Sends <paramref name="signal"/> to every process of a process group; false when the group has none left.</summary>
    public static bool SendToGroup(int group, int signal) => kill(-group, signal) == 0;

    /// <summary>Signal 0: nothing is sent, but the answer says whether the process (or its zombie) exists.</summary>
    public static bool Exists(int pid) => kill(pid, 0) == 0;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int kill(int pid, int signal);
}
