using BenchmarkDotNet.Attributes;

namespace Updraft.Microbenchmarks;

/// <summary>
/// One GET round trip on a kept-alive connection: straight to the upstream (baseline) and through the whole
/// interceptor. On .NET 6+ BenchmarkDotNet's memory diagnoser reads <c>GC.GetTotalAllocatedBytes(precise: true)</c>,
/// so its "Allocated" column covers every thread in the process (client, upstream and interceptor);
/// <see cref="ProcessAllocations"/> isolates the interceptor's share and attributes it to types.
/// </summary>
[MemoryDiagnoser]
public class HotPathBenchmarks : IDisposable
{
    private HotPathRig? _rig;

    [GlobalSetup]
    public void Setup() => _rig = HotPathRig.StartAsync().GetAwaiter().GetResult();

    [GlobalCleanup]
    public void Cleanup()
    {
        _rig?.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _rig = null;
    }

    [Benchmark(Baseline = true)]
    public Task<int> Direct() => _rig!.DirectAsync();

    [Benchmark]
    public Task<int> Proxied() => _rig!.ProxiedAsync();

    public void Dispose()
    {
        Cleanup();
        GC.SuppressFinalize(this);
    }
}
