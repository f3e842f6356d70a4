using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Updraft.Interceptor.Forwarding.Pooling;

/// <summary>
/// An async method builder for <see cref="ValueTask{TResult}"/> whose state machine boxes are reused from one pool that
/// every thread shares (<see cref="SharedPoolBox{TStateMachine, TResult}"/>). The runtime's
/// <see cref="PoolingAsyncValueTaskMethodBuilder{TResult}"/> caches a box per thread and per core, which misses when a
/// box is rented on one thread and returned on another, and that is the forwarding path's normal case: with inline
/// socket completions a request starts on its client connection's socket thread and ends on its upstream
/// connection's. The rules are the runtime's pooled builder's: the <see cref="ValueTask{TResult}"/> is awaited (or its
/// result taken) exactly once, and nothing touches it after that.
/// </summary>
[StructLayout(LayoutKind.Auto)]
internal struct SharedPoolValueTaskMethodBuilder<TResult>
{
    private SharedPoolBox<TResult>? _box;
    private TResult _result;
    private Exception? _exception;

    public static SharedPoolValueTaskMethodBuilder<TResult> Create() => default;

    public readonly ValueTask<TResult> Task =>
        _box is { } box ? new ValueTask<TResult>(box, box.Version)
        : _exception is { } exception ? ValueTask.FromException<TResult>(exception)
        : new ValueTask<TResult>(_result);

    /// <summary><see cref="Task"/> without its result, for <see cref="SharedPoolValueTaskMethodBuilder"/>.</summary>
    internal readonly ValueTask UntypedTask =>
        _box is { } box ? new ValueTask(box, box.Version)
        : _exception is { } exception ? ValueTask.FromException(exception)
        : default;

#pragma warning disable CA1822, IDE0060 // The builder pattern the compiler calls needs these as instance methods.
    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine => AsyncValueTaskMethodBuilder.Create().Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
        // Only called for boxes the runtime makes; the boxes here are the builder's own.
    }
#pragma warning restore CA1822, IDE0060

    public void SetResult(TResult result)
    {
        if (_box is { } box)
        {
            // Nothing after this: the awaiter may already have returned the box to the pool.
            box.SetResult(result);
        }
        else
        {
            _result = result;
        }
    }

    public void SetException(Exception exception)
    {
        if (_box is { } box)
        {
            box.SetException(exception);
        }
        else
        {
            _exception = exception;
        }
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => awaiter.OnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => awaiter.UnsafeOnCompleted(BoxFor(ref stateMachine).MoveNextAction);

    /// <summary>
    /// At the first await the state machine moves into a box (this builder's copy, still on the caller's stack, keeps
    /// the box for <see cref="Task"/>); at every await the execution context is captured for the continuation.
    /// </summary>
    private SharedPoolBox<TStateMachine, TResult> BoxFor<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine
    {
        var context = ExecutionContext.Capture();
        if (_box is SharedPoolBox<TStateMachine, TResult> existing)
        {
            existing.Context = context;
            return existing;
        }

        var box = SharedPoolBox<TStateMachine, TResult>.Rent();
        _box = box; // before the copy, so that the box's copy of this builder has it too
        box.StateMachine = stateMachine;
        box.Context = context;
        return box;
    }
}

/// <summary>The same for <see cref="ValueTask"/>.</summary>
[StructLayout(LayoutKind.Auto)]
internal struct SharedPoolValueTaskMethodBuilder
{
    private SharedPoolValueTaskMethodBuilder<bool> _inner;

    public static SharedPoolValueTaskMethodBuilder Create() => default;

    public readonly ValueTask Task => _inner.UntypedTask;

#pragma warning disable CA1822, IDE0060 // The builder pattern the compiler calls needs these as instance methods.
    public readonly void Start<TStateMachine>(ref TStateMachine stateMachine)
        where TStateMachine : IAsyncStateMachine => AsyncValueTaskMethodBuilder.Create().Start(ref stateMachine);

    public readonly void SetStateMachine(IAsyncStateMachine stateMachine)
    {
        // Only called for boxes the runtime makes; the boxes here are the builder's own.
    }
#pragma warning restore CA1822, IDE0060

    public void SetResult() => _inner.SetResult(true);

    public void SetException(Exception exception) => _inner.SetException(exception);

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion
        where TStateMachine : IAsyncStateMachine => _inner.AwaitOnCompleted(ref awaiter, ref stateMachine);

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion
        where TStateMachine : IAsyncStateMachine => _inner.AwaitUnsafeOnCompleted(ref awaiter, ref stateMachine);
}
