using System.Diagnostics;

namespace Updraft.Microbenchmarks;

internal static class Repository
{
    /// <summary>The checkout this benchmark was built in (BenchmarkDotNet's runners live below its bin folder).</summary>
    public static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Updraft.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("run from inside the Updraft repository");
    }

    public static string ShortCommit(string repository)
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse --short HEAD") { WorkingDirectory = repository, RedirectStandardOutput = true })!;
            var output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return output.Length > 0 ? output : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }
}
