using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace Updraft.Microbenchmarks;

/// <summary>
/// One short job (one launch, 3 warm-up and 5 measured iterations) so the whole suite runs in a few minutes on
/// 2 cores. In-process (emitted runner, no generated project to build): the benchmarks run under this project's
/// runtime settings, which are the interceptor's (server, concurrent GC; tiered PGO). Artifacts go to
/// bench/results/micro/. A <c>--job</c> on the command line replaces this job. Median and Min are shown beside the
/// mean: on a shared machine a burst of load inflates the mean of five iterations, the minimum much less.
/// </summary>
internal static class MicroConfig
{
    public static IConfig Create(string repository) =>
        DefaultConfig.Instance
            .AddJob(Job.Default
                .WithLaunchCount(1)
                .WithWarmupCount(3)
                .WithIterationCount(5)
                .WithGcServer(true)
                .WithGcConcurrent(true)
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithId("Micro")
                .AsDefault())
            .AddColumn(StatisticColumn.Median, StatisticColumn.Min)
            .WithArtifactsPath(Path.Combine(repository, "bench", "results", "micro"));
}
