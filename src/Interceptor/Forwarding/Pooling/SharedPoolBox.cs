using System.Runtime.CompilerServices;
using System.Threading.Tasks.Sources;

namespace Updraft.Interceptor.Forwarding.Pooling;

/// <summary>The completion side of a box: what a <see cref="ValueTask{TResult}"/> from the builder waits on.</summary>
internal abstract class SharedPoolBox<TResult> : IValueTaskSource<TResult>, IValueTaskSource
{
    // A mutable struct: never readonly, never copied.
    private ManualResetValueTaskSourceCore<TResult> _core;

    public short Version => _core.Version;

    public void SetResult(TResult result) => _core.SetResult(result);

    public void SetException(Exception exception) => _core.SetException(exception);

    /// <summary>Taking the result ends the box's use: it is reset and goes back to the pool.</summary>
    public TResult GetResult(short token)
    {
        try
        {
            return _core.GetResult(token);
        }
        finally
        {
            _core.Reset();
            Return();
        }
    }

    void IValueTaskSource.GetResult(short token) => GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    protected abstract void Return();
}

/// <summary>
/// A box for one state machine type, and the pool of them: a fixed array of slots that any thread takes from and
/// returns to (a full pool drops the box for the GC, an empty one makes a new box).
/// </summary>
internal sealed class SharedPoolBox<TStateMachine, TResult> : SharedPoolBox<TResult>
    where TStateMachine : IAsyncStateMachine
{
    private static readonly SharedPoolBox<TStateMachine, TResult>?[] Pool = new SharedPoolBox<TStateMachine, TResult>?[Math.Max(16, Environment.ProcessorCount * 8)];
    private static readonly ContextCallback RunMoveNext = static box => ((SharedPoolBox<TStateMachine, TResult>)box!).StateMachine.MoveNext();

    private Action? _moveNext;

    /// <summary>The async method's state, moved here at its first await; its fields are updated in place.</summary>
    public TStateMachine StateMachine = default!;

    /// <summary>The execution context at the last await, for the continuation.</summary>
    public ExecutionContext? Context;

    public Action MoveNextAction => _moveNext ??= MoveNext;

    public static SharedPoolBox<TStateMachine, TResult> Rent()
    {
        var start = Environment.CurrentManagedThreadId;
        for (var i = 0; i < Pool.Length; i++)
        {
            ref var slot = ref Pool[(start + i) % Pool.Length];
            if (Volatile.Read(ref slot) is not null && Interlocked.Exchange(ref slot, null) is { } box)
            {
                return box;
            }
        }

        return new SharedPoolBox<TStateMachine, TResult>();
    }

    protected override void Return()
    {
        StateMachine = default!;
        Context = null;
        var start = Environment.CurrentManagedThreadId;
        for (var i = 0; i < Pool.Length; i++)
        {
            ref var slot = ref Pool[(start + i) % Pool.Length];
            if (Volatile.Read(ref slot) is null && Interlocked.CompareExchange(ref slot, this, null) is null)
            {
                return;
            }
        }
    }

    private void MoveNext()
    {
        if (Context is { } context)
        {
            ExecutionContext.Run(context, RunMoveNext, this);
        }
        else
        {
            StateMachine.MoveNext();
        }
    }
}
