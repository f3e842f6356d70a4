using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Differential;

/// <summary>
/// The upstream behind both proxies: records each request as it arrived (the request line's bytes, every header line
/// in order, how the body was framed, the body and any trailer lines), answers 200 <c>ok</c> and closes the connection.
/// It answers <c>Expect: 100-continue</c> with a 100 first, as a server that wants the body does, so neither proxy
/// waits on a timer for it. It rejects nothing: what a proxy sends is what a test sees.
/// </summary>
internal sealed class WireRecorder : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<WireRequest> _requests = [];
    private readonly Task _loop;

    private WireRecorder(TcpListener listener)
    {
        _listener = listener;
        _loop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static WireRecorder Start()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new WireRecorder(listener);
    }

    /// <summary>The requests recorded since the last call, in arrival order; the record is then empty.</summary>
    public IReadOnlyList<WireRequest> Take()
    {
        lock (_requests)
        {
            WireRequest[] taken = [.. _requests];
            _requests.Clear();
            return taken;
        }
    }

    private async Task AcceptLoopAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                connections.Add(ServeAsync(client));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var reader = new ByteReader(stream, _stop.Token);
                var head = Encoding.Latin1.GetString(await reader.ReadUntilAsync("\r\n\r\n"u8.ToArray())).Split("\r\n");
                var headers = new List<KeyValuePair<string, string>>();
                foreach (var line in head.Skip(1))
                {
                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    headers.Add(colon < 0 ? new(line, "(no colon)") : new(line[..colon], line[(colon + 1)..].Trim(' ', '\t')));
                }

                var request = new WireRequest(head[0], headers, "none", [], []);
                if (request.Values("Expect").Any(v => v.Equals("100-continue", StringComparison.OrdinalIgnoreCase)))
                {
                    await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray(), _stop.Token);
                }

                if (request.Values("Transfer-Encoding").Any(v => v.Contains("chunked", StringComparison.OrdinalIgnoreCase)))
                {
                    request = request with { Framing = "chunked" };
                    request = await ReadChunkedAsync(reader, request);
                }
                else if (request.Values("Content-Length") is [var length])
                {
                    request = request with
                    {
                        Framing = "content-length " + length,
                        Body = await reader.ReadExactlyAsync(int.Parse(length, CultureInfo.InvariantCulture)),
                    };
                }

                lock (_requests)
                {
                    _requests.Add(request);
                }

                var reply = request.RequestLine.StartsWith("HEAD ", StringComparison.Ordinal)
                    ? "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n"u8.ToArray()
                    : "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"u8.ToArray();
                await stream.WriteAsync(reply, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or EndOfStreamException or FormatException)
            {
                // A proxy that gave up on this connection, or one this recorder cannot read: nothing recorded.
            }
        }
    }

    /// <summary>The body of a chunked request (chunk extensions dropped) and its trailer lines.</summary>
    private static async Task<WireRequest> ReadChunkedAsync(ByteReader reader, WireRequest request)
    {
        var body = new List<byte>();
        while (true)
        {
            var sizeLine = Encoding.Latin1.GetString(await reader.ReadUntilAsync("\r\n"u8.ToArray()));
            var size = int.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                var trailers = new List<string>();
                while (await reader.ReadUntilAsync("\r\n"u8.ToArray()) is { Length: > 0 } trailer)
                {
                    trailers.Add(Encoding.Latin1.GetString(trailer));
                }

                return request with { Body = [.. body], Trailers = trailers };
            }

            body.AddRange(await reader.ReadExactlyAsync(size));
            await reader.ReadUntilAsync("\r\n"u8.ToArray());
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}

/// <summary>A request as it reached the upstream.</summary>
/// <param name="RequestLine">The request line, byte for byte (Latin-1).</param>
/// <param name="Headers">Every header line in order, names as sent.</param>
/// <param name="Framing"><c>none</c>, <c>chunked</c> or <c>content-length N</c>.</param>
/// <param name="Body">The body, de-chunked.</param>
/// <param name="Trailers">The trailer lines of a chunked body.</param>
internal sealed record WireRequest(string RequestLine, IReadOnlyList<KeyValuePair<string, string>> Headers, string Framing, byte[] Body, IReadOnlyList<string> Trailers)
{
    public string[] Values(string name) => [.. Headers.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value)];
}
