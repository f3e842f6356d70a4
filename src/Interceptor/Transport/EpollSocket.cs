using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Updraft.Interceptor.Forwarding.Pooling;

namespace Updraft.Interceptor.Transport;

/// <summary>
/// A connected, non-blocking TCP socket served by an <see cref="EpollLoop"/> instead of .NET's socket engine. The
/// difference is one rule: a read is tried only when the loop saw data arrive since the last read found the socket
/// drained, so a request/response exchange costs one <c>recv</c> per message instead of two (.NET tries every read at
/// once and fails with <c>EAGAIN</c> first). The <see cref="Socket"/> keeps owning the descriptor and its options.
/// </summary>
internal sealed class EpollSocket : IDisposable
{
    private const int MaxPieces = 32;

    private static readonly ObjectDisposedException s_disposed = new(nameof(EpollSocket));

    private EpollLoop? _loop;
    private int _slot;
    private int _disposed;

    /// <summary>Wraps a connected socket and registers it.</summary>
    public EpollSocket(Socket socket)
        : this(socket, connecting: false)
    {
    }

    /// <param name="connecting">
    /// The socket's connect is in progress: it is registered only now, because epoll reports a socket that never
    /// connected as hung up, and its first write event is the end of the connect.
    /// </param>
    private EpollSocket(Socket socket, bool connecting)
    {
        Socket = socket;
        socket.Blocking = false;
        if (connecting)
        {
            Write.Drained(Write.Snapshot());
        }

        EpollEngine.Pick().Register(this);
    }

    public Socket Socket { get; }

    public SafeHandle Handle => Socket.SafeHandle;

    public Readiness Read { get; } = new();

    public Readiness Write { get; } = new();

    /// <summary>Set by the loop at registration; events carrying another generation are for a previous socket.</summary>
    public uint Generation { get; private set; }

    public void Registered(EpollLoop loop, int slot, uint generation)
    {
        _loop = loop;
        _slot = slot;
        Generation = generation;
    }

    /// <summary>Called on the loop thread with the event's flags.</summary>
    public void OnEvents(uint flags)
    {
        const uint Failed = LinuxSockets.EpollErr | LinuxSockets.EpollHup;
        if ((flags & (LinuxSockets.EpollRdHup | Failed)) != 0)
        {
            Read.SignalEnd();
        }
        else if ((flags & LinuxSockets.EpollIn) != 0)
        {
            Read.Signal();
        }

        if ((flags & Failed) != 0)
        {
            Write.SignalEnd();
        }
        else if ((flags & LinuxSockets.EpollOut) != 0)
        {
            Write.Signal();
        }
    }

    /// <summary>A new TCP socket (no delay) connected to <paramref name="address"/>.</summary>
    public static async ValueTask<EpollSocket> ConnectAsync(IPEndPoint address, CancellationToken token)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true, Blocking = false };
        EpollSocket? connection = null;
        try
        {
            var connected = LinuxSockets.StartConnect(socket.SafeHandle, address.Serialize());
            connection = new EpollSocket(socket, connecting: !connected);
            if (!connected)
            {
                await connection.Write.WaitAsync(token);
                ThrowIfClosed(connection.Write);
                // .NET gives SO_ERROR as a SocketError already.
                var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
                if (error != SocketError.Success)
                {
                    throw new SocketException((int)error);
                }
            }

            return connection;
        }
        catch
        {
            if (connection is null)
            {
                socket.Dispose();
            }
            else
            {
                connection.Dispose();
            }

            throw;
        }
    }

    /// <summary>
    /// Reads into <paramref name="destination"/> without waiting: the byte count, 0 at the peer's FIN, or -1 when
    /// nothing is there (the next <see cref="Readiness.WaitAsync"/> on <see cref="Read"/> then waits for data).
    /// </summary>
    public int TryReceive(Span<byte> destination)
    {
        ThrowIfClosed(Read);
        var snapshot = Read.Snapshot();
        var read = LinuxSockets.Receive(Handle, destination);
        if (read < destination.Length && read != 0)
        {
            // Short or nothing: the receive queue was empty at the call, and data that comes later raises an event.
            Read.Drained(snapshot);
        }

        return read;
    }

    /// <summary>Reads at least one byte, or 0 at the peer's FIN.</summary>
    public ValueTask<int> ReceiveAsync(Memory<byte> destination, CancellationToken token)
    {
        if (Read.MaybeReady && !token.IsCancellationRequested)
        {
            var read = TryReceive(destination.Span);
            if (read >= 0)
            {
                return new ValueTask<int>(read);
            }
        }

        return ReceiveSlowAsync(destination, token);
    }

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveSlowAsync(Memory<byte> destination, CancellationToken token)
    {
        while (true)
        {
            await Read.WaitAsync(token);
            var read = TryReceive(destination.Span);
            if (read >= 0)
            {
                return read;
            }
        }
    }

    /// <summary>Sends all of <paramref name="source"/>.</summary>
    public ValueTask SendAsync(ReadOnlyMemory<byte> source, CancellationToken token)
    {
        ThrowIfClosed(Write);
        var snapshot = Write.Snapshot();
        var sent = LinuxSockets.Send(Handle, source.Span);
        if (sent == source.Length)
        {
            return ValueTask.CompletedTask;
        }

        Write.Drained(snapshot);
        return SendRestAsync(new ReadOnlySequence<byte>(source[Math.Max(sent, 0)..]), token);
    }

    /// <summary>Sends all of <paramref name="source"/>, up to <see cref="MaxPieces"/> segments per system call.</summary>
    public ValueTask SendAsync(ReadOnlySequence<byte> source, CancellationToken token)
    {
        if (source.IsSingleSegment)
        {
            return SendAsync(source.First, token);
        }

        ThrowIfClosed(Write);
        var snapshot = Write.Snapshot();
        var sent = SendPieces(source, out var offered);
        if (sent == source.Length)
        {
            return ValueTask.CompletedTask;
        }

        if (sent < offered)
        {
            // The send buffer is full; a shorter count because only MaxPieces segments were offered is not.
            Write.Drained(snapshot);
        }

        return SendRestAsync(source.Slice(Math.Max(sent, 0)), token);
    }

    /// <summary>What the first attempt left: each send waits for room first.</summary>
    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder))]
    private async ValueTask SendRestAsync(ReadOnlySequence<byte> source, CancellationToken token)
    {
        while (!source.IsEmpty)
        {
            await Write.WaitAsync(token);
            ThrowIfClosed(Write);
            var snapshot = Write.Snapshot();
            var sent = SendPieces(source, out var offered);
            if (sent < offered)
            {
                Write.Drained(snapshot);
            }

            source = source.Slice(Math.Max(sent, 0));
        }
    }

    /// <remarks>
    /// Pinning is free for the segments sent here: Kestrel's pool hands out pre-pinned arrays, and a single buffer of
    /// the upstream path comes through <see cref="SendAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, which only
    /// reaches this when the send buffer is full.
    /// </remarks>
    private unsafe long SendPieces(ReadOnlySequence<byte> source, out long offered)
    {
        var pieces = stackalloc LinuxSockets.IoVector[MaxPieces];
        var handles = default(PinnedPieces);
        var count = 0;
        offered = 0;
        try
        {
            foreach (var segment in source)
            {
                if (segment.IsEmpty)
                {
                    continue;
                }

                handles[count] = segment.Pin();
                pieces[count].Base = (byte*)handles[count].Pointer;
                pieces[count].Length = (nuint)segment.Length;
                offered += segment.Length;
                if (++count == MaxPieces)
                {
                    break;
                }
            }

            return LinuxSockets.SendPieces(Handle, pieces, count);
        }
        finally
        {
            for (var i = 0; i < count; i++)
            {
                handles[i].Dispose();
            }
        }
    }

    /// <summary>Whether the peer sent something or closed since the socket was last read to its end (checked with a peek).</summary>
    public bool HasPendingInput() => Read.MaybeReady && LinuxSockets.HasPendingInput(Handle);

    /// <summary>Ends both directions (a FIN to the peer); waiting operations wake and find the socket closed.</summary>
    public void Shutdown()
    {
        try
        {
            Socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Not connected any more, or closed.
        }

        Read.Close(new SocketException((int)SocketError.Shutdown));
        Write.Close(new SocketException((int)SocketError.Shutdown));
    }

    /// <summary>Closes with a reset instead of a FIN: the exchange failed and the peer must know now.</summary>
    public void Abort()
    {
        try
        {
            Socket.LingerState = new LingerOption(true, 0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already closed.
        }

        Dispose();
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _loop?.Unregister(this, _slot);
        Read.Close(s_disposed);
        Write.Close(s_disposed);
        Socket.Dispose();
    }

    private static void ThrowIfClosed(Readiness direction)
    {
        if (direction.Closed is { } reason)
        {
            throw reason is SocketException closed ? new SocketException((int)closed.SocketErrorCode) : new ObjectDisposedException(nameof(EpollSocket));
        }
    }

    [InlineArray(MaxPieces)]
    private struct PinnedPieces
    {
        private MemoryHandle _first;
    }
}
