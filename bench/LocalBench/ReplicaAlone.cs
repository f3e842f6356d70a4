using System.Diagnostics;
using System.Globalization;

namespace Updraft.Bench.Local;

/// <summary>
/// The baseline: the replica program started by the benchmark itself, as the local autoscaler starts it (stdin closed,
/// stdout and stderr read, <c>PORT</c> set) and checked as it checks it (<c>GET /ready</c> every 5 ms), and the time
/// from its spawn to its first answer written (its <c>request-us /ready</c> line).
/// </summary>
internal static class ReplicaAlone
{
    private static readonly TimeSpan CheckPeriod = TimeSpan.FromMilliseconds(5);

    /// <summary>Milliseconds from <see cref="Process.Start()"/> returning (as the autoscaler's <c>started</c> event) to its first answer.</summary>
    public static async Task<double> StartAsync(string dotnetDll, string workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var port = BenchSupport.FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            ArgumentList = { dotnetDll, "replica" },
            WorkingDirectory = workingDirectory,
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["PORT"] = port.ToString(CultureInfo.InvariantCulture);
        using var process = new Process { StartInfo = info };
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        process.Start();
        var spawned = DateTime.UtcNow;
        try
        {
            process.StandardInput.Close();
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            bounded.CancelAfter(timeout);
            var checks = CheckUntilAnsweredAsync(port, bounded.Token);
            while (true)
            {
                string? line;
                try
                {
                    line = await process.StandardOutput.ReadLineAsync(bounded.Token);
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new TimeoutException($"the replica program started alone did not answer within {timeout.TotalSeconds:0} s");
                }

                if (line is null)
                {
                    await process.WaitForExitAsync(cancellationToken);
                    throw new InvalidOperationException($"the replica program started alone exited ({process.ExitCode}) before it answered: {await errors}");
                }

                if (line.StartsWith(LocalOutput.RequestWord + " /ready ", StringComparison.Ordinal))
                {
                    await checks;
                    return (LocalOutput.RequestTimes(line).Written - spawned).TotalMilliseconds;
                }
            }
        }
        finally
        {
            await bounded.CancelAsync();
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync(CancellationToken.None);
        }
    }

    /// <summary><c>GET /ready</c> on a new connection every <see cref="CheckPeriod"/> until one is answered.</summary>
    private static async Task CheckUntilAnsweredAsync(int port, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(1) };
        var uri = new Uri("http://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture) + "/ready");
        while (true)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, uri) { Headers = { ConnectionClose = true } };
            try
            {
                using var response = await client.SendAsync(request, cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
            {
                // Not answering yet.
            }

            await Task.Delay(CheckPeriod, cancellationToken);
        }
    }
}
