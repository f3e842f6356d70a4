using System.Net.Sockets;
using Grpc.Core;
using Grpc.Net.Client;
using Updraft.ExternalScaler.Telemetry;
using Updraft.Protos.V1;

namespace Updraft.ExternalScaler.Http;

/// <summary>
/// Follows one interceptor replica's counts. It subscribes to the replica's <c>updraft.v1</c> count stream, which
/// pushes a snapshot whenever a route becomes busy; a replica that does not offer the stream (the add-on's
/// interceptor, or an older Updraft) is polled at <c>/queue</c> every tick instead, and the stream is tried again now
/// and then. A replica that refuses connections (it starts after the scaler, or restarts) is dialled again within a
/// second and is not a problem until it stays away for <see cref="UnreachableWarningAfter"/>. Reports are published
/// as immutable <see cref="ReplicaReport"/>s; nothing here holds a lock across I/O, and every network wait is bounded,
/// so a replica that accepts and never answers cannot stall anything.
/// </summary>
internal sealed class InterceptorReplica : IAsyncDisposable
{
    /// <summary>After a failed stream attempt on a replica that answers, poll <c>/queue</c> this long before trying the stream again.</summary>
    public static readonly TimeSpan PollBeforeStreamRetry = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A replica that refuses connections (not started yet, restarting) is dialled again after 100 ms, doubling up to
    /// this; so a replica that comes up after the scaler streams within about this long.
    /// </summary>
    public static readonly TimeSpan UnreachableRetryMax = TimeSpan.FromSeconds(1);

    /// <summary>How long a replica may refuse connections before it is a problem (a warning); before, it is starting.</summary>
    public static readonly TimeSpan UnreachableWarningAfter = TimeSpan.FromSeconds(30);

    /// <summary>The status detail of a <c>WatchCounts</c> refused because the interceptor is draining (shutting down).</summary>
    public const string DrainingDetail = "draining";

    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The least time a stream's connect and its first snapshot get, whatever the tick: on a busy node a replica that
    /// is starting can take seconds to answer, and giving up sends the scaler to poll it for half a minute.
    /// </summary>
    private static readonly TimeSpan FirstSnapshotAtLeast = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan ConnectAtLeast = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The least silence after which a streaming replica counts as stuck, whatever the tick: a GC pause or a starved
    /// thread pool on a busy node stops a healthy replica's snapshots for a second, and a false "stuck" costs a reconnect.
    /// </summary>
    private static readonly TimeSpan SilenceAtLeast = TimeSpan.FromSeconds(3);

    private readonly HttpClient _queueClient;
    private readonly TimeSpan _tick;
    private readonly TimeSpan _streamInterval;
    private readonly TimeProvider _time;
    private readonly Action _reported;
    private readonly ILogger _logger;
    private readonly ScalerMetrics? _metrics;
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;
    private ReplicaReport? _latest;
    private volatile bool _lastFetchFailed;
    private string? _lastProblem;
    // Only the loop touches these: when the replica first refused a connection (since it last reported), and whether
    // that was already reported as a problem.
    private long? _unreachableSince;
    private bool _unreachableWarned;

    // The replica ended its count stream, which our interceptors do only when they shut down.
    private bool _endedItsStream;

    /// <summary>How one attempt at the count stream ended.</summary>
    private enum StreamOutcome
    {
        /// <summary>Snapshots arrived, then the stream ended (a restart, a dropped connection): reconnect soon.</summary>
        Delivered,

        /// <summary>The replica refused the connection (not listening yet, or gone): dial again shortly.</summary>
        Unreachable,

        /// <summary>The replica answers but refused the stream because it is shutting down: poll <c>/queue</c> meanwhile.</summary>
        Draining,

        /// <summary>The replica answers but offers no stream, or the stream failed: poll <c>/queue</c> for a while.</summary>
        Failed,
    }

    /// <param name="address">The replica's admin address, <c>host:port</c>.</param>
    /// <param name="queueClient">Shared client for <c>/queue</c> polls.</param>
    /// <param name="tick">Poll interval; each poll must finish within it.</param>
    /// <param name="streamInterval">The snapshot interval to ask the stream for.</param>
    /// <param name="time">Clock.</param>
    /// <param name="reported">Called after every new report (the aggregator coalesces these).</param>
    /// <param name="logger">Logger.</param>
    /// <param name="metrics">Where fetches are counted (<c>scaler_pinger_*</c>); none in tests of the replica alone.</param>
    public InterceptorReplica(string address, HttpClient queueClient, TimeSpan tick, TimeSpan streamInterval, TimeProvider time, Action reported, ILogger logger, ScalerMetrics? metrics = null)
    {
        Address = address;
        _queueClient = queueClient;
        _tick = tick;
        _streamInterval = streamInterval;
        _time = time;
        _reported = reported;
        _logger = logger;
        _metrics = metrics;
    }

    public string Address { get; }

    /// <summary>The last good report, or null before the first.</summary>
    public ReplicaReport? Latest => Volatile.Read(ref _latest);

    /// <summary>
    /// True when the last attempt to get this replica's counts failed (refused, timed out, broke), false once counts
    /// arrive again: the add-on's "unreachable pod".
    /// </summary>
    public bool LastFetchFailed => _lastFetchFailed;

    /// <summary>True while counts arrive over the push stream (false: polling <c>/queue</c>).</summary>
    public bool Streaming { get; private set; }

    public void Start() => _loop = RunAsync(_stop.Token);

    private async Task RunAsync(CancellationToken stop)
    {
        var backoff = FirstRetry;
        var unreachableBackoff = FirstRetry;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                var outcome = await StreamAsync(stop);
                if (outcome == StreamOutcome.Delivered)
                {
                    // The stream worked and then ended (the replica restarted or the connection dropped): reconnect soon.
                    backoff = FirstRetry;
                    unreachableBackoff = FirstRetry;
                    await Task.Delay(FirstRetry, _time, stop);
                    continue;
                }

                if (outcome != StreamOutcome.Unreachable)
                {
                    unreachableBackoff = FirstRetry;
                    if (await PollAsync(PollBeforeStreamRetry, stop))
                    {
                        continue;
                    }
                }

                // Nothing listens there (yet): dial again soon, and sooner than a poll period, so a replica that starts
                // after the scaler streams within about a second of listening.
                await Task.Delay(unreachableBackoff, _time, stop);
                unreachableBackoff = TimeSpan.FromTicks(Math.Min(unreachableBackoff.Ticks * 2, UnreachableRetryMax.Ticks));
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                // Stopping (the scaler shuts down or the replica was removed): whatever the call ended with is moot.
                return;
            }
            catch (Exception e)
            {
                Failed(null);
                Problem($"unexpected failure: {e.Message}");
                await Task.Delay(backoff, _time, stop).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, _tick.Ticks * 4));
            }
        }
    }

    /// <returns>How the attempt ended.</returns>
    private async Task<StreamOutcome> StreamAsync(CancellationToken stop)
    {
        using var channel = GrpcChannel.ForAddress("http://" + Address, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                ConnectTimeout = _tick > ConnectAtLeast ? _tick : ConnectAtLeast,
                KeepAlivePingDelay = TimeSpan.FromSeconds(10),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
                EnableMultipleHttp2Connections = false,
            },
            DisposeHttpClient = true,
        });
        var client = new InterceptorCounts.InterceptorCountsClient(channel);
        var delivered = false;
        var opened = _time.GetTimestamp();
        using var call = CancellationTokenSource.CreateLinkedTokenSource(stop);
        using var stream = client.WatchCounts(new WatchCountsRequest { IntervalMs = (uint)_streamInterval.TotalMilliseconds }, cancellationToken: call.Token);

        // The replica sends at least every interval; silence for several intervals means it is stuck.
        var silenceLimit = TimeSpan.FromTicks(Math.Max(Math.Max(_tick.Ticks * 2, _streamInterval.Ticks * 5), SilenceAtLeast.Ticks));
        // A watchdog on the call itself: re-armed by every snapshot (CancelAfter is safe against the call's disposal).
        // The first snapshot also waits for the connection, so a replica that is slow to start gets three times as
        // long before it is polled at /queue for PollBeforeStreamRetry instead.
        var armed = silenceLimit * 3 > FirstSnapshotAtLeast ? silenceLimit * 3 : FirstSnapshotAtLeast;
        call.CancelAfter(armed);
        try
        {
            while (await stream.ResponseStream.MoveNext(call.Token))
            {
                armed = silenceLimit;
                call.CancelAfter(armed);
                // The first snapshot is the stream's round trip (connecting included); later ones are pushed unasked,
                // so what they cost the scaler is applying them.
                var received = delivered ? _time.GetTimestamp() : opened;
                var snapshot = stream.ResponseStream.Current;
                if (!delivered)
                {
                    delivered = true;
                    Streaming = true;
                    Log.ReplicaStreaming(_logger, Address);
                }

                Publish(new ReplicaReport(snapshot.InstanceId, Merge(snapshot), _time.GetUtcNow()));
                Fetched(received);
            }

            // Our interceptors end the stream only when they start draining (shutting down).
            _endedItsStream = true;
            Log.ReplicaStreamEnded(_logger, Address);
        }
        catch (RpcException e) when (!stop.IsCancellationRequested)
        {
            if (call.IsCancellationRequested)
            {
                Failed(delivered ? null : opened);
                Problem($"no count snapshot for {armed.TotalMilliseconds} ms");
            }
            else if (!delivered && IsUnreachable(e.Status.DebugException))
            {
                Failed(opened);
                Unreachable(Reason(e.Status.DebugException!));
                return StreamOutcome.Unreachable;
            }
            else if (!delivered && e.StatusCode == StatusCode.Unavailable && e.Status.DebugException is null && e.Status.Detail == DrainingDetail)
            {
                Log.ReplicaDraining(_logger, Address);
                return StreamOutcome.Draining;
            }
            else if (!delivered && _endedItsStream && e.StatusCode == StatusCode.Unavailable)
            {
                // It said it was shutting down: a process on its way out may still accept a connection and drop it.
                Failed(opened);
                Unreachable($"{e.Status.Detail} {(e.Status.DebugException is { } cause ? Reason(cause) : "")}".Trim());
                return StreamOutcome.Unreachable;
            }
            else
            {
                Failed(delivered ? null : opened);
                Problem($"count stream: {e.Status.StatusCode} {e.Status.Detail}");
            }
        }
        catch (Exception e) when (!stop.IsCancellationRequested && e is HttpRequestException or IOException or OperationCanceledException)
        {
            if (!delivered && IsUnreachable(e))
            {
                Failed(opened);
                Unreachable(Reason(e));
                return StreamOutcome.Unreachable;
            }

            Failed(delivered ? null : opened);
            Problem($"count stream: {e.Message}");
        }
        finally
        {
            Streaming = false;
        }

        return delivered ? StreamOutcome.Delivered : StreamOutcome.Failed;
    }

    /// <returns>False when the replica stopped accepting connections (polling it further is pointless).</returns>
    private async Task<bool> PollAsync(TimeSpan period, CancellationToken stop)
    {
        var until = _time.GetTimestamp() + (long)(period.TotalSeconds * _time.TimestampFrequency);
        var uri = new Uri("http://" + Address + "/queue");
        while (_time.GetTimestamp() < until)
        {
            var started = _time.GetTimestamp();
            using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(stop))
            {
                // Shorter than a tick, so one stuck replica never delays the next round.
                attempt.CancelAfter(TimeSpan.FromTicks(_tick.Ticks * 4 / 5));
                try
                {
                    using var response = await _queueClient.GetAsync(uri, HttpCompletionOption.ResponseContentRead, attempt.Token);
                    response.EnsureSuccessStatusCode();
                    var body = await response.Content.ReadAsByteArrayAsync(attempt.Token);
                    Publish(new ReplicaReport(null, QueueDocument.Parse(body), _time.GetUtcNow()));
                    Fetched(started);
                }
                catch (HttpRequestException e) when (!stop.IsCancellationRequested && IsUnreachable(e))
                {
                    Failed(started);
                    Unreachable(Reason(e));
                    return false;
                }
                catch (Exception e) when (!stop.IsCancellationRequested && e is HttpRequestException or FormatException or OperationCanceledException or IOException)
                {
                    Failed(started);
                    Problem(e is OperationCanceledException ? "/queue did not answer within the tick" : $"/queue: {e.Message}");
                }
            }

            var wait = _tick - _time.GetElapsedTime(started);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, _time, stop);
            }
        }

        return true;
    }

    /// <summary>
    /// Whether <paramref name="exception"/> (or what caused it) says nothing accepted the connection: refused, no route,
    /// unknown host, as opposed to a replica that answered and failed. gRPC reports these as <c>UNAVAILABLE</c> "Error
    /// connecting to subchannel." with the socket's error as the debug exception; a <c>/queue</c> poll as an
    /// <see cref="HttpRequestException"/> caused by it.
    /// </summary>
    private static bool IsUnreachable(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is SocketException
                {
                    SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable
                        or SocketError.HostNotFound or SocketError.TryAgain or SocketError.AddressNotAvailable,
                }
                or HttpRequestException { HttpRequestError: HttpRequestError.NameResolutionError })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The innermost message of <paramref name="exception"/>'s causes (the socket's own words).</summary>
    private static string Reason(Exception exception)
    {
        var innermost = exception;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        return innermost.Message;
    }

    /// <summary>
    /// A replica that refuses connections is normal for a while (it starts after the scaler, or restarts): logged once
    /// as information, and as a problem only when it lasts <see cref="UnreachableWarningAfter"/>.
    /// </summary>
    private void Unreachable(string reason)
    {
        var now = _time.GetTimestamp();
        if (_unreachableSince is not { } since)
        {
            _unreachableSince = now;
            Log.ReplicaUnreachable(_logger, Address, reason);
        }
        else if (!_unreachableWarned && _time.GetElapsedTime(since, now) >= UnreachableWarningAfter)
        {
            _unreachableWarned = true;
            Problem($"not reachable for {UnreachableWarningAfter.TotalSeconds:0} s: {reason}");
        }
    }

    /// <summary>
    /// The replica's counts after <paramref name="snapshot"/>: a full snapshot replaces them; a partial one changes
    /// the routes it lists. Unchanged counts keep the same dictionary, which tells the aggregator nothing moved.
    /// </summary>
    private IReadOnlyDictionary<string, RouteCounts> Merge(CountsSnapshot snapshot)
    {
        var previous = Latest?.Routes;
        if (!snapshot.Full && previous is not null && snapshot.Routes.Count == 0)
        {
            return previous;
        }

        var routes = snapshot.Full || previous is null
            ? new Dictionary<string, RouteCounts>(snapshot.Routes.Count, StringComparer.Ordinal)
            : new Dictionary<string, RouteCounts>(previous, StringComparer.Ordinal);
        foreach (var route in snapshot.Routes)
        {
            routes[route.Key] = new RouteCounts(route.Concurrency, route.RequestCount);
        }

        return routes;
    }

    private void Publish(ReplicaReport report)
    {
        var changed = !ReferenceEquals(Latest?.Routes, report.Routes);
        Volatile.Write(ref _latest, report);
        _lastProblem = null;
        _unreachableSince = null;
        _unreachableWarned = false;
        _endedItsStream = false;
        if (changed)
        {
            // Freshness alone waits for the aggregator's tick; counts that moved are aggregated at once.
            _reported();
        }
    }

    /// <param name="since">When the fetch started (a timestamp of the clock).</param>
    private void Fetched(long since)
    {
        _lastFetchFailed = false;
        _metrics?.FetchSucceeded(_time.GetElapsedTime(since));
    }

    /// <param name="since">When the failed attempt started, or null for a stream that broke after delivering (no one
    /// fetch to time).</param>
    private void Failed(long? since)
    {
        _lastFetchFailed = true;
        _metrics?.FetchFailed(since is { } start ? _time.GetElapsedTime(start) : null);
    }

    private void Problem(string problem)
    {
        // Log a problem once, not at every tick while it lasts.
        if (problem != _lastProblem)
        {
            _lastProblem = problem;
            Log.ReplicaProblem(_logger, Address, problem);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }
}
