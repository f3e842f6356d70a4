using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Updraft.Tests.Common;

/// <summary>
/// Gives each test process a temp directory of its own, <c>updraft-tests-PID-XXXXXX</c> in the system's, and removes it
/// when the process exits: tests leave no files behind in the temp directory. Tests clean up what they create, but the
/// processes they start write there too (the .NET runtime's diagnostics sockets of a child that had to be killed,
/// MSBuild and NuGet under <c>dotnet run</c>, helm's and kubectl's caches), and those cannot be told apart afterwards.
/// <c>TMPDIR</c> points at it before any test runs, so <see cref="Path.GetTempPath"/> and every child process use it.
/// A directory left by a test process that was killed is removed by the next run.
/// </summary>
internal static class TestTempDirectory
{
    private const string Prefix = "updraft-tests-";

    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries", Justification = "A test assembly: TMPDIR must be set before any test runs.")]
    internal static void Initialize()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("TMPDIR") is { } current && Path.GetFileName(current.TrimEnd('/')).StartsWith(Prefix, StringComparison.Ordinal))
        {
            // Not on Linux, or already inside one (a child test process, or ./updraft.sh test's): nothing to do.
            return;
        }

        var system = Path.GetTempPath();
        RemoveAbandoned(system);
        var directory = Directory.CreateTempSubdirectory(Prefix + Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "-").FullName;
        // As open as /tmp itself: some tests run their processes as another user, in directories made for that user here.
        File.SetUnixFileMode(directory, (UnixFileMode)Convert.ToInt32("1777", 8));
        Environment.SetEnvironmentVariable("TMPDIR", directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            Environment.SetEnvironmentVariable("TMPDIR", null);
            TryDelete(directory);
        };
    }

    /// <summary>Directories of test processes that no longer run (killed before they could remove theirs).</summary>
    private static void RemoveAbandoned(string system)
    {
        try
        {
            foreach (var directory in Directory.EnumerateDirectories(system, Prefix + "*"))
            {
                var rest = Path.GetFileName(directory)[Prefix.Length..];
                var dash = rest.IndexOf('-', StringComparison.Ordinal);
                if (dash > 0 && int.TryParse(rest.AsSpan(0, dash), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) && !Directory.Exists($"/proc/{pid}"))
                {
                    TryDelete(directory);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Someone else's, or gone meanwhile.
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A file another user made there; the next run tries again.
        }
    }
}
