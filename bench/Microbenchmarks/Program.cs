using BenchmarkDotNet.Running;
using Updraft.Microbenchmarks;
using Updraft.Bench;

// Updraft's micro benchmarks (bench/Microbenchmarks/README.md).
//   dotnet Updraft.Microbenchmarks.dll [BenchmarkDotNet arguments]   e.g. --filter '*RouteLookup*' (default: every benchmark)
//   dotnet Updraft.Microbenchmarks.dll allocations [--set KEY=VALUE...]
//                                    only the process-wide allocations per proxied request; --set runs a what-if
//                                    with extra interceptor settings (printed, not written)
// BenchmarkDotNet's artifacts go to bench/results/micro/; a run that includes the hot path benchmarks, and the
// 'allocations' command, also write bench/results/<date>-<commit>-micro-allocations.json.
// The in-process interceptor runs as its own Main would start it: with inline socket completions (UPDRAFT_INLINE_IO).
Updraft.Interceptor.Hosting.InlineIo.ApplyToRuntime(Environment.GetEnvironmentVariable, Environment.SetEnvironmentVariable);
var repo = BenchSupport.RepositoryRoot();
if (args is ["allocations", .. var options])
{
    var settings = new Dictionary<string, string?>();
    for (var i = 0; i < options.Length; i++)
    {
        if (options[i] != "--set" || i + 1 == options.Length || options[i + 1].Split('=', 2) is not [var key, var value])
        {
            Console.Error.WriteLine("usage: Updraft.Microbenchmarks allocations [--set KEY=VALUE...]");
            return 2;
        }

        settings[key] = value;
        i++;
    }

    await ProcessAllocations.RunAsync(repo, settings);
    return 0;
}

var summaries = BenchmarkSwitcher.FromAssembly(typeof(MicroConfig).Assembly)
    .Run(args.Length == 0 ? ["--filter", "*"] : args, MicroConfig.Create(repo));
if (summaries.Any(summary => summary.BenchmarksCases.Any(benchmark => benchmark.Descriptor.Type == typeof(HotPathBenchmarks))))
{
    await ProcessAllocations.RunAsync(repo);
}

return summaries.Any(summary => summary.HasCriticalValidationErrors || summary.Reports.Any(report => !report.Success)) ? 1 : 0;
