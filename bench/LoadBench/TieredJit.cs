using System.Globalization;

namespace Updraft.Bench.Load;

/// <summary>
/// The CPU time of a .NET process's tiered-compilation thread (".NET Tiered Com"), which compiles methods again,
/// optimized, once they have been called often enough: seconds of CPU after a warm-up on a busy machine, and again
/// in bursts when traffic resumes after a pause. Other processes have no such thread and read as 0.
/// </summary>
internal static class TieredJit
{
    /// <summary>CPU ticks so far of each tiered-compilation thread of a process, by thread id.</summary>
    public static Dictionary<int, long> Snapshot(int pid)
    {
        var ticks = new Dictionary<int, long>();
        foreach (var task in Directory.EnumerateDirectories($"/proc/{pid}/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(task, "stat"));
                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var close = stat.LastIndexOf(')');
                if (!stat.AsSpan(open + 1, close - open - 1).StartsWith(".NET Tiered", StringComparison.Ordinal))
                {
                    continue;
                }

                // As ChildProcess.CpuSeconds: utime and stime are fields 14 and 15.
                var fields = stat[(close + 2)..].Split(' ');
                ticks[int.Parse(Path.GetFileName(task), CultureInfo.InvariantCulture)] =
                    long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            }
            catch (IOException)
            {
                // The thread exited between the listing and the read.
            }
        }

        return ticks;
    }

    /// <summary>
    /// Ticks between two snapshots; a thread that started in between counts in full, one that exited in between is
    /// lost (the runtime ends it after it has idled).
    /// </summary>
    public static long Ticks(Dictionary<int, long> before, Dictionary<int, long> after) =>
        after.Sum(t => t.Value - before.GetValueOrDefault(t.Key));
}
