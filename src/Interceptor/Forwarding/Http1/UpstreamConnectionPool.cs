using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Updraft.Interceptor.Forwarding.Pooling;
using Updraft.Interceptor.Transport;

namespace Updraft.Interceptor.Forwarding.Http1;

/// <summary>
/// An HTTP/1.1 connection to an upstream, with the parser state of its current response. It runs on .NET's
/// <see cref="System.Net.Sockets.Socket"/> or, with <c>UPDRAFT_TRANSPORT=epoll</c>, on an <see cref="EpollSocket"/>.
/// </summary>
internal sealed class UpstreamConnection : IDisposable
{
    private const int ReadAheadSize = 4 * 1024;

    private readonly Socket _socket;
    private readonly EpollSocket? _epoll;
    private byte[]? _readAheadBuffer;
    private ValueTask<int> _readAhead;
    private bool _readingAhead;

    public UpstreamConnection(Socket socket, UpstreamEndpoint endpoint)
    {
        _socket = socket;
        Endpoint = endpoint;
    }

    public UpstreamConnection(EpollSocket socket, UpstreamEndpoint endpoint)
    {
        _socket = socket.Socket;
        _epoll = socket;
        Endpoint = endpoint;
    }

    public UpstreamEndpoint Endpoint { get; }

    public ResponseHead Head { get; } = new();

    public ChunkedDecoder Chunks { get; } = new();

    public HeaderStrings Strings { get; } = new();

    /// <summary>When it went back to the pool (a <see cref="TimeProvider"/> timestamp).</summary>
    public long IdleSince { get; set; }

    /// <summary>Whether it carried a request before this one: a failure before any response byte may then be a stale close.</summary>
    public bool Reused { get; set; }

    /// <summary>Whether a read posted by <see cref="StartReadAhead"/> is waiting for the next response.</summary>
    public bool IsReadingAhead => _readingAhead;

    public ValueTask SendAsync(ReadOnlyMemory<byte> source, CancellationToken token) =>
        _epoll is not null ? _epoll.SendAsync(source, token) : Sent(_socket.SendAsync(source, SocketFlags.None, token));

    public ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken token) =>
        _epoll is not null ? _epoll.ReceiveAsync(destination, token) : _socket.ReceiveAsync(destination, SocketFlags.None, token);

    /// <summary>
    /// Posts the read of the next response while the connection is idle, as .NET's own client does: the read that ends
    /// an idle connection (EOF, reset, or bytes nobody asked for) is then seen without a system call when it is taken
    /// (<see cref="ReadAheadEnded"/>), and the response needs no read of its own that would fail before it arrives.
    /// The epoll transport needs none of this: its loop tells whether anything came while the connection was idle.
    /// </summary>
    public void StartReadAhead()
    {
        if (_epoll is not null)
        {
            return;
        }

        _readAheadBuffer ??= new byte[ReadAheadSize];
        _readingAhead = true;
        // Consumed once: awaited by the request that takes the connection, or dropped with the closed connection.
#pragma warning disable CA2012
        try
        {
            _readAhead = _socket.ReceiveAsync(_readAheadBuffer.AsMemory(), SocketFlags.None);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _readAhead = ValueTask.FromResult(0);
        }
#pragma warning restore CA2012
    }

    /// <summary>Whether the idle connection's read ended (or, on epoll, anything came): it cannot carry a request.</summary>
    public bool ReadAheadEnded => _epoll?.HasPendingInput() ?? (_readingAhead && _readAhead.IsCompleted);

    /// <summary>
    /// The first bytes of the response, from the read posted while idle, copied to <paramref name="destination"/> (at
    /// least <see cref="ReadAheadSize"/> long). <paramref name="token"/> aborts the connection: the read cannot be
    /// cancelled alone, and a connection whose response is late is not reused anyway.
    /// </summary>
    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveReadAheadAsync(Memory<byte> destination, CancellationToken token)
    {
        var pending = _readAhead;
        _readAhead = default;
        _readingAhead = false;
        int read;
        using (token.UnsafeRegister(static connection => ((UpstreamConnection)connection!).Abort(), this))
        {
            try
            {
                read = await pending;
            }
            catch (Exception e) when (token.IsCancellationRequested && e is SocketException or ObjectDisposedException)
            {
                throw new OperationCanceledException("The response did not start in time.", e, token);
            }
        }

        _readAheadBuffer.AsSpan(0, read).CopyTo(destination.Span);
        return read;
    }

    /// <summary>Closes with a reset (no lingering FIN handshake): the exchange failed and the upstream must know now.</summary>
    public void Abort()
    {
        if (_epoll is not null)
        {
            _epoll.Abort();
            return;
        }

        try
        {
            _socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }

        _socket.Dispose();
    }

    public void Dispose()
    {
        if (_epoll is not null)
        {
            _epoll.Dispose();
        }
        else
        {
            _socket.Dispose();
        }
    }

    private static ValueTask Sent(ValueTask<int> sending) =>
        sending.IsCompletedSuccessfully ? ValueTask.CompletedTask : SentLaterAsync(sending);

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder))]
    private static async ValueTask SentLaterAsync(ValueTask<int> sending) => await sending;
}

/// <summary>
/// The idle connections to one upstream address (<c>http://host:port</c>): a stack, so the most recently used
/// connection goes out first and the others expire. At most <see cref="UpstreamConnectionPool.MaxIdlePerEndpoint"/> wait.
/// </summary>
internal sealed class UpstreamEndpoint
{
    private readonly Lock _gate = new();
    private readonly UpstreamConnection[] _idle;
    private int _count;
    private long _lastReturned;
    private bool _retired;

    public UpstreamEndpoint(string prefix, int maxIdle)
    {
        var authority = new Uri(prefix, UriKind.Absolute);
        Address = new DnsEndPoint(authority.IdnHost, authority.Port);
        _idle = new UpstreamConnection[maxIdle];
    }

    public DnsEndPoint Address { get; }

    public int IdleCount => Volatile.Read(ref _count);

    public UpstreamConnection? TryTake()
    {
        lock (_gate)
        {
            if (_count == 0)
            {
                return null;
            }

            var connection = _idle[--_count];
            _idle[_count] = null!;
            return connection;
        }
    }

    /// <returns>False when the pool is full: the caller closes the connection.</returns>
    public bool TryReturn(UpstreamConnection connection)
    {
        lock (_gate)
        {
            if (_count == _idle.Length || _retired)
            {
                return false;
            }

            _lastReturned = connection.IdleSince;
            _idle[_count++] = connection;
            return true;
        }
    }

    /// <summary>
    /// Marks an endpoint with no idle connection and no return since <paramref name="cutoff"/> as retired (a pod that
    /// went away): it takes no more connections, and the pool forgets it.
    /// </summary>
    public bool TryRetire(long cutoff)
    {
        lock (_gate)
        {
            _retired = _count == 0 && _lastReturned < cutoff;
            return _retired;
        }
    }

    /// <summary>Closes the connections idle since before <paramref name="cutoff"/> (the oldest are at the bottom).</summary>
    /// <returns>How many were closed.</returns>
    public int CloseIdleSince(long cutoff, bool all)
    {
        List<UpstreamConnection>? expired = null;
        lock (_gate)
        {
            var kept = 0;
            for (var i = 0; i < _count; i++)
            {
                if (all || _idle[i].IdleSince < cutoff)
                {
                    (expired ??= []).Add(_idle[i]);
                }
                else
                {
                    _idle[kept++] = _idle[i];
                }
            }

            Array.Clear(_idle, kept, _count - kept);
            _count = kept;
        }

        expired?.ForEach(c => c.Dispose());
        return expired?.Count ?? 0;
    }
}

/// <summary>
/// The lean path's upstream connections, pooled per address. An idle connection is closed after
/// <see cref="IdleTimeout"/> (Go's and .NET's default, 90 s), or at once if the upstream closed it or sent something
/// while it was idle (found when it is taken). At most <see cref="MaxIdlePerEndpoint"/> wait per address
/// (<c>KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST</c>) and <see cref="MaxIdleTotal"/> in all (<c>KEDA_HTTP_MAX_IDLE_CONNS</c>);
/// one returned beyond either is closed.
/// </summary>
internal sealed class UpstreamConnectionPool : IDisposable
{
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(90);

    /// <summary>What <c>KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST=0</c> means, as in Go's transport.</summary>
    public const int DefaultMaxIdlePerEndpoint = 2;

    private readonly ConcurrentDictionary<string, UpstreamEndpoint> _endpoints = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    private readonly ITimer _sweeper;
    private long _opened;
    private int _idleTotal;

    /// <param name="maxIdlePerEndpoint">At least 1.</param>
    /// <param name="maxIdleTotal">Zero is no limit.</param>
    public UpstreamConnectionPool(int maxIdlePerEndpoint, int maxIdleTotal, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxIdlePerEndpoint, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxIdleTotal);
        MaxIdlePerEndpoint = maxIdlePerEndpoint;
        MaxIdleTotal = maxIdleTotal;
        _time = time;
        _sweeper = time.CreateTimer(static pool => ((UpstreamConnectionPool)pool!).Sweep(), this, IdleTimeout / 3, IdleTimeout / 3);
    }

    public int MaxIdlePerEndpoint { get; }

    /// <summary>Idle connections kept across all addresses; zero is no limit.</summary>
    public int MaxIdleTotal { get; }

    /// <summary>Idle connections across all addresses now.</summary>
    public int IdleCount => Volatile.Read(ref _idleTotal);

    /// <summary>Connections opened since start.</summary>
    public long OpenedCount => Interlocked.Read(ref _opened);

    public void Opened() => Interlocked.Increment(ref _opened);

    /// <summary>The endpoint of a destination prefix (parsed once per distinct prefix).</summary>
    public UpstreamEndpoint For(string prefix) =>
        _endpoints.TryGetValue(prefix, out var endpoint)
            ? endpoint
            : _endpoints.GetOrAdd(prefix, static (p, max) => new UpstreamEndpoint(p, max), MaxIdlePerEndpoint);

    /// <summary>An idle connection that is still usable, or null.</summary>
    public UpstreamConnection? TakeIdle(UpstreamEndpoint endpoint)
    {
        var cutoff = _time.GetTimestamp() - (long)(IdleTimeout.TotalSeconds * _time.TimestampFrequency);
        while (endpoint.TryTake() is { } connection)
        {
            Interlocked.Decrement(ref _idleTotal);
            if (connection.IdleSince >= cutoff && !connection.ReadAheadEnded)
            {
                connection.Reused = true;
                return connection;
            }

            connection.Dispose();
        }

        return null;
    }

    public void Return(UpstreamConnection connection)
    {
        connection.IdleSince = _time.GetTimestamp();
        // Before it is visible to other requests.
        connection.StartReadAhead();
        // Counted before it is visible, so that the total never exceeds the cap, even for a moment.
        var total = Interlocked.Increment(ref _idleTotal);
        if ((MaxIdleTotal > 0 && total > MaxIdleTotal) || !connection.Endpoint.TryReturn(connection))
        {
            Interlocked.Decrement(ref _idleTotal);
            connection.Dispose();
        }
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        foreach (var endpoint in _endpoints.Values)
        {
            Interlocked.Add(ref _idleTotal, -endpoint.CloseIdleSince(0, all: true));
        }
    }

    private void Sweep()
    {
        var cutoff = _time.GetTimestamp() - (long)(IdleTimeout.TotalSeconds * _time.TimestampFrequency);
        foreach (var endpoint in _endpoints.Values)
        {
            Interlocked.Add(ref _idleTotal, -endpoint.CloseIdleSince(cutoff, all: false));
        }

        foreach (var (prefix, endpoint) in _endpoints)
        {
            if (endpoint.TryRetire(cutoff))
            {
                _endpoints.TryRemove(new KeyValuePair<string, UpstreamEndpoint>(prefix, endpoint));
            }
        }
    }
}
