using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Updraft.Bench;

/// <summary>What every benchmark needs from its surroundings: the checkout, its commit, free loopback ports, percentiles.</summary>
internal static class BenchSupport
{
    /// <summary>The checkout the benchmark was built in (found above the running binary).</summary>
    public static string RepositoryRoot()
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

    /// <summary>The short commit of <paramref name="repository"/>, or <c>unknown</c> without git.</summary>
    public static string ShortCommit(string repository)
    {
        try
        {
            using var git = Process.Start(new ProcessStartInfo("git", "rev-parse --short HEAD") { WorkingDirectory = repository, RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = git.StandardOutput.ReadToEnd().Trim();
            git.WaitForExit();
            return output.Length > 0 ? output : "unknown";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "unknown";
        }
    }

    /// <summary>A loopback port free right now (another process may take it before it is bound: fine for benchmarks).</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The nearest-rank percentile of <paramref name="values"/> (<paramref name="quantile"/> in 0..1).</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double quantile)
    {
        var sorted = values.Order().ToArray();
        return sorted[Math.Clamp((int)Math.Ceiling(quantile * sorted.Length) - 1, 0, sorted.Length - 1)];
    }
}
