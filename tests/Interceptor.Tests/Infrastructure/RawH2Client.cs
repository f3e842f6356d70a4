using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>
/// HTTP/2 (h2c with prior knowledge, or h2 over TLS) written by hand: for requests no HTTP client would send (an <c>:authority</c> with an
/// impossible port, a plain <c>CONNECT</c>, an extended <c>CONNECT</c> seen frame by frame). Header blocks go out as
/// HPACK literals without indexing; responses are decoded with the static and dynamic tables (no Huffman strings,
/// which Kestrel does not send).
/// </summary>
internal sealed class RawH2Client : IAsyncDisposable
{
    private const byte Data = 0x0;
    private const byte Headers = 0x1;
    private const byte RstStream = 0x3;
    private const byte Settings = 0x4;
    private const byte Ping = 0x6;
    private const byte GoAway = 0x7;
    private const byte Continuation = 0x9;
    private const byte EndStream = 0x1;
    private const byte EndHeaders = 0x4;
    private const byte Padded = 0x8;
    private const byte Priority = 0x20;
    private const ushort EnableConnectProtocol = 0x8;

    private static readonly string[] StaticNames =
    [
        "", ":authority", ":method", ":method", ":path", ":path", ":scheme", ":scheme", ":status", ":status", ":status",
        ":status", ":status", ":status", ":status", "accept-charset", "accept-encoding", "accept-language", "accept-ranges",
        "accept", "access-control-allow-origin", "age", "allow", "authorization", "cache-control", "content-disposition",
        "content-encoding", "content-language", "content-length", "content-location", "content-range", "content-type",
        "cookie", "date", "etag", "expect", "expires", "from", "host", "if-match", "if-modified-since", "if-none-match",
        "if-range", "if-unmodified-since", "last-modified", "link", "location", "max-forwards", "proxy-authenticate",
        "proxy-authorization", "range", "referer", "refresh", "retry-after", "server", "set-cookie",
        "strict-transport-security", "transfer-encoding", "user-agent", "vary", "via", "www-authenticate",
    ];

    private static readonly Dictionary<int, string> StaticValues = new()
    {
        [2] = "GET", [3] = "POST", [4] = "/", [5] = "/index.html", [6] = "http", [7] = "https", [8] = "200", [9] = "204",
        [10] = "206", [11] = "304", [12] = "400", [13] = "404", [14] = "500", [16] = "gzip, deflate",
    };

    private readonly TcpClient _client;
    private readonly Stream _stream;
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(20));
    private readonly List<KeyValuePair<string, string>> _dynamicTable = [];
    private int _nextStreamId = 1;

    private RawH2Client(TcpClient client, Stream stream)
    {
        _client = client;
        _stream = stream;
    }

    /// <summary>Whether the server's SETTINGS allow extended CONNECT (RFC 8441).</summary>
    public bool ServerAllowsExtendedConnect { get; private set; }

    /// <summary>Connects, sends the preface and empty SETTINGS, and waits for the server's SETTINGS.</summary>
    /// <param name="port">A loopback port.</param>
    /// <param name="tls">Negotiate h2 over TLS by ALPN (the test certificate is accepted whoever issued it) instead of h2c prior knowledge.</param>
    public static async Task<RawH2Client> ConnectAsync(int port, bool tls = false)
    {
        var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port);
        Stream stream = client.GetStream();
        if (tls)
        {
            var ssl = new SslStream(stream, leaveInnerStreamOpen: false);
            await ssl.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
            {
                TargetHost = "localhost",
                ApplicationProtocols = [SslApplicationProtocol.Http2],
                RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
            });
            Assert.Equal(SslApplicationProtocol.Http2, ssl.NegotiatedApplicationProtocol);
            stream = ssl;
        }

        var h2 = new RawH2Client(client, stream);
        await h2._stream.WriteAsync("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8.ToArray(), h2._timeout.Token);
        await h2.WriteFrameAsync(Settings, 0, 0, []);
        while (true)
        {
            var frame = await h2.ReadFrameAsync();
            if (frame.Type == Settings && (frame.Flags & 0x1) == 0)
            {
                for (var i = 0; i + 6 <= frame.Payload.Length; i += 6)
                {
                    if (BinaryPrimitives.ReadUInt16BigEndian(frame.Payload.AsSpan(i)) == EnableConnectProtocol)
                    {
                        h2.ServerAllowsExtendedConnect = BinaryPrimitives.ReadUInt32BigEndian(frame.Payload.AsSpan(i + 2)) == 1;
                    }
                }

                await h2.WriteFrameAsync(Settings, 0x1, 0, []);
                return h2;
            }
        }
    }

    /// <summary>
    /// Sends one request (pseudo-headers first, in the order given) on a new stream and reads its response until the
    /// stream ends, is reset, or (with <paramref name="untilHeaders"/>) the response headers arrive.
    /// </summary>
    public async Task<H2Response> SendAsync((string Name, string Value)[] headers, bool untilHeaders = false)
    {
        var streamId = _nextStreamId;
        _nextStreamId += 2;
        var block = new List<byte>();
        foreach (var (name, value) in headers)
        {
            block.Add(0x00); // literal without indexing, new name
            AppendString(block, name);
            AppendString(block, value);
        }

        await WriteFrameAsync(Headers, EndHeaders | (untilHeaders ? 0 : EndStream), streamId, [.. block]);

        var response = new H2Response();
        var headerBlock = new List<byte>();
        while (true)
        {
            var frame = await ReadFrameAsync();
            switch (frame.Type)
            {
                case Settings when (frame.Flags & 0x1) == 0:
                    await WriteFrameAsync(Settings, 0x1, 0, []);
                    continue;
                case Ping when (frame.Flags & 0x1) == 0:
                    await WriteFrameAsync(Ping, 0x1, 0, frame.Payload);
                    continue;
                case GoAway:
                    response.GoAwayCode = (int)BinaryPrimitives.ReadUInt32BigEndian(frame.Payload.AsSpan(4));
                    return response;
            }

            if (frame.StreamId != streamId)
            {
                continue;
            }

            switch (frame.Type)
            {
                case RstStream:
                    response.ResetCode = (int)BinaryPrimitives.ReadUInt32BigEndian(frame.Payload);
                    return response;
                case Headers or Continuation:
                    headerBlock.AddRange(frame.Type == Headers ? HeaderFragment(frame) : frame.Payload);
                    if ((frame.Flags & EndHeaders) != 0)
                    {
                        foreach (var (name, value) in Decode([.. headerBlock]))
                        {
                            if (name == ":status")
                            {
                                response.Status = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture);
                            }
                            else
                            {
                                response.Headers[name] = value;
                            }
                        }

                        headerBlock.Clear();
                        if (untilHeaders && response.Status >= 200)
                        {
                            return response;
                        }
                    }

                    break;
                case Data:
                    response.Body.Append(Encoding.UTF8.GetString(Unpad(frame)));
                    break;
            }

            if ((frame.Flags & EndStream) != 0 && frame.Type is Data or Headers)
            {
                return response;
            }
        }
    }

    private static byte[] HeaderFragment(Frame frame)
    {
        var payload = Unpad(frame);
        return (frame.Flags & Priority) != 0 ? payload[5..] : payload;
    }

    private static byte[] Unpad(Frame frame) =>
        (frame.Flags & Padded) != 0 ? frame.Payload[1..^frame.Payload[0]] : frame.Payload;

    private static void AppendString(List<byte> block, string text)
    {
        var bytes = Encoding.ASCII.GetBytes(text);
        AppendInteger(block, 0x00, 7, bytes.Length);
        block.AddRange(bytes);
    }

    private static void AppendInteger(List<byte> block, byte flags, int prefixBits, int value)
    {
        var max = (1 << prefixBits) - 1;
        if (value < max)
        {
            block.Add((byte)(flags | value));
            return;
        }

        block.Add((byte)(flags | max));
        value -= max;
        while (value >= 128)
        {
            block.Add((byte)((value % 128) + 128));
            value /= 128;
        }

        block.Add((byte)value);
    }

    private List<(string Name, string Value)> Decode(byte[] block)
    {
        var fields = new List<(string, string)>();
        var i = 0;
        while (i < block.Length)
        {
            var first = block[i];
            if ((first & 0x80) != 0)
            {
                var index = ReadInteger(block, ref i, 7);
                fields.Add(Entry(index));
            }
            else if ((first & 0xC0) == 0x40)
            {
                var field = ReadLiteral(block, ref i, 6);
                _dynamicTable.Insert(0, new(field.Name, field.Value));
                fields.Add(field);
            }
            else if ((first & 0xE0) == 0x20)
            {
                var size = ReadInteger(block, ref i, 5);
                if (size == 0)
                {
                    _dynamicTable.Clear();
                }
            }
            else
            {
                fields.Add(ReadLiteral(block, ref i, 4));
            }
        }

        return fields;
    }

    private (string Name, string Value) ReadLiteral(byte[] block, ref int i, int prefixBits)
    {
        var index = ReadInteger(block, ref i, prefixBits);
        var name = index == 0 ? ReadString(block, ref i) : Entry(index).Name;
        return (name, ReadString(block, ref i));
    }

    private (string Name, string Value) Entry(int index)
    {
        if (index < StaticNames.Length)
        {
            return (StaticNames[index], StaticValues.GetValueOrDefault(index, ""));
        }

        var entry = _dynamicTable[index - StaticNames.Length];
        return (entry.Key, entry.Value);
    }

    private static string ReadString(byte[] block, ref int i)
    {
        if ((block[i] & 0x80) != 0)
        {
            throw new NotSupportedException("Huffman-coded header strings are not decoded by this test client");
        }

        var length = ReadInteger(block, ref i, 7);
        var text = Encoding.ASCII.GetString(block, i, length);
        i += length;
        return text;
    }

    private static int ReadInteger(byte[] block, ref int i, int prefixBits)
    {
        var max = (1 << prefixBits) - 1;
        var value = block[i++] & max;
        if (value < max)
        {
            return value;
        }

        var shift = 0;
        byte next;
        do
        {
            next = block[i++];
            value += (next & 0x7F) << shift;
            shift += 7;
        }
        while ((next & 0x80) != 0);

        return value;
    }

    private async Task WriteFrameAsync(byte type, int flags, int streamId, byte[] payload)
    {
        var frame = new byte[9 + payload.Length];
        frame[0] = (byte)(payload.Length >> 16);
        frame[1] = (byte)(payload.Length >> 8);
        frame[2] = (byte)payload.Length;
        frame[3] = type;
        frame[4] = (byte)flags;
        BinaryPrimitives.WriteInt32BigEndian(frame.AsSpan(5), streamId);
        payload.CopyTo(frame, 9);
        await _stream.WriteAsync(frame, _timeout.Token);
    }

    private async Task<Frame> ReadFrameAsync()
    {
        var header = new byte[9];
        await _stream.ReadExactlyAsync(header, _timeout.Token);
        var length = (header[0] << 16) | (header[1] << 8) | header[2];
        var payload = new byte[length];
        await _stream.ReadExactlyAsync(payload, _timeout.Token);
        return new Frame(header[3], header[4], BinaryPrimitives.ReadInt32BigEndian(header.AsSpan(5)) & int.MaxValue, payload);
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _client.Dispose();
        _timeout.Dispose();
    }

    private sealed record Frame(byte Type, byte Flags, int StreamId, byte[] Payload);
}

/// <summary>What <see cref="RawH2Client"/> received for one stream.</summary>
internal sealed class H2Response
{
    /// <summary>The final <c>:status</c>, or 0 when none arrived.</summary>
    public int Status { get; set; }

    public Dictionary<string, string> Headers { get; } = new(StringComparer.Ordinal);

    public StringBuilder Body { get; } = new();

    /// <summary>The RST_STREAM error code when the stream was reset.</summary>
    public int? ResetCode { get; set; }

    /// <summary>The GOAWAY error code when the connection was closed.</summary>
    public int? GoAwayCode { get; set; }

    public override string ToString() => $"status {Status}, reset {ResetCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}, goaway {GoAwayCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "-"}, body {Body}";
}
