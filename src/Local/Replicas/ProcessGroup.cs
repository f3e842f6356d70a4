using System.Globalization;

namespace Updraft.Local.Replicas;

/// <summary>
/// The processes of one process group, as <c>/proc</c> shows them. A replica leads its own group, so the processes it
/// started (a wrapper script's server, say) stay in it even once the replica itself has exited.
/// </summary>
internal static class ProcessGroup
{
    /// <summary>
    /// Whether a process of the group still runs. Zombies do not count: once a member has exited only its parent's
    /// wait is missing, which for an orphan is init's. Without <c>/proc</c>, any member (zombies too) counts.
    /// </summary>
    public static bool HasLiveMembers(int group)
    {
        if (!Directory.Exists("/proc/self"))
        {
            return Signals.Exists(-group);
        }

        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            var name = Path.GetFileName(directory.AsSpan());
            if (name.Length == 0 || !char.IsAsciiDigit(name[0]))
            {
                continue;
            }

            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue; // Exited meanwhile.
            }

            if (IsLiveMember(stat, group))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// One <c>/proc/PID/stat</c> line: <c>pid (comm) state ppid pgrp …</c>; the command name may hold spaces and
    /// parentheses, so the fields are read after its last ')'.
    /// </summary>
    internal static bool IsLiveMember(string stat, int group)
    {
        var end = stat.LastIndexOf(')');
        if (end < 0)
        {
            return false;
        }

        var fields = stat[(end + 1)..].Split(' ', 4, StringSplitOptions.RemoveEmptyEntries);
        return fields.Length >= 3
            && fields[0] is not ("Z" or "X")
            && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var pgrp)
            && pgrp == group;
    }
}
