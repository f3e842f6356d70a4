using Microsoft.Extensions.Time.Testing;
using Updraft.Operator.Reconciling;
using Updraft.Operator.Tests.Infrastructure;

namespace Updraft.Operator.Tests.Reconciling;

/// <summary>
/// <see cref="WorkQueue"/> on a fake clock: keys are deduplicated, one key is never handed out twice at once, delays
/// keep the earliest due time, and <see cref="WorkQueue.Clear"/> drops everything waiting. "Not handed out" is
/// checked without waiting: a key that is ready makes <see cref="WorkQueue.TakeAsync"/> complete synchronously.
/// </summary>
public sealed class WorkQueueTests
{
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(10);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));

    [Fact]
    public async Task Add_SameKeyTwiceWhileQueued_IsHandedOutOnce()
    {
        using var queue = new WorkQueue(_time);

        queue.Add("ns/a");
        queue.Add("ns/a");

        Assert.Equal(1, queue.Depth);
        Assert.Equal("ns/a", await TakeNowAsync(queue));
        Assert.Null(await TakeNowAsync(queue));
    }

    [Fact]
    public async Task Add_DifferentKeys_AreHandedOutInOrder()
    {
        using var queue = new WorkQueue(_time);

        queue.Add("ns/a");
        queue.Add("ns/b");
        queue.Add("ns/a");
        queue.Add("ns/c");

        Assert.Equal(3, queue.Depth);
        Assert.Equal("ns/a", await TakeNowAsync(queue));
        Assert.Equal("ns/b", await TakeNowAsync(queue));
        Assert.Equal("ns/c", await TakeNowAsync(queue));
        Assert.Null(await TakeNowAsync(queue));
    }

    [Fact]
    public async Task Add_WhileKeyIsProcessing_IsNotHandedOutUntilDoneThenExactlyOnce()
    {
        using var queue = new WorkQueue(_time);
        queue.Add("ns/a");
        Assert.Equal("ns/a", await TakeNowAsync(queue));

        queue.Add("ns/a");
        queue.Add("ns/a");

        Assert.Null(await TakeNowAsync(queue));
        Assert.Equal(0, queue.Depth);
        Assert.Equal(1, queue.InFlight);

        queue.Done("ns/a");

        Assert.Equal(1, queue.Depth);
        Assert.Equal(0, queue.InFlight);
        Assert.Equal("ns/a", await TakeNowAsync(queue));
        queue.Done("ns/a");
        Assert.Null(await TakeNowAsync(queue));
        Assert.Equal(0, queue.Depth);
        Assert.Equal(0, queue.InFlight);
    }

    [Fact]
    public async Task Done_WithoutAddMeanwhile_DoesNotQueueTheKeyAgain()
    {
        using var queue = new WorkQueue(_time);
        queue.Add("ns/a");
        Assert.Equal("ns/a", await TakeNowAsync(queue));

        queue.Done("ns/a");

        Assert.Equal(0, queue.Depth);
        Assert.Equal(0, queue.InFlight);
        Assert.Null(await TakeNowAsync(queue));
    }

    [Fact]
    public async Task TakeAsync_WaitingForAKey_CompletesWhenOneIsAdded()
    {
        using var queue = new WorkQueue(_time);
        using var cancel = new CancellationTokenSource(Bounded);
        var take = queue.TakeAsync(cancel.Token).AsTask();
        Assert.False(take.IsCompleted);

        queue.Add("ns/a");

        Assert.Equal("ns/a", await take.WaitAsync(Bounded));
        Assert.Equal(1, queue.InFlight);
    }

    [Fact]
    public async Task AddAfter_BeforeTheDelay_IsNotReadyAndAfterItIs()
    {
        using var queue = new WorkQueue(_time);

        queue.AddAfter("ns/a", TimeSpan.FromSeconds(5));

        Assert.Equal(1, queue.Depth);
        Assert.Null(await TakeNowAsync(queue));
        _time.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromMilliseconds(1));
        Assert.Null(await TakeNowAsync(queue));
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("ns/a", await TakeNowAsync(queue));
    }

    [Fact]
    public async Task AddAfter_ShorterDelayLater_KeepsTheEarliestDueTime()
    {
        using var queue = new WorkQueue(_time);

        queue.AddAfter("ns/a", TimeSpan.FromSeconds(5));
        queue.AddAfter("ns/a", TimeSpan.FromSeconds(1));

        Assert.Equal(1, queue.Depth);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("ns/a", await TakeNowAsync(queue));
        queue.Done("ns/a");

        // The replaced 5 s timer must not bring the key back.
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(0, queue.Depth);
        Assert.Null(await TakeNowAsync(queue));
    }

    [Fact]
    public async Task AddAfter_LongerDelayLater_KeepsTheEarliestDueTime()
    {
        using var queue = new WorkQueue(_time);

        queue.AddAfter("ns/a", TimeSpan.FromSeconds(1));
        queue.AddAfter("ns/a", TimeSpan.FromSeconds(5));

        Assert.Equal(1, queue.Depth);
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal("ns/a", await TakeNowAsync(queue));
        queue.Done("ns/a");
        _time.Advance(TimeSpan.FromSeconds(10));
        Assert.Null(await TakeNowAsync(queue));
    }

    [Fact]
    public async Task AddAfter_SameDelayFromALaterTime_KeepsTheEarlierDueTime()
    {
        using var queue = new WorkQueue(_time);

        queue.AddAfter("ns/a", TimeSpan.FromSeconds(2));
        _time.Advance(TimeSpan.FromSeconds(1));
        queue.AddAfter("ns/a", TimeSpan.FromSeconds(2));
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal("ns/a", await TakeNowAsync(queue));
    }

    [Fact]
    public async Task Add_WhileADelayIsPending_WinsAndTheDelayDoesNotFireLater()
    {
        using var queue = new WorkQueue(_time);
        queue.AddAfter("ns/a", TimeSpan.FromSeconds(5));

        queue.Add("ns/a");

        Assert.Equal(1, queue.Depth);
        Assert.Equal("ns/a", await TakeNowAsync(queue));
        queue.Done("ns/a");
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0, queue.Depth);
        Assert.Null(await TakeNowAsync(queue));
    }

    [Fact]
    public async Task AddAfter_KeyAlreadyQueued_IsIgnored()
    {
        using var queue = new WorkQueue(_time);
        queue.Add("ns/a");

        queue.AddAfter("ns/a", TimeSpan.FromSeconds(5));

        Assert.Equal(1, queue.Depth);
        Assert.Equal("ns/a", await TakeNowAsync(queue));
        queue.Done("ns/a");
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Null(await TakeNowAsync(queue));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1000)]
    public async Task AddAfter_ZeroOrNegativeDelay_IsReadyAtOnce(int milliseconds)
    {
        using var queue = new WorkQueue(_time);

        queue.AddAfter("ns/a", TimeSpan.FromMilliseconds(milliseconds));

        Assert.Equal("ns/a", await TakeNowAsync(queue));
    }

    [Fact]
    public async Task AddAfter_WhileKeyIsProcessing_FiresAfterTheDelayAndIsHandedOutAfterDone()
    {
        using var queue = new WorkQueue(_time);
        queue.Add("ns/a");
        Assert.Equal("ns/a", await TakeNowAsync(queue));

        queue.AddAfter("ns/a", TimeSpan.FromSeconds(1));
        _time.Advance(TimeSpan.FromSeconds(1));

        Assert.Null(await TakeNowAsync(queue));
        queue.Done("ns/a");
        Assert.Equal("ns/a", await TakeNowAsync(queue));
        queue.Done("ns/a");
        Assert.Null(await TakeNowAsync(queue));
    }

    [Fact]
    public async Task Clear_QueuedAndDelayedKeys_AreDroppedAndTakeAsyncWaits()
    {
        using var queue = new WorkQueue(_time);
        queue.Add("ns/a");
        queue.Add("ns/b");
        queue.AddAfter("ns/c", TimeSpan.FromSeconds(1));
        Assert.Equal(3, queue.Depth);

        queue.Clear();

        Assert.Equal(0, queue.Depth);
        _time.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal(0, queue.Depth);
        using var cancel = new CancellationTokenSource();
        var take = queue.TakeAsync(cancel.Token).AsTask();
        Assert.False(take.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => take.WaitAsync(Bounded));
    }

    [Fact]
    public async Task Clear_AfterClear_NewKeysAreHandedOutAgain()
    {
        using var queue = new WorkQueue(_time);
        queue.Add("ns/a");
        queue.Clear();

        queue.Add("ns/b");

        Assert.Equal("ns/b", await TakeNowAsync(queue));
        Assert.Null(await TakeNowAsync(queue));
    }

    [Fact]
    public async Task Clear_KeyAddedWhileProcessing_IsNotQueuedAgainOnDone()
    {
        using var queue = new WorkQueue(_time);
        queue.Add("ns/a");
        Assert.Equal("ns/a", await TakeNowAsync(queue));
        queue.Add("ns/a");

        queue.Clear();

        Assert.Equal(1, queue.InFlight);
        queue.Done("ns/a");
        Assert.Equal(0, queue.InFlight);
        Assert.Equal(0, queue.Depth);
        Assert.Null(await TakeNowAsync(queue));
    }

    [Fact]
    public async Task Depth_CountsReadyAndDelayedKeysButNotThoseInFlight()
    {
        using var queue = new WorkQueue(_time);
        Assert.Equal(0, queue.Depth);
        Assert.Equal(0, queue.InFlight);

        queue.Add("ns/a");
        queue.Add("ns/b");
        queue.AddAfter("ns/c", TimeSpan.FromSeconds(1));
        Assert.Equal(3, queue.Depth);
        Assert.Equal(0, queue.InFlight);

        Assert.Equal("ns/a", await TakeNowAsync(queue));
        Assert.Equal(2, queue.Depth);
        Assert.Equal(1, queue.InFlight);

        Assert.Equal("ns/b", await TakeNowAsync(queue));
        Assert.Equal(1, queue.Depth);
        Assert.Equal(2, queue.InFlight);

        // Firing moves the delayed key to ready: still one waiting.
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(1, queue.Depth);

        queue.Done("ns/a");
        queue.Done("ns/b");
        Assert.Equal(1, queue.Depth);
        Assert.Equal(0, queue.InFlight);
    }

    [Fact]
    public async Task TakeAsync_Cancelled_ThrowsOperationCanceled()
    {
        using var queue = new WorkQueue(_time);
        using var cancel = new CancellationTokenSource();
        var take = queue.TakeAsync(cancel.Token).AsTask();
        Assert.False(take.IsCompleted);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => take.WaitAsync(Bounded));
        queue.Add("ns/a");
        Assert.Equal(1, queue.Depth);
        Assert.Equal("ns/a", await TakeNowAsync(queue));
    }

    [Fact]
    public async Task TakeAsync_AlreadyCancelledToken_ThrowsEvenWithAKeyReady()
    {
        using var queue = new WorkQueue(_time);
        queue.Add("ns/a");

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await queue.TakeAsync(new CancellationToken(canceled: true)));

        Assert.Equal(1, queue.Depth);
        Assert.Equal(0, queue.InFlight);
    }

    [Fact]
    public async Task TakeAsync_ManyWorkersAndAdders_NeverRunsAKeyTwiceAtOnceAndLosesNoAdd()
    {
        const int Workers = 4;
        const int Adds = 3000;
        string[] keys = ["ns/a", "ns/b", "ns/c"];
        using var queue = new WorkQueue(_time);
        var active = new int[keys.Length];
        var overlaps = 0;
        var sequence = 0L;
        var lastAdded = new long[keys.Length];
        var lastStarted = new long[keys.Length];
        using var stop = new CancellationTokenSource();

        async Task WorkAsync()
        {
            while (true)
            {
                string key;
                try
                {
                    key = await queue.TakeAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }

                var index = Array.IndexOf(keys, key);
                Volatile.Write(ref lastStarted[index], Interlocked.Read(ref sequence));
                if (Interlocked.Increment(ref active[index]) > 1)
                {
                    Interlocked.Increment(ref overlaps);
                }

                await Task.Yield();
                Interlocked.Decrement(ref active[index]);
                queue.Done(key);
            }
        }

        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Run(WorkAsync)).ToArray();
        await Task.Run(() =>
        {
            for (var i = 0; i < Adds; i++)
            {
                var index = i % keys.Length;
                Volatile.Write(ref lastAdded[index], Interlocked.Increment(ref sequence));
                queue.Add(keys[index]);
            }
        });

        // Nothing adds any more: once nothing waits and nothing runs, the queue stays idle.
        await Eventually.TrueAsync(
            () => queue.Depth == 0 && queue.InFlight == 0,
            () => $"{queue.Depth} queued, {queue.InFlight} running");
        await stop.CancelAsync();
        await Task.WhenAll(workers).WaitAsync(Bounded);

        Assert.Equal(0, overlaps);
        for (var i = 0; i < keys.Length; i++)
        {
            // Each key's last run started after its last add (a run started before it would have left the key dirty).
            Assert.True(lastStarted[i] >= lastAdded[i], $"{keys[i]}: last run saw add #{lastStarted[i]}, last add was #{lastAdded[i]}");
        }
    }

    /// <summary>The key that is ready now, or null when <see cref="WorkQueue.TakeAsync"/> would wait.</summary>
    private static async Task<string?> TakeNowAsync(WorkQueue queue)
    {
        using var cancel = new CancellationTokenSource();
        var take = queue.TakeAsync(cancel.Token);
        if (take.IsCompleted)
        {
            return await take;
        }

        await cancel.CancelAsync();
        try
        {
            // Granted between the check and the cancel: it is a key after all.
            return await take.AsTask().WaitAsync(Bounded);
        }
        catch (OperationCanceledException)
        {
            return null;
        }
    }
}
