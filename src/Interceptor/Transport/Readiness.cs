using System.Threading.Tasks.Sources;

namespace Updraft.Interceptor.Transport;

/// <summary>
/// One direction (read or write) of an <see cref="EpollSocket"/>: whether the socket may be ready, and the one
/// operation waiting until it is. The loop counts the socket's edge-triggered events; the operation records the count
/// it saw before a call that found the socket drained (<c>EAGAIN</c>, or a short read). While the two are equal, no
/// event has come since, so the operation waits without trying the socket: that is the system call .NET's sockets
/// spend on every read, and the reason this transport exists.
/// </summary>
/// <remarks>
/// One waiter at a time per direction (a connection has one reader and one writer). The loop thread completes it and
/// runs its continuation inline, so the code that follows (parsing, forwarding) runs on the loop thread.
/// </remarks>
internal sealed class Readiness : IValueTaskSource
{
    private const int Idle = 0;
    private const int Waiting = 1;

    private ManualResetValueTaskSourceCore<bool> _core;
    private CancellationTokenRegistration _registration;
    private int _events = 1;
    private int _drainedAt;
    private int _state;
    private volatile Exception? _closed;
    private volatile bool _ended;

    /// <summary>Whether an event came (or the socket closed) since it was last found drained: worth a try.</summary>
    public bool MaybeReady => Volatile.Read(ref _events) != _drainedAt || _ended || _closed is not null;

    /// <summary>The event count now; pass it to <see cref="Drained"/> if the call made after it finds nothing more.</summary>
    public int Snapshot() => Volatile.Read(ref _events);

    /// <summary>The socket had nothing more at <paramref name="snapshot"/>: wait for an event after it.</summary>
    public void Drained(int snapshot) => _drainedAt = snapshot;

    /// <summary>Why the socket closed, once it did.</summary>
    public Exception? Closed => _closed;

    /// <summary>Completes once the socket may be ready again, or throws when <paramref name="token"/> is cancelled.</summary>
    public ValueTask WaitAsync(CancellationToken token)
    {
        if (MaybeReady)
        {
            return ValueTask.CompletedTask;
        }

        token.ThrowIfCancellationRequested();
        _core.Reset();
        // Registered before the waiter is published, so that a completion on the loop thread (whose continuation
        // disposes the registration) finds it; the callback does nothing until then.
        if (token.CanBeCanceled)
        {
            _registration = token.UnsafeRegister(static (state, token) => ((Readiness)state!).Cancel(token), this);
        }

        // A full fence, not a release store: the check below must not be read before the state is visible, or an
        // event that lands in between finds no waiter and wakes nobody (the store/load reordering x86 allows).
        Interlocked.Exchange(ref _state, Waiting);
        if ((MaybeReady || token.IsCancellationRequested) && Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
        {
            _registration.Dispose();
            _registration = default;
            return token.IsCancellationRequested && !MaybeReady ? ValueTask.FromCanceled(token) : ValueTask.CompletedTask;
        }

        return new ValueTask(this, _core.Version);
    }

    /// <summary>The loop saw an event for this direction.</summary>
    public void Signal()
    {
        Interlocked.Increment(ref _events);
        if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
        {
            _core.SetResult(true);
        }
    }

    /// <summary>
    /// The peer closed or the connection failed (<c>EPOLLRDHUP</c>, <c>EPOLLHUP</c>, <c>EPOLLERR</c>): every call from now
    /// on returns at once (0 or the error), so there is nothing to wait for. Sticky, because the kernel may report the
    /// FIN in the same event as the last data, and a short read of that data must not be taken for "drained".
    /// </summary>
    public void SignalEnd()
    {
        _ended = true;
        Signal();
    }

    /// <summary>The socket is closed: the waiter and every later wait complete, and the next call finds out why.</summary>
    public void Close(Exception reason)
    {
        _closed ??= reason;
        Signal();
    }

    private void Cancel(CancellationToken token)
    {
        if (Interlocked.CompareExchange(ref _state, Idle, Waiting) == Waiting)
        {
            _core.SetException(new OperationCanceledException(token));
        }
    }

    void IValueTaskSource.GetResult(short token)
    {
        _registration.Dispose();
        _registration = default;
        _core.GetResult(token);
    }

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
