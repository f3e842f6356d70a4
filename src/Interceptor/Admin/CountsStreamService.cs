using Grpc.Core;
using Updraft.Interceptor.Counting;
using Updraft.Interceptor.Routing;
using Updraft.Protos.V1;

namespace Updraft.Interceptor.Admin;

/// <summary>
/// <c>updraft.v1.InterceptorCounts/WatchCounts</c> on the admin port: a snapshot of every route's counts at once,
/// then every interval, and immediately whenever a route goes from idle to busy. Pushing on change means a short
/// request under light traffic is never missed between two samples (the add-on's 2 Hz <c>/queue</c> poll misses it).
/// When draining starts, every open stream gets a last snapshot and ends, and new ones are refused with
/// <c>UNAVAILABLE</c> "draining" (the scaler polls <c>/queue</c> meanwhile): an open stream never holds the shutdown.
/// At most <c>UPDRAFT_MAX_COUNT_STREAMS</c> streams are open at once (each keeps what it last sent per route); one more
/// is refused with <c>RESOURCE_EXHAUSTED</c>, and its scaler polls <c>/queue</c> instead.
/// </summary>
internal sealed class CountsStreamService(RouteTableHolder tables, ActivitySignal activity, ReadinessState readiness, TimeProvider time, int maxStreams)
    : InterceptorCounts.InterceptorCountsBase
{
    private int _open;

    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The status detail of a stream refused while draining (the scaler recognises it).</summary>
    public const string DrainingDetail = "draining";

    /// <summary>Identifies this process, so a scaler can tell a restart (counters reset) from a reconnect.</summary>
    public static readonly string InstanceId = Guid.NewGuid().ToString("N");

    private static readonly TimeSpan MinimumInterval = TimeSpan.FromMilliseconds(10);

    /// <summary>Every this many snapshots one is full, even when nothing changed (a cheap resynchronisation).</summary>
    private const int FullEvery = 50;

    public override async Task WatchCounts(WatchCountsRequest request, IServerStreamWriter<CountsSnapshot> responseStream, ServerCallContext context)
    {
        var draining = readiness.Draining;
        if (draining.IsCancellationRequested)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, DrainingDetail));
        }

        if (Interlocked.Increment(ref _open) > maxStreams)
        {
            Interlocked.Decrement(ref _open);
            throw new RpcException(new Status(StatusCode.ResourceExhausted, $"{maxStreams} count streams are open already, the limit (UPDRAFT_MAX_COUNT_STREAMS)"));
        }

        try
        {
            await StreamAsync(request, responseStream, context, draining);
        }
        finally
        {
            Interlocked.Decrement(ref _open);
        }
    }

    private async Task StreamAsync(WatchCountsRequest request, IServerStreamWriter<CountsSnapshot> responseStream, ServerCallContext context, CancellationToken draining)
    {
        var interval = request.IntervalMs == 0 ? DefaultInterval : TimeSpan.FromMilliseconds(Math.Max(request.IntervalMs, MinimumInterval.TotalMilliseconds));
        var cancellation = context.CancellationToken;
        using var wakeUps = activity.Subscribe();
        var sent = new StreamState();
        ulong sequence = 0;
        try
        {
            while (!cancellation.IsCancellationRequested)
            {
                wakeUps.Reset();
                await responseStream.WriteAsync(sent.Next(tables.Current, ++sequence), cancellation);
                if (draining.IsCancellationRequested)
                {
                    // That was the last snapshot: end the stream (status OK) so the admin listener can stop at once.
                    return;
                }

                using var tick = CancellationTokenSource.CreateLinkedTokenSource(cancellation, draining);
                await Task.WhenAny(wakeUps.WaitAsync(tick.Token).AsTask(), Task.Delay(interval, time, tick.Token));
                await tick.CancelAsync();
            }
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // The scaler went away.
        }
    }

    /// <summary>What one stream last sent, so the next snapshot carries only what changed.</summary>
    private sealed class StreamState
    {
        private readonly Dictionary<string, (int Concurrency, long RequestCount)> _sent = new(StringComparer.Ordinal);
        private RouteTable? _table;

        public CountsSnapshot Next(RouteTable table, ulong sequence)
        {
            var full = !ReferenceEquals(table, _table) || sequence % FullEvery == 1;
            _table = table;
            if (full)
            {
                _sent.Clear();
            }

            var snapshot = new CountsSnapshot { InstanceId = InstanceId, Sequence = sequence, Full = full };
            foreach (var route in table.Routes)
            {
                var counts = (route.Counter.Concurrency, route.Counter.RequestCount);
                if (!full && _sent.TryGetValue(route.Key, out var previous) && previous == counts)
                {
                    continue;
                }

                _sent[route.Key] = counts;
                snapshot.Routes.Add(new RouteCount { Key = route.Key, Concurrency = counts.Concurrency, RequestCount = counts.RequestCount });
            }

            return snapshot;
        }
    }
}
