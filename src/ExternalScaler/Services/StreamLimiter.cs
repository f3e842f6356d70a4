using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;
using Updraft.ExternalScaler.Options;
using Updraft.ExternalScaler.Telemetry;

namespace Updraft.ExternalScaler.Services;

/// <summary>
/// Caps the server streams open at once (<c>StreamIsActive</c>, <c>StreamMetricSpec</c>, the health service's
/// <c>Watch</c>): <c>UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION</c> on one client connection and
/// <c>UPDRAFT_SCALER_MAX_STREAMS</c> in all. Every open stream holds Kestrel's HTTP/2 stream, the request's context
/// and this call's state (about 9 KB of heap) for as long as the client keeps it, so without a cap one client could
/// grow the process until it is killed. A stream over a cap ends at once with <c>ResourceExhausted</c> naming the limit
/// and its setting. HTTP/2's own stream limit cannot say that: a stream beyond <c>SETTINGS_MAX_CONCURRENT_STREAMS</c>
/// waits in the client, silently, so Kestrel's limit is set above this one (see <see cref="UnaryHeadroom"/>).
/// Unary calls are not counted: they are answered from memory at once.
/// </summary>
internal sealed class StreamLimiter : Interceptor
{
    /// <summary>
    /// HTTP/2 streams a connection may have beyond its stream cap: room for the unary calls KEDA sends on the same
    /// connection (<c>GetMetrics</c>, <c>GetMetricSpec</c>) and for the streams being refused.
    /// </summary>
    public const int UnaryHeadroom = 100;

    /// <summary>How often refusals are logged while they go on (each is counted in the metrics).</summary>
    private static readonly TimeSpan LogEvery = TimeSpan.FromMinutes(1);

    private readonly int _perConnection;
    private readonly int _total;
    private readonly ScalerMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _byConnection = new(StringComparer.Ordinal);
    private int _open;
    private long _refusedSinceLog;
    private long _lastLog = long.MinValue;

    public StreamLimiter(IOptions<ScalerOptions> options, ScalerMetrics metrics, TimeProvider time, ILogger<StreamLimiter> logger)
    {
        _perConnection = options.Value.MaxStreamsPerConnection;
        _total = options.Value.MaxStreams;
        _metrics = metrics;
        _time = time;
        _logger = logger;
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request,
        IServerStreamWriter<TResponse> responseStream,
        ServerCallContext context,
        ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var http = context.GetHttpContext();
        var connection = http.Connection.Id;
        if (Acquire(connection) is { } refusal)
        {
            Refused(context.Method, refusal);
            throw new RpcException(new Status(StatusCode.ResourceExhausted, refusal.Message));
        }

        // Released when the request completes, however the stream ends; no async frame of ours lives as long as it.
        http.Response.RegisterForDispose(new Slot(this, connection));
        return continuation(request, responseStream, context);
    }

    /// <returns>Null when the stream may open (it is then counted), else why not.</returns>
    private Refusal? Acquire(string connection)
    {
        lock (_lock)
        {
            if (_open >= _total)
            {
                return new Refusal("scaler", $"the scaler already serves {_open} streams, its limit ({ScalerOptions.MaxStreamsVariable}={_total}); close streams or raise the setting");
            }

            var onConnection = _byConnection.GetValueOrDefault(connection);
            if (onConnection >= _perConnection)
            {
                return new Refusal("connection", $"this connection already has {onConnection} streams open, the scaler's limit per connection ({ScalerOptions.MaxStreamsPerConnectionVariable}={_perConnection}); close streams, open them on another connection or raise the setting");
            }

            _byConnection[connection] = onConnection + 1;
            _open++;
            return null;
        }
    }

    private void Release(string connection)
    {
        lock (_lock)
        {
            _open--;
            var left = _byConnection[connection] - 1;
            if (left == 0)
            {
                _byConnection.Remove(connection);
            }
            else
            {
                _byConnection[connection] = left;
            }
        }
    }

    private void Refused(string method, Refusal refusal)
    {
        _metrics.StreamRefused(refusal.Limit);
        var refused = Interlocked.Increment(ref _refusedSinceLog);
        var now = _time.GetTimestamp();
        var last = Interlocked.Read(ref _lastLog);
        // A client that retries at once must not turn every refusal into a log line: one per minute, with the count.
        if ((last == long.MinValue || _time.GetElapsedTime(last, now) >= LogEvery) && Interlocked.CompareExchange(ref _lastLog, now, last) == last)
        {
            Interlocked.Add(ref _refusedSinceLog, -refused);
            Log.StreamsRefused(_logger, refused, method, refusal.Message);
        }
    }

    private sealed record Refusal(string Limit, string Message);

    private sealed class Slot(StreamLimiter owner, string connection) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                owner.Release(connection);
            }
        }
    }
}
