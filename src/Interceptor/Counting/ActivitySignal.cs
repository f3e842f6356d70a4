using System.Threading.Channels;

namespace Updraft.Interceptor.Counting;

/// <summary>
/// Tells the count streams that some route just went from idle to busy, so the scaler hears of a first request at
/// once instead of at the next interval. Raising is lock-free and allocation-free; bursts coalesce, since each
/// subscriber only needs to know "something became active since you last looked".
/// </summary>
internal sealed class ActivitySignal
{
    private static readonly BoundedChannelOptions OneWakeUp = new(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true };

    private Channel<bool>[] _subscribers = [];

    /// <summary>Subscribed streams now (each open count stream holds one until it ends).</summary>
    public int Subscribers => Volatile.Read(ref _subscribers).Length;

    public void Raise()
    {
        foreach (var subscriber in Volatile.Read(ref _subscribers))
        {
            subscriber.Writer.TryWrite(true);
        }
    }

    /// <summary>A wake-up channel for one stream; dispose the returned handle when the stream ends.</summary>
    public Subscription Subscribe()
    {
        var channel = Channel.CreateBounded<bool>(OneWakeUp);
        Update(list => [.. list, channel]);
        return new Subscription(this, channel);
    }

    private void Update(Func<Channel<bool>[], Channel<bool>[]> change)
    {
        while (true)
        {
            var current = Volatile.Read(ref _subscribers);
            if (Interlocked.CompareExchange(ref _subscribers, change(current), current) == current)
            {
                return;
            }
        }
    }

    internal sealed class Subscription(ActivitySignal owner, Channel<bool> channel) : IDisposable
    {
        /// <summary>Completes when a route became active since the last call (or at once if it already did).</summary>
        public ValueTask<bool> WaitAsync(CancellationToken cancellationToken) => channel.Reader.WaitToReadAsync(cancellationToken);

        /// <summary>Takes the pending wake-up, if any, before a snapshot is sent.</summary>
        public void Reset() => channel.Reader.TryRead(out _);

        public void Dispose() => owner.Update(list => Array.FindAll(list, c => c != channel));
    }
}
