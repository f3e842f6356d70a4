using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;
using Updraft.Interceptor.Forwarding.Pooling;

namespace Updraft.Interceptor.Tests.Forwarding.Pooling;

public sealed class SharedPoolValueTaskMethodBuilderTests
{
    private static readonly AsyncLocal<string?> Ambient = new();

    [Fact]
    public async Task CompletesSynchronously_ResultWithoutABox()
    {
        var task = AddAsync(2, 3, wait: null);

        Assert.True(task.IsCompletedSuccessfully);
        Assert.Equal(5, await task);
    }

    [Fact]
    public async Task CompletesOnAnotherThread_ResultAndTheCallersContextAfterTheAwait()
    {
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Ambient.Value = "caller";
        var task = AddAsync(40, 2, gate.Task);
        Assert.False(task.IsCompleted);

        _ = Task.Run(gate.SetResult);

        Assert.Equal(42, await task);
        Assert.Equal("caller", Ambient.Value);
    }

    [Fact]
    public async Task AsyncLocalSetInsideTheMethod_SeenAfterItsAwaitsButNotByTheCaller()
    {
        Ambient.Value = "caller";
        var seen = await SetAmbientThenYieldAsync("inside");

        Assert.Equal("inside", seen);
        Assert.Equal("caller", Ambient.Value);
    }

    [Fact]
    public async Task ManyConcurrentMethodsCompletingOnOtherThreads_EachGetsItsOwnResult()
    {
        // Boxes go back to the pool and out again while others are in flight: a box shared by two calls at once, or
        // a state machine not reset, shows as a wrong sum.
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(async () =>
        {
            var sums = new List<int>();
            for (var i = 0; i < 2_000; i++)
            {
                sums.Add(await AddAsync(worker * 100_000, i, Task.Yield()) - (worker * 100_000) - i);
            }

            return sums;
        })));

        Assert.All(results, sums => Assert.All(sums, difference => Assert.Equal(0, difference)));
    }

    [Fact]
    public async Task Throws_SynchronouslyOrAfterAnAwait_TheExceptionReachesTheAwaiter()
    {
        var early = FailAsync(afterAwait: false);
        var late = FailAsync(afterAwait: true);

        Assert.True(early.IsFaulted);
        Assert.Equal("failed early", (await Assert.ThrowsAsync<InvalidOperationException>(async () => await early)).Message);
        Assert.Equal("failed late", (await Assert.ThrowsAsync<InvalidOperationException>(async () => await late)).Message);
    }

    [Fact]
    public async Task Cancelled_AfterAnAwait_SeenAsCancelled()
    {
        using var source = new CancellationTokenSource();
        var task = WaitCancelledAsync(source.Token);
        await source.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await task);
    }

    [Fact]
    public async Task ResultTakenTwice_TheSecondTimeIsRefused()
    {
        var task = AddAsync(1, 1, Task.Yield());
        Assert.Equal(2, await task);

        // The box went back to the pool with the first result: its version has moved on.
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await task);
    }

    [Fact]
    public async Task UntypedValueTask_SynchronousAsynchronousAndFaulted()
    {
        var log = new List<string>();

        var now = LogAsync(log, "now", wait: false);
        Assert.True(now.IsCompletedSuccessfully);
        await now;
        await LogAsync(log, "later", wait: true);
        var failure = await Assert.ThrowsAsync<ArgumentException>(async () => await LogAsync(log, "", wait: true));

        Assert.Equal(["now", "later"], log);
        Assert.Equal("entry", failure.ParamName);
    }

    [Fact]
    public void Pool_ABoxReturnedIsTheNextRentedOnTheSameThread()
    {
        var first = SharedPoolBox<ProbeStateMachine, int>.Rent();
        first.SetResult(7);
#pragma warning disable xUnit1031 // The source's GetResult on a completed source: no wait.
        Assert.Equal(7, first.GetResult(first.Version));
#pragma warning restore xUnit1031

        var second = SharedPoolBox<ProbeStateMachine, int>.Rent();

        Assert.Same(first, second);
        Assert.Equal(ValueTaskSourceStatus.Pending, second.GetStatus(second.Version));
    }

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    private static async ValueTask<int> AddAsync(int a, int b, Task? wait)
    {
        if (wait is not null)
        {
            await wait;
        }

        return a + b;
    }

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    private static async ValueTask<int> AddAsync(int a, int b, YieldAwaitable wait)
    {
        await wait;
        return a + b;
    }

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    private static async ValueTask<string?> SetAmbientThenYieldAsync(string value)
    {
        Ambient.Value = value;
        await Task.Delay(1);
        await Task.Yield();
        return Ambient.Value;
    }

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    private static async ValueTask<int> FailAsync(bool afterAwait)
    {
        if (afterAwait)
        {
            await Task.Yield();
            throw new InvalidOperationException("failed late");
        }

        throw new InvalidOperationException("failed early");
    }

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    private static async ValueTask<int> WaitCancelledAsync(CancellationToken token)
    {
        await Task.Delay(Timeout.Infinite, token);
        return 0;
    }

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder))]
    private static async ValueTask LogAsync(List<string> log, string entry, bool wait)
    {
        if (wait)
        {
            await Task.Yield();
        }

        ArgumentException.ThrowIfNullOrEmpty(entry);
        log.Add(entry);
    }

    private struct ProbeStateMachine : IAsyncStateMachine
    {
        public readonly void MoveNext()
        {
        }

        public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
        {
        }
    }
}
