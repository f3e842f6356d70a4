using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Updraft.Interceptor.Transport;

/// <summary>The few libc calls the epoll transport makes: epoll itself, and reads and writes on non-blocking sockets.</summary>
internal static unsafe partial class LinuxSockets
{
    public const uint EpollIn = 0x001;
    public const uint EpollOut = 0x004;
    public const uint EpollErr = 0x008;
    public const uint EpollHup = 0x010;
    public const uint EpollRdHup = 0x2000;
    public const uint EpollEdgeTriggered = 1u << 31;

    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int EpollCloexec = 0x80000;
    private const int MsgNoSignal = 0x4000;
    private const int MsgPeek = 0x2;
    private const int MsgDontWait = 0x40;

    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const int EINPROGRESS = 115;

    /// <summary>
    /// <c>struct epoll_event</c> is packed on x86-64 (12 bytes, the data at offset 4) and naturally aligned elsewhere
    /// (16 bytes, the data at offset 8).
    /// </summary>
    public static readonly int EventSize = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 12 : 16;

    private static readonly int s_dataOffset = RuntimeInformation.ProcessArchitecture == Architecture.X64 ? 4 : 8;

    /// <summary>Whether this process can use the transport (Linux on x86-64 or arm64).</summary>
    public static bool IsSupported =>
        OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.Arm64;

    public static int CreateEpoll()
    {
        var fd = epoll_create1(EpollCloexec);
        return fd >= 0 ? fd : throw Error("epoll_create1", $" Set {TransportSetting.Variable}=sockets to run on .NET's sockets instead.");
    }

    public static void Add(int epoll, int fd, uint events, ulong data)
    {
        var buffer = stackalloc byte[16];
        *(uint*)buffer = events;
        *(ulong*)(buffer + s_dataOffset) = data;
        if (epoll_ctl(epoll, EpollCtlAdd, fd, buffer) != 0)
        {
            throw Error("epoll_ctl");
        }
    }

    /// <summary>Removes a socket; one already closed is gone from the set anyway.</summary>
    public static void Remove(int epoll, int fd)
    {
        var buffer = stackalloc byte[16];
        _ = epoll_ctl(epoll, EpollCtlDel, fd, buffer);
    }

    /// <summary>Waits for events without a time limit; returns how many arrived (0 when a signal interrupted the wait).</summary>
    public static int Wait(int epoll, byte* events, int capacity)
    {
        var count = epoll_wait(epoll, events, capacity, -1);
        if (count >= 0)
        {
            return count;
        }

        return Marshal.GetLastPInvokeError() == EINTR ? 0 : throw Error("epoll_wait");
    }

    public static uint EventFlags(byte* events, int index) => *(uint*)(events + (index * EventSize));

    public static ulong EventData(byte* events, int index) => *(ulong*)(events + (index * EventSize) + s_dataOffset);

    /// <summary>Reads what is there; <c>-1</c> when nothing is (<c>EAGAIN</c>), 0 at the peer's FIN.</summary>
    public static int Receive(SafeHandle socket, Span<byte> destination)
    {
        using var descriptor = new Descriptor(socket);
        fixed (byte* pointer = destination)
        {
            nint read;
            while ((read = recv(descriptor.Fd, pointer, destination.Length, 0)) < 0 && Interrupted())
            {
            }

            return (int)Outcome(read);
        }
    }

    /// <summary>Whether a read now would return something (bytes, the peer's FIN or an error) rather than wait.</summary>
    public static bool HasPendingInput(SafeHandle socket)
    {
        try
        {
            using var descriptor = new Descriptor(socket);
            byte probe;
            var read = recv(descriptor.Fd, &probe, 1, MsgPeek | MsgDontWait);
            return read >= 0 || Marshal.GetLastPInvokeError() != EAGAIN;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }

    /// <summary>Writes what the send buffer takes; <c>-1</c> when it takes nothing now (<c>EAGAIN</c>).</summary>
    public static int Send(SafeHandle socket, ReadOnlySpan<byte> source)
    {
        using var descriptor = new Descriptor(socket);
        fixed (byte* pointer = source)
        {
            nint sent;
            while ((sent = send(descriptor.Fd, pointer, source.Length, MsgNoSignal)) < 0 && Interrupted())
            {
            }

            return (int)Outcome(sent);
        }
    }

    /// <summary>
    /// Writes up to <paramref name="count"/> pieces in one call (<c>sendmsg</c>); <c>-1</c> when the send buffer takes
    /// nothing now. The pieces must stay pinned for the call: <paramref name="pieces"/> holds their addresses.
    /// </summary>
    public static long SendPieces(SafeHandle socket, IoVector* pieces, int count)
    {
        using var descriptor = new Descriptor(socket);
        MessageHeader header = default;
        header.Vectors = pieces;
        header.VectorCount = (nuint)count;
        nint sent;
        while ((sent = sendmsg(descriptor.Fd, &header, MsgNoSignal)) < 0 && Interrupted())
        {
        }

        return Outcome(sent);
    }

    /// <summary>Starts a non-blocking connect; false while it is in progress (writable when it ends).</summary>
    public static bool StartConnect(SafeHandle socket, System.Net.SocketAddress address)
    {
        using var descriptor = new Descriptor(socket);
        fixed (byte* pointer = address.Buffer.Span)
        {
            if (connect(descriptor.Fd, pointer, (uint)address.Size) == 0)
            {
                return true;
            }
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == EINPROGRESS || errno == EINTR ? false : throw SocketError(errno);
    }

    /// <summary>.NET's name for a Linux <c>errno</c> of a socket call.</summary>
    public static SocketException SocketError(int errno) => new((int)(errno switch
    {
        104 => System.Net.Sockets.SocketError.ConnectionReset,
        32 => System.Net.Sockets.SocketError.Shutdown,
        111 => System.Net.Sockets.SocketError.ConnectionRefused,
        110 => System.Net.Sockets.SocketError.TimedOut,
        113 => System.Net.Sockets.SocketError.HostUnreachable,
        101 => System.Net.Sockets.SocketError.NetworkUnreachable,
        107 => System.Net.Sockets.SocketError.NotConnected,
        103 => System.Net.Sockets.SocketError.ConnectionAborted,
        9 => System.Net.Sockets.SocketError.OperationAborted,
        99 => System.Net.Sockets.SocketError.AddressNotAvailable,
        _ => System.Net.Sockets.SocketError.SocketError,
    }));

    /// <summary>After a call returned -1: whether a signal interrupted it (and it is to be made again).</summary>
    private static bool Interrupted() => Marshal.GetLastPInvokeError() == EINTR;

    /// <summary>A read's or write's result: the count, -1 for <c>EAGAIN</c>, or the error thrown.</summary>
    private static long Outcome(nint result)
    {
        if (result >= 0)
        {
            return result;
        }

        var errno = Marshal.GetLastPInvokeError();
        return errno == EAGAIN ? -1 : throw SocketError(errno);
    }

    private static InvalidOperationException Error(string call, string hint = "") =>
        new($"{call} failed: errno {Marshal.GetLastPInvokeError()}.{hint}");

    /// <summary>A socket's descriptor, kept from being closed (and reused) until disposed.</summary>
    private readonly ref struct Descriptor
    {
        private readonly SafeHandle _socket;
        private readonly bool _added;

        public Descriptor(SafeHandle socket)
        {
            _socket = socket;
            socket.DangerousAddRef(ref _added);
            Fd = (int)socket.DangerousGetHandle();
        }

        public int Fd { get; }

        public void Dispose()
        {
            if (_added)
            {
                _socket.DangerousRelease();
            }
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_create1(int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_ctl(int epoll, int operation, int fd, byte* events);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int epoll_wait(int epoll, byte* events, int capacity, int timeout);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint recv(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint send(int fd, byte* buffer, nint length, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint sendmsg(int fd, MessageHeader* header, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int connect(int fd, byte* address, uint length);
}
