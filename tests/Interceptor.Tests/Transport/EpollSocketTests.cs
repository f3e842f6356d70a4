using System.Buffers;
using System.Net;
using System.Net.Sockets;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Interceptor.Transport;

namespace Updraft.Interceptor.Tests.Transport;

/// <summary>The epoll transport's socket against real loopback peers (.NET sockets on the other end).</summary>
public sealed class EpollSocketTests : IDisposable
{
    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);

    public EpollSocketTests()
    {
        // The project's machines and images are Linux on x86-64 or arm64.
        Assert.True(LinuxSockets.IsSupported);
        _listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _listener.Listen(512);
    }

    public void Dispose() => _listener.Dispose();

    [Fact]
    public async Task RoundTrip_BytesArriveInBothDirections()
    {
        var (client, peer) = await PairAsync();
        using (client)
        using (peer)
        {
            await client.SendAsync("ping"u8.ToArray(), CancellationToken.None);
            Assert.Equal("ping", await ReadTextAsync(peer, 4));

            var buffer = new byte[64];
            var receiving = client.ReceiveAsync(buffer, CancellationToken.None);
            Assert.False(receiving.IsCompleted, "nothing was sent yet, so the read waits");
            await peer.SendAsync("pong"u8.ToArray());
            Assert.Equal(4, await receiving);
            Assert.Equal("pong", System.Text.Encoding.ASCII.GetString(buffer, 0, 4));
        }
    }

    [Fact]
    public async Task Receive_AtThePeersFin_ReturnsZero()
    {
        var (client, peer) = await PairAsync();
        using (client)
        {
            var receiving = client.ReceiveAsync(new byte[16], CancellationToken.None);
            peer.Shutdown(SocketShutdown.Send);
            Assert.Equal(0, await receiving.AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            peer.Dispose();
        }
    }

    [Fact]
    public async Task Send_LargerThanTheSocketBuffers_WaitsForRoomAndDeliversEveryByteInOrder()
    {
        var (client, peer) = await PairAsync();
        using (client)
        using (peer)
        {
            var payload = new byte[8 * 1024 * 1024];
            new Random(7).NextBytes(payload);
            var sending = client.SendAsync(payload, CancellationToken.None).AsTask();
            Assert.False(sending.IsCompleted, "8 MiB does not fit the loopback buffers before the peer reads");

            var received = await ReadExactlyAsync(peer, payload.Length);
            await sending.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(payload.AsSpan().SequenceEqual(received));
        }
    }

    [Fact]
    public async Task Send_OfAManySegmentSequence_DeliversThemInOrder()
    {
        var (client, peer) = await PairAsync();
        using (client)
        using (peer)
        {
            // 100 segments: more than one sendmsg call takes (32), and large enough in total to wait for room too.
            var segments = Enumerable.Range(0, 100).Select(i => Enumerable.Repeat((byte)i, 20_000 + i).ToArray()).ToArray();
            var sequence = Segments(segments);
            var sending = client.SendAsync(sequence, CancellationToken.None).AsTask();

            var received = await ReadExactlyAsync(peer, (int)sequence.Length);
            await sending.WaitAsync(TimeSpan.FromSeconds(10));
            Assert.True(segments.SelectMany(s => s).ToArray().AsSpan().SequenceEqual(received));
        }
    }

    [Fact]
    public async Task Receive_Cancelled_ThrowsAndLeavesTheSocketUsable()
    {
        var (client, peer) = await PairAsync();
        using (client)
        using (peer)
        {
            using var cancel = new CancellationTokenSource();
            var buffer = new byte[16];
            var receiving = client.ReceiveAsync(buffer, cancel.Token).AsTask();
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => receiving);

            await peer.SendAsync("late"u8.ToArray());
            Assert.Equal(4, await client.ReceiveAsync(buffer, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(10)));
            Assert.Equal("late", System.Text.Encoding.ASCII.GetString(buffer, 0, 4));
        }
    }

    [Fact]
    public async Task Dispose_WhileAReceiveWaits_EndsTheReceiveWithAnError()
    {
        var (client, peer) = await PairAsync();
        using (peer)
        {
            var receiving = client.ReceiveAsync(new byte[16], CancellationToken.None).AsTask();
            client.Dispose();
            await Assert.ThrowsAsync<ObjectDisposedException>(() => receiving.WaitAsync(TimeSpan.FromSeconds(10)));
            await Assert.ThrowsAsync<ObjectDisposedException>(async () => await client.SendAsync("x"u8.ToArray(), CancellationToken.None));
        }
    }

    [Fact]
    public async Task Connect_ToAClosedPort_IsRefused()
    {
        var port = TestUpstream.FreePort();
        var refused = await Assert.ThrowsAsync<SocketException>(async () => await EpollSocket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), CancellationToken.None));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
    }

    [Fact]
    public async Task Connect_OverIpv6_Works()
    {
        using var listener = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.IPv6Loopback, 0));
        listener.Listen(1);
        var accepting = listener.AcceptAsync();
        using var client = await EpollSocket.ConnectAsync((IPEndPoint)listener.LocalEndPoint!, CancellationToken.None);
        using var peer = await accepting;
        await client.SendAsync("six"u8.ToArray(), CancellationToken.None);
        Assert.Equal("six", await ReadTextAsync(peer, 3));
    }

    [Fact]
    public async Task HasPendingInput_TellsAnIdleConnectionFromOneThePeerWroteToOrClosed()
    {
        var (client, peer) = await PairAsync();
        using (client)
        {
            await peer.SendAsync("response"u8.ToArray());
            var buffer = new byte[64];
            Assert.Equal(8, await client.ReceiveAsync(buffer, CancellationToken.None));
            Assert.False(client.HasPendingInput(), "everything was read");

            peer.Dispose();
            await TestInterceptor.WaitUntilAsync(() => Task.FromResult(client.HasPendingInput()), "the peer's close is seen on the idle connection");
        }
    }

    [Fact]
    public async Task ManyConnectionsAtOnce_EachGetsItsOwnBytes()
    {
        // More than the loops' first slot tables (64), opened and closed concurrently, so slots are reused while
        // events for closed sockets may still be in flight. Each has its own listener, so accepts cannot cross.
        await Parallel.ForAsync(0, 300, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
        {
            using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            listener.Listen(1);
            var (client, peer) = await PairAsync(listener);
            using (client)
            using (peer)
            {
                var message = System.Text.Encoding.ASCII.GetBytes($"message {i:D4}");
                await client.SendAsync(message, CancellationToken.None);
                Assert.Equal($"message {i:D4}", await ReadTextAsync(peer, message.Length));
                await peer.SendAsync(message);
                var echo = new byte[message.Length];
                var read = 0;
                while (read < echo.Length)
                {
                    read += await client.ReceiveAsync(echo.AsMemory(read), CancellationToken.None);
                }

                Assert.Equal(message, echo);
            }
        });
    }

    private Task<(EpollSocket Client, Socket Peer)> PairAsync() => PairAsync(_listener);

    private static async Task<(EpollSocket Client, Socket Peer)> PairAsync(Socket listener)
    {
        var accepting = listener.AcceptAsync();
        var client = await EpollSocket.ConnectAsync((IPEndPoint)listener.LocalEndPoint!, CancellationToken.None);
        return (client, await accepting);
    }

    private static async Task<string> ReadTextAsync(Socket socket, int length) =>
        System.Text.Encoding.ASCII.GetString(await ReadExactlyAsync(socket, length));

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int length)
    {
        var buffer = new byte[length];
        var read = 0;
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (read < length)
        {
            var n = await socket.ReceiveAsync(buffer.AsMemory(read, Math.Min(64 * 1024, length - read)), SocketFlags.None, deadline.Token);
            Assert.NotEqual(0, n);
            read += n;
        }

        return buffer;
    }

    private static ReadOnlySequence<byte> Segments(byte[][] arrays)
    {
        var first = new Segment(arrays[0], 0);
        var last = first;
        foreach (var array in arrays.Skip(1))
        {
            last = last.Append(array);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
