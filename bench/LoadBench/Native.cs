using System.Runtime.InteropServices;

namespace Updraft.Bench.Load;

/// <summary>
/// Linux clock calls for the constant-rate client: CLOCK_MONOTONIC in nanoseconds, and a sleep until an absolute
/// time on that clock (so a schedule never drifts), with the thread's timer slack cut from 50 µs to 1 µs.
/// </summary>
internal static partial class Native
{
    private const int ClockMonotonic = 1;
    private const int TimerAbsoluteTime = 1;
    private const int SetTimerSlack = 29;
    private const int ClockTicksPerSecond = 2;
    private const long NanosecondsPerSecond = 1_000_000_000;

    /// <summary>Now on CLOCK_MONOTONIC, in nanoseconds.</summary>
    public static long Now()
    {
        _ = clock_gettime(ClockMonotonic, out var now);
        return (now.Seconds * NanosecondsPerSecond) + now.Nanoseconds;
    }

    /// <summary>Sleeps until <paramref name="deadline"/> (CLOCK_MONOTONIC nanoseconds); returns at once if it has passed.</summary>
    public static void SleepUntil(long deadline)
    {
        var time = new Timespec { Seconds = deadline / NanosecondsPerSecond, Nanoseconds = deadline % NanosecondsPerSecond };
        // EINTR (4) is the only retryable error; bounded anyway.
        for (var attempt = 0; attempt < 100 && clock_nanosleep(ClockMonotonic, TimerAbsoluteTime, in time, IntPtr.Zero) == 4; attempt++)
        {
        }
    }

    /// <summary>Wakes this thread from sleeps within 1 µs of the deadline instead of Linux's default 50 µs slack.</summary>
    public static void UseFineTimerSlack() => _ = prctl(SetTimerSlack, 1000, 0, 0, 0);

    /// <summary>The unit of /proc/&lt;pid&gt;/stat CPU times.</summary>
    public static long ClockTicks() => sysconf(ClockTicksPerSecond);

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [LibraryImport("libc", SetLastError = false)]
    private static partial int clock_gettime(int clock, out Timespec time);

    [LibraryImport("libc", SetLastError = false)]
    private static partial int clock_nanosleep(int clock, int flags, in Timespec request, IntPtr remaining);

    [LibraryImport("libc", SetLastError = false)]
    private static partial int prctl(int option, ulong arg2, ulong arg3, ulong arg4, ulong arg5);

    [LibraryImport("libc", SetLastError = false)]
    private static partial long sysconf(int name);
}
