using System.Diagnostics;
using System.Globalization;

namespace Updraft.Bench.Local;

/// <summary>
/// The baseline: the replica program started by the benchmark itself, as the local autoscaler starts it (stdin closed,
/// stdout and stderr read, <c>PORT</c> set), and the time from its spawn to its <c>listening-at-unix-us</c> line.
/// </summary>
internal static class ReplicaAlone
{
    /// <summary>Milliseconds from <see cref="Process.Start()"/> returning (as the autoscaler's <c>started</c> event) to listening.</summary>
    public static async Task<double> StartAsync(string dotnetDll, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dotnetDll, "replica" },
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["PORT"] = BenchSupport.FreePort().ToString(CultureInfo.InvariantCulture);
        using var process = new Process { StartInfo = info };
        process.Start();
        var spawned = DateTime.UtcNow;
        try
        {
            process.StandardInput.Close();
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(timeout);
            while (true)
            {
                string? line;
                try
                {
                    line = await process.StandardOutput.ReadLineAsync(bounded.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"the replica program started alone did not listen within {timeout.TotalSeconds:0} s");
                }

                if (line is null)
                {
                    await process.WaitForExitAsync(cancellationToken);
                    throw new InvalidOperationException($"the replica program started alone exited ({process.ExitCode}) before it listened: {await errors}");
                }

                if (line.StartsWith(LocalOutput.ListeningWord + " ", StringComparison.Ordinal))
                {
                    return (LocalOutput.ListeningTime(line) - spawned).TotalMilliseconds;
                }
            }
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync(CancellationToken.None);
        }
    }
}
