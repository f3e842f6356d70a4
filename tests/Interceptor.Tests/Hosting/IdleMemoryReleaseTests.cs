using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Updraft.Interceptor.Hosting;

namespace Updraft.Interceptor.Tests.Hosting;

/// <summary>When a quiet interceptor hands the GC's unused memory back.</summary>
public sealed class IdleMemoryReleaseTests
{
    private const long MiB = 1024 * 1024;
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);

    [Fact]
    public void ShouldRelease_QuietMinuteAfterACollectionThatKeptTheBudget_Releases()
    {
        var start = new GcReading(AllocatedBytes: 500 * MiB, UnusedBytes: 0);
        var now = new GcReading(AllocatedBytes: 501 * MiB, UnusedBytes: 60 * MiB);

        Assert.True(IdleMemoryRelease.ShouldRelease(start, start, now, Minute));
    }

    [Fact]
    public void ShouldRelease_QuietMinutesThatAddUpToEnoughWrittenSinceTheLastRelease_Releases()
    {
        var lastRelease = new GcReading(AllocatedBytes: 100 * MiB, UnusedBytes: 0);
        var previousTick = new GcReading(AllocatedBytes: 103 * MiB, UnusedBytes: 0);
        var now = new GcReading(AllocatedBytes: 104 * MiB, UnusedBytes: 0);

        Assert.True(IdleMemoryRelease.ShouldRelease(previousTick, lastRelease, now, Minute));
    }

    [Fact]
    public void ShouldRelease_BusyMinute_LeavesTheMemoryToTheTraffic()
    {
        // 1 MiB a second is far above the quiet rate: a proxy in use keeps its first generation.
        var start = new GcReading(AllocatedBytes: 0, UnusedBytes: 60 * MiB);
        var now = new GcReading(AllocatedBytes: 60 * MiB, UnusedBytes: 60 * MiB);

        Assert.False(IdleMemoryRelease.ShouldRelease(start, start, now, Minute));
    }

    [Fact]
    public void ShouldRelease_QuietButLittleToGiveBack_DoesNotCollect()
    {
        var lastRelease = new GcReading(AllocatedBytes: 100 * MiB, UnusedBytes: MiB);
        var now = new GcReading(AllocatedBytes: 102 * MiB, UnusedBytes: MiB);

        Assert.False(IdleMemoryRelease.ShouldRelease(lastRelease, lastRelease, now, Minute));
    }

    [Fact]
    public void ShouldRelease_LargeHeap_WaitsUntilHalfItsSizeIsUnused()
    {
        // 10,000 routes: a 120 MiB heap, whose full collection pauses for tens of milliseconds.
        var lastRelease = new GcReading(AllocatedBytes: 0, UnusedBytes: 0, HeapBytes: 120 * MiB);
        var previousTick = new GcReading(AllocatedBytes: 40 * MiB, UnusedBytes: 0, HeapBytes: 120 * MiB);
        var notYet = new GcReading(AllocatedBytes: 41 * MiB, UnusedBytes: 0, HeapBytes: 120 * MiB);
        var halfTheHeap = new GcReading(AllocatedBytes: 60 * MiB, UnusedBytes: 0, HeapBytes: 120 * MiB);

        Assert.False(IdleMemoryRelease.ShouldRelease(previousTick, lastRelease, notYet, Minute));
        Assert.True(IdleMemoryRelease.ShouldRelease(notYet with { AllocatedBytes = 59 * MiB }, lastRelease, halfTheHeap, Minute));
    }

    [Fact]
    public void ShouldRelease_QuietRateScalesWithTheInterval()
    {
        // 3 MiB in a second is busy; the same 3 MiB over a minute is quiet.
        var start = new GcReading(AllocatedBytes: 0, UnusedBytes: 0);
        var now = new GcReading(AllocatedBytes: 3 * MiB, UnusedBytes: 10 * MiB);

        Assert.False(IdleMemoryRelease.ShouldRelease(start, start, now, TimeSpan.FromSeconds(1)));
        Assert.True(IdleMemoryRelease.ShouldRelease(start, start, now, Minute));
    }

    [Fact]
    public async Task Run_IdleProcessWritingSlowly_ReleasesOnceEnoughIsWrittenAndNotAgainUntilMoreIs()
    {
        var gc = new ScriptedGc();
        var time = new FakeTimeProvider();
        using var service = new IdleMemoryRelease(Minute, time, NullLogger<IdleMemoryRelease>.Instance, gc.Read, gc.Release);
        await service.StartAsync(CancellationToken.None);

        // 1 MiB a minute: quiet, and worth a collection once 4 MiB are written since the start.
        var releasesByMinute = new List<int>();
        for (var minute = 1; minute <= 9; minute++)
        {
            gc.Allocated += MiB;
            time.Advance(Minute);
            releasesByMinute.Add(await ReleasesAfterTickAsync(service, minute));
        }

        await service.StopAsync(CancellationToken.None);
        Assert.Equal([0, 0, 0, 1, 1, 1, 1, 2, 2], releasesByMinute);
        Assert.Equal(2, service.Releases);
    }

    [Fact]
    public async Task Run_TrafficThenQuiet_ReleasesInTheFirstQuietMinuteOnly()
    {
        var gc = new ScriptedGc();
        var time = new FakeTimeProvider();
        using var service = new IdleMemoryRelease(Minute, time, NullLogger<IdleMemoryRelease>.Instance, gc.Read, gc.Release);
        await service.StartAsync(CancellationToken.None);

        // Two busy minutes: collections keep the first generation's budget committed.
        gc.Allocated += 200 * MiB;
        gc.Unused = 60 * MiB;
        time.Advance(Minute);
        var afterBusy = await ReleasesAfterTickAsync(service, 1);
        gc.Allocated += 200 * MiB;
        time.Advance(Minute);
        var afterSecondBusy = await ReleasesAfterTickAsync(service, 2);
        // Then quiet.
        time.Advance(Minute);
        var afterQuiet = await ReleasesAfterTickAsync(service, 3);
        time.Advance(Minute);
        var afterSecondQuiet = await ReleasesAfterTickAsync(service, 4);

        await service.StopAsync(CancellationToken.None);
        Assert.Equal((0, 0, 1, 1), (afterBusy, afterSecondBusy, afterQuiet, afterSecondQuiet));
        Assert.Equal(0, gc.Unused);
    }

    [Fact]
    public async Task Run_IntervalZero_NeverReads()
    {
        var gc = new ScriptedGc { Unused = 60 * MiB };
        var time = new FakeTimeProvider();
        using var service = new IdleMemoryRelease(TimeSpan.Zero, time, NullLogger<IdleMemoryRelease>.Instance, gc.Read, gc.Release);
        await service.StartAsync(CancellationToken.None);

        time.Advance(TimeSpan.FromHours(1));
        await (service.ExecuteTask ?? Task.CompletedTask).WaitAsync(TimeSpan.FromSeconds(10));

        await service.StopAsync(CancellationToken.None);
        Assert.Equal((0, 0), (gc.Reads, service.Releases));
    }

    [Fact]
    public void GcReading_Now_CountsWhatThisThreadAllocates()
    {
        var before = GcReading.Now();
        var garbage = new byte[8 * MiB];
        var after = GcReading.Now();

        GC.KeepAlive(garbage);
        Assert.True(after.AllocatedBytes - before.AllocatedBytes >= 8 * MiB, $"{after.AllocatedBytes - before.AllocatedBytes} bytes counted");
    }

    /// <summary>Waits until the service has looked at interval <paramref name="tick"/>, then says how many releases it made.</summary>
    private static async Task<int> ReleasesAfterTickAsync(IdleMemoryRelease service, int tick)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (service.Ticks < tick)
        {
            await Task.Delay(5, timeout.Token);
        }

        return service.Releases;
    }

    /// <summary>A GC whose readings the test sets; a release collects everything it holds unused.</summary>
    private sealed class ScriptedGc
    {
        private int _reads;

        public long Allocated { get; set; }

        public long Unused { get; set; }

        public int Reads => Volatile.Read(ref _reads);

        public GcReading Read()
        {
            Interlocked.Increment(ref _reads);
            return new GcReading(Allocated, Unused);
        }

        public void Release()
        {
            Unused = 0;
        }
    }
}
