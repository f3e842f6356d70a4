using System.Runtime.InteropServices;
using Updraft.Bench;
using Updraft.Bench.Local;

// Local benchmark: the time from the first request at zero to its answer, through the real interceptor, external
// scaler and local autoscaler (the Release builds, each its own process on free loopback ports, as the demo runs
// them), split into scaler notice, the process's own start-up, readiness detection and forwarding. Updraft's share is
// everything but the process's start-up. Baselines from the same run: the replica program started by this benchmark
// directly (spawn → listening), and a warm request through the interceptor.
// Usage: Updraft.Bench.Local [Release|Debug] [--smoke]   (--smoke: 3 cold starts, results in the temp directory)
// Results: bench/results/<date>-<commit>-local.json and a Markdown table on stdout.
var repo = BenchSupport.RepositoryRoot();
var configuration = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "Release";
var smoke = args.Contains("--smoke");

using var interrupted = new CancellationTokenSource();
using var onInterrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
using var onTerminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
var work = Directory.CreateTempSubdirectory("updraft-bench-local-");
try
{
    return await LocalBenchmark.RunAsync(repo, configuration, smoke, work.FullName, interrupted.Token);
}
catch (OperationCanceledException) when (interrupted.IsCancellationRequested)
{
    Console.Error.WriteLine("interrupted: every process the benchmark started has been stopped");
    return 130;
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException or HttpRequestException or IOException)
{
    // The processes' last lines are printed above; every process has been stopped.
    Console.Error.WriteLine($"local benchmark failed: {e.Message}");
    return 1;
}
finally
{
    work.Delete(recursive: true);
}

void Interrupt(PosixSignalContext context)
{
    // Let the benchmark unwind: disposing each child process stops it (and its replicas) by pid.
    context.Cancel = true;
    interrupted.Cancel();
}
