using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Telemetry;
using Updraft.Protos.V1;

namespace Updraft.Interceptor.Local;

/// <summary>
/// Follows the local autoscaler's replicas feed (<c>updraft.v1.LocalReplicas/Watch</c>, h2c to
/// <c>UPDRAFT_LOCAL_REPLICAS</c>): each snapshot is checked (<see cref="ReplicaSnapshotReader"/>), put in force on
/// <see cref="LocalTargets"/>, and only then acknowledged with <c>ReplicasApplied</c>, so the autoscaler stops a
/// replica only once no new request can pick it.
/// </summary>
/// <remarks>
/// A lost or refused stream is dialled again after 100 ms, doubling up to <see cref="RetryMax"/>; the last snapshot
/// stays in force meanwhile (its replicas may well still run). Connecting and losing the feed are logged once per change,
/// not per attempt. The interceptor's own readiness does not depend on the feed; the status page shows it.
/// </remarks>
internal sealed class LocalReplicaFeed : BackgroundService
{
    public static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(100);
    public static readonly TimeSpan RetryMax = TimeSpan.FromSeconds(5);

    /// <summary>A feed never reached is a warning only after this (the autoscaler may just be starting).</summary>
    public static readonly TimeSpan UnreachableWarningAfter = TimeSpan.FromSeconds(30);

    /// <summary>Room for the largest snapshot accepted (1,000 workloads of 1,000 replicas with short addresses).</summary>
    public const int MaxSnapshotBytes = 32 * 1024 * 1024;

    private readonly ReplicaAddress _address;
    private readonly LocalTargets _targets;
    private readonly TimeProvider _time;
    private readonly ILogger<LocalReplicaFeed> _logger;
    private readonly GrpcChannel _channel;
    private readonly LocalReplicas.LocalReplicasClient _client;
    private volatile FeedState _state = new(false, null, null);
    private bool _failureReported;
    private bool _unreachableWarned;
    private string? _lastSkipped;

    public LocalReplicaFeed(IOptions<InterceptorOptions> options, LocalTargets targets, TimeProvider time, ILogger<LocalReplicaFeed> logger)
    {
        // Registered only when the setting is given; an invalid value fails start-up in the options' validation first.
        _address = options.Value.LocalReplicas ?? new ReplicaAddress("127.0.0.1", 9092, IsIPv6: false);
        _targets = targets;
        _time = time;
        _logger = logger;
        _channel = GrpcChannel.ForAddress("http://" + _address.Authority, new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler
            {
                UseProxy = false,
                ConnectTimeout = TimeSpan.FromSeconds(2),
                // The feed may stay silent for hours; pings notice a peer that vanished without closing.
                KeepAlivePingDelay = TimeSpan.FromSeconds(10),
                KeepAlivePingTimeout = TimeSpan.FromSeconds(5),
                EnableMultipleHttp2Connections = false,
            },
            DisposeHttpClient = true,
            MaxReceiveMessageSize = MaxSnapshotBytes,
        });
        _client = new LocalReplicas.LocalReplicasClient(_channel);
    }

    /// <summary>The autoscaler's latest replica events (oldest first), from the snapshot in force.</summary>
    public IReadOnlyList<string> RecentEvents { get; private set; } = [];

    /// <summary><c>host:port</c> of the feed.</summary>
    public string Address => _address.Authority;

    /// <summary>Connected now; since when it is (or is not); the last problem.</summary>
    public FeedState State => _state;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = FirstRetry;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (await WatchAsync(stoppingToken))
                {
                    backoff = FirstRetry;
                }

                await Task.Delay(backoff, _time, stoppingToken);
                backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, RetryMax.Ticks));
            }
            catch (Exception) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
        }
    }

    /// <returns>Whether at least one snapshot was applied on this stream.</returns>
    private async Task<bool> WatchAsync(CancellationToken stop)
    {
        var applied = false;
        string reason;
        try
        {
            using var call = _client.Watch(cancellationToken: stop);
            while (await call.ResponseStream.MoveNext(stop))
            {
                var snapshot = call.ResponseStream.Current;
                var checkedSnapshot = ReplicaSnapshotReader.Check(snapshot);
                if (checkedSnapshot.Workloads is not { } workloads)
                {
                    // Leaving the block ends the call: the stream is dropped and dialled again.
                    Log.LocalFeedSnapshotRefused(_logger, Address, snapshot.Version, checkedSnapshot.Refusal!);
                    Failed($"snapshot {snapshot.Version} refused: {checkedSnapshot.Refusal}", quietly: true);
                    return applied;
                }

                ReportSkipped(snapshot.Version, checkedSnapshot);
                _targets.Apply(workloads, snapshot.Version);
                RecentEvents = checkedSnapshot.Events;
                Log.LocalFeedSnapshotApplied(_logger, snapshot.Version, workloads.Count);
                if (!applied)
                {
                    applied = true;
                    Connected(snapshot.Version, workloads);
                }

                await call.RequestStream.WriteAsync(new ReplicasApplied { Version = snapshot.Version }, stop);
            }

            reason = "the feed ended the stream";
        }
        catch (RpcException e) when (!stop.IsCancellationRequested && e.StatusCode == StatusCode.ResourceExhausted)
        {
            // A snapshot over MaxSnapshotBytes: the client refused it before parsing it.
            Log.LocalFeedSnapshotTooLarge(_logger, Address, MaxSnapshotBytes, e.Status.Detail);
            Failed("a snapshot over " + MaxSnapshotBytes + " bytes refused", quietly: true);
            return applied;
        }
        catch (RpcException e) when (!stop.IsCancellationRequested)
        {
            reason = e.Status.StatusCode + ": " + (Innermost(e.Status.DebugException) ?? e.Status.Detail);
        }
        catch (Exception e) when (!stop.IsCancellationRequested)
        {
            // Whatever ends the stream (a bug included) ends only this attempt: the feed is dialled again.
            reason = Innermost(e)!;
        }

        Failed(reason, quietly: false);
        return applied;
    }

    private void Connected(ulong version, Dictionary<string, ReplicaAddress[]> workloads)
    {
        var state = _state;
        _failureReported = false;
        _unreachableWarned = false;
        if (!state.Connected)
        {
            var replicas = 0;
            foreach (var ready in workloads.Values)
            {
                replicas += ready.Length;
            }

            _state = new FeedState(true, _time.GetUtcNow(), null);
            Log.LocalFeedConnected(_logger, Address, version, workloads.Count, replicas);
        }
    }

    /// <param name="reason">What went wrong (the status page shows it).</param>
    /// <param name="quietly">Already logged as an error: only the state changes.</param>
    private void Failed(string reason, bool quietly)
    {
        var state = _state;
        if (state.Connected)
        {
            _state = new FeedState(false, _time.GetUtcNow(), reason);
            _failureReported = true;
            if (!quietly)
            {
                Log.LocalFeedLost(_logger, Address, reason);
            }

            return;
        }

        var now = _time.GetUtcNow();
        _state = state with { Since = state.Since ?? now, Problem = reason };
        if (quietly)
        {
            _failureReported = true;
        }
        else if (!_failureReported)
        {
            _failureReported = true;
            Log.LocalFeedUnreachable(_logger, Address, reason);
        }
        else if (!_unreachableWarned && now - (state.Since ?? now) >= UnreachableWarningAfter)
        {
            _unreachableWarned = true;
            Log.LocalFeedStillUnreachable(_logger, Address, Shared.Durations.GoDuration.Format(UnreachableWarningAfter), reason);
        }
    }

    /// <summary>Malformed entries are logged when what was skipped changes, not with every snapshot.</summary>
    private void ReportSkipped(ulong version, CheckedSnapshot snapshot)
    {
        var skipped = snapshot.Skipped == 0 ? null : snapshot.Skipped + ": " + snapshot.Examples;
        if (skipped is not null && skipped != _lastSkipped)
        {
            Log.LocalFeedEntriesSkipped(_logger, Address, version, snapshot.Skipped, snapshot.Examples);
        }

        _lastSkipped = skipped;
    }

    private static string? Innermost(Exception? exception)
    {
        if (exception is null)
        {
            return null;
        }

        while (exception.InnerException is not null)
        {
            exception = exception.InnerException;
        }

        return exception.Message;
    }

    public override void Dispose()
    {
        _channel.Dispose();
        base.Dispose();
    }

    /// <param name="Connected">A stream is open and its first snapshot applied.</param>
    /// <param name="Since">When it connected or was lost (or first failed); null before any attempt ended.</param>
    /// <param name="Problem">Why the last attempt failed, while not connected.</param>
    internal sealed record FeedState(bool Connected, DateTimeOffset? Since, string? Problem);
}
