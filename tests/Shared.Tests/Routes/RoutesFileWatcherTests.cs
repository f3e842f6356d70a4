using System.Collections.Concurrent;
using Microsoft.Extensions.Time.Testing;
using Updraft.Shared.Routes;
using Updraft.Tests.Common;

namespace Updraft.Shared.Tests.Routes;

/// <summary>
/// The routes file watcher on real files in a temp directory, with a fake clock: a new version is applied only once it
/// has stayed the same for the settle time, and a version past a limit is rejected while the previous routes stay.
/// </summary>
public sealed class RoutesFileWatcherTests : IDisposable
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(1);
    private readonly string _directory = Directory.CreateTempSubdirectory("updraft-watcher-").FullName;
    private readonly FakeTimeProvider _time = new();
    private readonly ConcurrentQueue<(string[] Routes, int Before)> _applied = new();
    private readonly ConcurrentQueue<string> _rejected = new();
    private readonly RoutesFileWatcher _watcher;

    public RoutesFileWatcherTests()
    {
        File.WriteAllText(RoutesFile, Routes("old"));
        _watcher = new RoutesFileWatcher(
            RoutesFile,
            RouteEnvironment.Standalone,
            _time,
            (result, before) => _applied.Enqueue(([.. result.Routes.Select(r => r.Name)], before)),
            _rejected.Enqueue);
    }

    private string RoutesFile => Path.Combine(_directory, "routes.yaml");

    private string[][] Applied => [.. _applied.Select(a => a.Routes)];

    /// <summary>InterceptorRoutes <c>default/{name}</c>, one document each.</summary>
    private static string Routes(params string[] names) => string.Concat(names.Select((name, i) => (i > 0 ? "---\n" : "") + $$$"""
        apiVersion: http.keda.sh/v1beta1
        kind: InterceptorRoute
        metadata: {name: {{{name}}}}
        spec:
          target: {service: 127.0.0.1, port: 8080}
          scalingMetric: {concurrency: {targetValue: 10}}
          rules: [{hosts: [{{{name}}}.example.com]}]

        """));

    [Fact]
    public async Task Run_WritePausedAfterTwoOfFourDocuments_AppliesOnlyTheWholeFile()
    {
        Assert.Empty(await _watcher.LoadAsync(CancellationToken.None));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(CancellationToken.None);
        var running = _watcher.RunAsync(stop.Token);

        await using (var writer = new FileStream(RoutesFile, FileMode.Create, FileAccess.Write, FileShare.ReadWrite))
        {
            // The writer stops after two documents for just under the settle time (file events and reads happen
            // meanwhile, on the real clock). Until the file settles the old routes stay in force.
            await writer.WriteAsync(System.Text.Encoding.UTF8.GetBytes(Routes("a", "b") + "---\n"), CancellationToken.None);
            await writer.FlushAsync(CancellationToken.None);
            await AdvanceAsync(RoutesFileWatcher.SettleTime - Step);

            Assert.Equal([["old"]], Applied);

            await writer.WriteAsync(System.Text.Encoding.UTF8.GetBytes(Routes("c", "d")), CancellationToken.None);
        }

        await AdvanceUntilAsync(() => _applied.Count >= 2);
        await stop.CancelAsync();
        await running;

        Assert.Equal([["old"], ["a", "b", "c", "d"]], Applied);
        Assert.Empty(_rejected);
    }

    [Fact]
    public async Task Check_FileUnchanged_HashedEachTimeButReadWholeOnlyForANewVersion()
    {
        Assert.Empty(await _watcher.LoadAsync(CancellationToken.None));
        Assert.Equal(1, _watcher.WholeReads);

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(RoutesFileWatcher.PollInterval, await _watcher.CheckAsync(CancellationToken.None));
        }

        Assert.Equal(1, _watcher.WholeReads);

        await File.WriteAllTextAsync(RoutesFile, Routes("a"), CancellationToken.None);
        Assert.Equal(RoutesFileWatcher.SettleTime, await _watcher.CheckAsync(CancellationToken.None));
        _time.Advance(RoutesFileWatcher.SettleTime);
        Assert.Equal(RoutesFileWatcher.PollInterval, await _watcher.CheckAsync(CancellationToken.None));
        await _watcher.CheckAsync(CancellationToken.None);

        Assert.Equal([["old"], ["a"]], Applied);
        Assert.Equal(3, _watcher.WholeReads); // the new version when first seen and when applied, not after
    }

    [Fact]
    public async Task Load_NamedPipeLargerThanTheFirstBuffer_ReadWholeAcrossGrownBuffers()
    {
        // A pipe has no length, so the read starts with 64 KiB and grows the buffer twice for this ~230 KB version.
        var names = Enumerable.Range(0, 1000).Select(i => $"r{i}").ToArray();
        var pipe = Path.Combine(_directory, "routes.pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [pipe]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        using var watcher = new RoutesFileWatcher(pipe, RouteEnvironment.Standalone, _time, (result, before) => _applied.Enqueue(([.. result.Routes.Select(r => r.Name)], before)), _rejected.Enqueue);
        // Opening either end of a pipe waits for the other, so the writer runs beside the read.
        var writing = Task.Run(() => File.WriteAllTextAsync(pipe, Routes(names), CancellationToken.None));

        Assert.Empty(await watcher.LoadAsync(CancellationToken.None));
        await writing;

        Assert.Equal([[.. names.Order(StringComparer.Ordinal)]], Applied); // routes come out in name order
    }

    [Fact]
    public async Task Check_TooLargeFileRejected_LaterPollsOnlyHashIt()
    {
        Assert.Empty(await _watcher.LoadAsync(CancellationToken.None));
        await File.WriteAllTextAsync(RoutesFile, Routes("big") + new string('#', RouteFileLimits.MaxBytes), CancellationToken.None);
        await SettleAsync();
        var wholeReadsAtRejection = _watcher.WholeReads;

        for (var i = 0; i < 3; i++)
        {
            _time.Advance(RoutesFileWatcher.PollInterval);
            await _watcher.CheckAsync(CancellationToken.None);
        }

        Assert.Equal(["the file is larger than the limit of 16 MiB"], _rejected);
        Assert.Equal(1, wholeReadsAtRejection); // the start-up load; the too-large version is recognised by its hash alone
        Assert.Equal(1, _watcher.WholeReads);
        Assert.Equal(RouteFileLimits.TooLarge, _watcher.LastProblem);
    }

    [Fact]
    public async Task Load_NamedPipeLargerThanTheLimit_TooLargeAndTheReadStopsAtTheLimit()
    {
        var pipe = Path.Combine(_directory, "routes.pipe");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [pipe]))
        {
            await mkfifo.WaitForExitAsync();
            Assert.Equal(0, mkfifo.ExitCode);
        }

        using var watcher = new RoutesFileWatcher(pipe, RouteEnvironment.Standalone, _time, (result, before) => _applied.Enqueue(([.. result.Routes.Select(r => r.Name)], before)), _rejected.Enqueue);
        // The writer has more than the limit to give; the read stops one byte past it and closes, which ends the write.
        var written = 0L;
        var writing = Task.Run(async () =>
        {
            var chunk = System.Text.Encoding.UTF8.GetBytes(Routes("big") + new string('#', 64 * 1024));
            try
            {
                await using var writer = new FileStream(pipe, FileMode.Open, FileAccess.Write);
                while (written < 2L * RouteFileLimits.MaxBytes)
                {
                    await writer.WriteAsync(chunk, CancellationToken.None);
                    written += chunk.Length;
                }
            }
            catch (IOException)
            {
                // The reader closed its end.
            }
        });

        var problems = await watcher.LoadAsync(CancellationToken.None);
        await writing.WaitAsync(TimeSpan.FromSeconds(30));

        Assert.Equal([$"{pipe}: the file is larger than the limit of 16 MiB"], problems);
        Assert.Empty(_applied);
        Assert.True(written < 2L * RouteFileLimits.MaxBytes, $"{written} bytes written: the read did not stop the writer");
    }

    [Fact]
    public async Task Check_VersionChangesWhileSettling_StartsTheSettleTimeAgain()
    {
        Assert.Empty(await _watcher.LoadAsync(CancellationToken.None));

        await File.WriteAllTextAsync(RoutesFile, Routes("a", "b"), CancellationToken.None);
        Assert.Equal(RoutesFileWatcher.SettleTime, await _watcher.CheckAsync(CancellationToken.None));
        _time.Advance(RoutesFileWatcher.SettleTime - Step);
        await File.WriteAllTextAsync(RoutesFile, Routes("a", "b", "c"), CancellationToken.None);
        Assert.Equal(RoutesFileWatcher.SettleTime, await _watcher.CheckAsync(CancellationToken.None));
        _time.Advance(RoutesFileWatcher.SettleTime - Step);
        Assert.Equal(Step, await _watcher.CheckAsync(CancellationToken.None));

        Assert.Equal([["old"]], Applied);

        _time.Advance(Step);
        Assert.Equal(RoutesFileWatcher.PollInterval, await _watcher.CheckAsync(CancellationToken.None));

        Assert.Equal([["old"], ["a", "b", "c"]], Applied);
        Assert.Equal(1, _applied.Last().Before);
    }

    [Fact]
    public async Task Check_FileBackToTheVersionInForceBeforeSettling_AppliesNothing()
    {
        Assert.Empty(await _watcher.LoadAsync(CancellationToken.None));
        var inForce = await File.ReadAllTextAsync(RoutesFile, CancellationToken.None);

        await File.WriteAllTextAsync(RoutesFile, "", CancellationToken.None);
        await _watcher.CheckAsync(CancellationToken.None);
        await File.WriteAllTextAsync(RoutesFile, inForce, CancellationToken.None);
        await _watcher.CheckAsync(CancellationToken.None);
        _time.Advance(RoutesFileWatcher.SettleTime);
        await _watcher.CheckAsync(CancellationToken.None);

        Assert.Equal([["old"]], Applied);
        Assert.Empty(_rejected);
    }

    [Fact]
    public async Task Check_FileEmptied_AppliesNoRoutesWithTheCountBefore()
    {
        Assert.Empty(await _watcher.LoadAsync(CancellationToken.None));

        await File.WriteAllTextAsync(RoutesFile, "", CancellationToken.None);
        await SettleAsync();

        Assert.Equal([["old"], []], Applied);
        Assert.Equal([0, 1], _applied.Select(a => a.Before));
    }

    private static (string Yaml, string Problem) Hostile(string name) => name switch
    {
        "brackets" => (HostileYaml.NestedBrackets, HostileYaml.NestedBracketsProblem),
        "alias bomb" => (HostileYaml.AliasBomb(8080), HostileYaml.AliasBombProblem),
        _ => (Routes("big") + new string('#', RouteFileLimits.MaxBytes), "the file is larger than the limit of 16 MiB"),
    };

    [Theory]
    [InlineData("brackets")]
    [InlineData("alias bomb")]
    [InlineData("too large")]
    public async Task Check_HostileVersion_RejectedOnceKeepsTheRoutesAndAppliesTheNextGoodOne(string name)
    {
        var (yaml, problem) = Hostile(name);
        Assert.Empty(await _watcher.LoadAsync(CancellationToken.None));

        await File.WriteAllTextAsync(RoutesFile, yaml, CancellationToken.None);
        await SettleAsync();
        _time.Advance(RoutesFileWatcher.PollInterval);
        await _watcher.CheckAsync(CancellationToken.None);

        Assert.Equal([problem], _rejected);
        Assert.Equal([["old"]], Applied);

        await File.WriteAllTextAsync(RoutesFile, Routes("new"), CancellationToken.None);
        await SettleAsync();

        Assert.Equal([["old"], ["new"]], Applied);
        Assert.Equal(1, _applied.Last().Before);
    }

    [Theory]
    [InlineData("brackets")]
    [InlineData("alias bomb")]
    [InlineData("too large")]
    public async Task Load_HostileFile_OneLineNamingTheFileAndTheLimit(string name)
    {
        var (yaml, problem) = Hostile(name);
        await File.WriteAllTextAsync(RoutesFile, yaml, CancellationToken.None);

        var problems = await _watcher.LoadAsync(CancellationToken.None);

        Assert.Equal([$"{RoutesFile}: {problem}"], problems);
        Assert.Empty(_applied);
    }

    [Fact]
    public async Task Check_FileDeletedThenRestored_ReportsOnceAndAppliesItAgain()
    {
        Assert.Empty(await _watcher.LoadAsync(CancellationToken.None));
        var content = await File.ReadAllTextAsync(RoutesFile, CancellationToken.None);

        File.Delete(RoutesFile);
        await SettleAsync();
        _time.Advance(RoutesFileWatcher.PollInterval);
        await _watcher.CheckAsync(CancellationToken.None);

        var problem = Assert.Single(_rejected);
        Assert.StartsWith("cannot read the routes file: ", problem, StringComparison.Ordinal);

        await File.WriteAllTextAsync(RoutesFile, content, CancellationToken.None);
        await SettleAsync();

        Assert.Equal([["old"], ["old"]], Applied);
    }

    /// <summary>Sees the current version, lets the settle time pass, and checks again.</summary>
    private async Task SettleAsync()
    {
        await _watcher.CheckAsync(CancellationToken.None);
        _time.Advance(RoutesFileWatcher.SettleTime);
        await _watcher.CheckAsync(CancellationToken.None);
    }

    /// <summary>Moves the fake clock forward in small steps, giving the watcher real time to see events and read.</summary>
    private async Task AdvanceAsync(TimeSpan total)
    {
        var step = TimeSpan.FromMilliseconds(10);
        for (var advanced = TimeSpan.Zero; advanced < total; advanced += step)
        {
            _time.Advance(advanced + step <= total ? step : total - advanced);
            await Task.Delay(10);
        }
    }

    private async Task AdvanceUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "the watcher did not apply the file in time");
            _time.Advance(TimeSpan.FromMilliseconds(100));
            await Task.Delay(20);
        }
    }

    public void Dispose()
    {
        _watcher.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
