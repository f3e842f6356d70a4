using System.Collections.Concurrent;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// Reusable <see cref="CancellationTokenSource"/>s (with their timers and registration lists), as YARP pools its
/// per-request activity sources. A source goes back only if <see cref="CancellationTokenSource.TryReset"/> succeeds,
/// i.e. it was never cancelled and its timer never fired.
/// </summary>
internal sealed class CancellationSourcePool
{
    private const int MaxPooled = 1024;

    private readonly ConcurrentQueue<CancellationTokenSource> _sources = new();
    private int _count;

    public CancellationTokenSource Rent()
    {
        if (_sources.TryDequeue(out var source))
        {
            Interlocked.Decrement(ref _count);
            return source;
        }

        return new CancellationTokenSource();
    }

    /// <summary>Only once nothing uses the source's token any more.</summary>
    public void Return(CancellationTokenSource source)
    {
        if (source.TryReset())
        {
            if (Interlocked.Increment(ref _count) <= MaxPooled)
            {
                _sources.Enqueue(source);
                return;
            }

            Interlocked.Decrement(ref _count);
        }

        source.Dispose();
    }
}
