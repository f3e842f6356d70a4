using System.Buffers.Text;
using System.Net;
using System.Net.Sockets;

namespace Updraft.Microbenchmarks;

/// <summary>
/// An HTTP/1.1 upstream that answers every request head with the same fixed response, over plain sockets. It parses
/// nothing but the end of each head, and allocates nothing per request: with <see cref="RawHttpClient"/> on the other
/// side, whatever a proxied exchange allocates beyond a direct one is the interceptor's own.
/// </summary>
internal sealed class RawHttpUpstream : IAsyncDisposable
{
    public static readonly byte[] Body = "hello, world\n"u8.ToArray();

    private static readonly byte[] Response =
        [.. "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\n"u8, .. Body];

    private readonly Socket _listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly List<Socket> _connections = [];
    private readonly Lock _gate = new();
    private Task _accepting = Task.CompletedTask;

    public int Port => ((IPEndPoint)_listener.LocalEndPoint!).Port;

    public static RawHttpUpstream Start()
    {
        var upstream = new RawHttpUpstream();
        upstream._listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        upstream._listener.Listen(64);
        upstream._accepting = upstream.AcceptAsync();
        return upstream;
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Dispose();
        lock (_gate)
        {
            foreach (var connection in _connections)
            {
                connection.Dispose();
            }
        }

        await _accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task AcceptAsync()
    {
        while (true)
        {
            Socket connection;
            try
            {
                connection = await _listener.AcceptAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            connection.NoDelay = true;
            lock (_gate)
            {
                _connections.Add(connection);
            }

            _ = ServeAsync(connection);
        }
    }

    private static async Task ServeAsync(Socket connection)
    {
        var buffer = new byte[16 * 1024];
        var filled = 0;
        try
        {
            while (true)
            {
                var read = await connection.ReceiveAsync(buffer.AsMemory(filled), SocketFlags.None, CancellationToken.None);
                if (read == 0)
                {
                    return;
                }

                filled += read;
                int end;
                while ((end = buffer.AsSpan(0, filled).IndexOf("\r\n\r\n"u8)) >= 0)
                {
                    // Requests without bodies only: the head is the whole request.
                    await connection.SendAsync(Response.AsMemory(), SocketFlags.None, CancellationToken.None);
                    var consumed = end + 4;
                    buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
                    filled -= consumed;
                }

                if (filled == buffer.Length)
                {
                    throw new InvalidOperationException("a request head longer than the raw upstream's buffer");
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            connection.Dispose();
        }
    }
}

/// <summary>
/// A keep-alive HTTP/1.1 client that sends one fixed GET over and over and reads each response by its
/// <c>Content-Length</c>, allocating nothing per request (one state machine per <see cref="RunAsync"/> call).
/// </summary>
internal sealed class RawHttpClient : IDisposable
{
    private readonly Socket _socket = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    private readonly byte[] _request;
    private readonly byte[] _buffer = new byte[16 * 1024];
    private readonly int _port;

    public RawHttpClient(int port, string host, string path)
    {
        _port = port;
        _request = System.Text.Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
    }

    /// <summary>Sends <paramref name="count"/> requests one after another; fails on any status but 200.</summary>
    public async Task RunAsync(int count)
    {
        if (!_socket.Connected)
        {
            await _socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, _port));
        }

        for (var i = 0; i < count; i++)
        {
            await _socket.SendAsync(_request.AsMemory(), SocketFlags.None, CancellationToken.None);
            var filled = 0;
            var expected = -1;
            while (expected < 0 || filled < expected)
            {
                var read = await _socket.ReceiveAsync(_buffer.AsMemory(filled), SocketFlags.None, CancellationToken.None);
                if (read == 0)
                {
                    throw new InvalidOperationException("the connection closed mid-response");
                }

                filled += read;
                if (expected < 0)
                {
                    expected = ResponseLength(_buffer.AsSpan(0, filled));
                }
            }

            if (filled != expected)
            {
                throw new InvalidOperationException("more bytes arrived than one response");
            }
        }
    }

    public void Dispose() => _socket.Dispose();

    /// <summary>The whole response's length once its head is in, or -1 while it is not.</summary>
    private static int ResponseLength(ReadOnlySpan<byte> received)
    {
        var headEnd = received.IndexOf("\r\n\r\n"u8);
        if (headEnd < 0)
        {
            return -1;
        }

        var head = received[..headEnd];
        if (!head.StartsWith("HTTP/1.1 200 "u8))
        {
            throw new InvalidOperationException($"not a 200: {System.Text.Encoding.ASCII.GetString(head[..Math.Min(head.Length, 40)])}");
        }

        var name = head.IndexOf("\r\nContent-Length: "u8);
        if (name < 0 || !Utf8Parser.TryParse(head[(name + 18)..], out int length, out _))
        {
            throw new InvalidOperationException("a response without Content-Length");
        }

        return headEnd + 4 + length;
    }
}
