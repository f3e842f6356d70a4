using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>HTTP/1.1 written by hand over a TCP socket: for requests no HTTP client would send.</summary>
internal static class RawHttp
{
    /// <summary>
    /// Writes <paramref name="request"/> (ASCII, sent as is) on a new connection and reads one response: none of a body
    /// for 1xx, 204 and 304 and for HEAD requests, else by chunks, by Content-Length or to EOF.
    /// </summary>
    public static Task<RawResponse> SendAsync(int port, string request) => SendAsync(port, Encoding.ASCII.GetBytes(request));

    public static async Task<RawResponse> SendAsync(int port, byte[] request)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
        var stream = client.GetStream();
        await stream.WriteAsync(request, timeout.Token);
        var reader = new ByteReader(stream, timeout.Token);

        var head = Encoding.ASCII.GetString(await reader.ReadUntilAsync("\r\n\r\n"u8.ToArray())).Split("\r\n");
        var status = int.Parse(head[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in head.Skip(1).Where(l => l.Length > 0))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon];
            headers[name] = headers.TryGetValue(name, out var prior) ? prior + "|" + line[(colon + 1)..].Trim() : line[(colon + 1)..].Trim();
        }

        byte[] body;
        var isHead = Encoding.ASCII.GetString(request).StartsWith("HEAD ", StringComparison.Ordinal);
        if (isHead || status < 200 || status is 204 or 304)
        {
            body = [];
        }
        else if (headers.TryGetValue("Transfer-Encoding", out var coding) && coding.Contains("chunked", StringComparison.OrdinalIgnoreCase))
        {
            body = await reader.ReadChunkedAsync();
        }
        else if (headers.TryGetValue("Content-Length", out var lengthText))
        {
            body = await reader.ReadExactlyAsync(int.Parse(lengthText, CultureInfo.InvariantCulture));
        }
        else
        {
            body = await reader.ReadToEndAsync();
        }

        return new RawResponse(status, headers, Encoding.UTF8.GetString(body), head[0]);
    }
}

internal sealed record RawResponse(int Status, Dictionary<string, string> Headers, string Body, string StatusLine = "");

/// <summary>Reads an HTTP/1.1 byte stream piece by piece (heads, chunked bodies) for the raw test peers.</summary>
internal sealed class ByteReader(Stream stream, CancellationToken cancellationToken)
{
    private readonly byte[] _buffer = new byte[16384];
    private int _start;
    private int _end;

    /// <summary>The bytes up to <paramref name="delimiter"/>, which is consumed and not returned.</summary>
    public async Task<byte[]> ReadUntilAsync(byte[] delimiter)
    {
        var collected = new List<byte>();
        while (true)
        {
            if (_start == _end && !await FillAsync())
            {
                throw new EndOfStreamException("the connection closed before the expected data: " + Encoding.ASCII.GetString([.. collected]));
            }

            collected.Add(_buffer[_start++]);
            if (collected.Count >= delimiter.Length && CollectionsMarshal.AsSpan(collected)[^delimiter.Length..].SequenceEqual(delimiter))
            {
                return [.. collected.GetRange(0, collected.Count - delimiter.Length)];
            }
        }
    }

    public async Task<byte[]> ReadExactlyAsync(int count)
    {
        var result = new byte[count];
        var filled = 0;
        while (filled < count)
        {
            if (_start == _end && !await FillAsync())
            {
                throw new EndOfStreamException($"the connection closed after {filled} of {count} bytes");
            }

            var take = Math.Min(count - filled, _end - _start);
            _buffer.AsSpan(_start, take).CopyTo(result.AsSpan(filled));
            _start += take;
            filled += take;
        }

        return result;
    }

    public async Task<byte[]> ReadChunkedAsync()
    {
        var body = new List<byte>();
        while (true)
        {
            var sizeLine = Encoding.ASCII.GetString(await ReadUntilAsync("\r\n"u8.ToArray()));
            var size = int.Parse(sizeLine.Split(';')[0].Trim(), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                // Trailers, then the empty line.
                while ((await ReadUntilAsync("\r\n"u8.ToArray())).Length > 0)
                {
                }

                return [.. body];
            }

            body.AddRange(await ReadExactlyAsync(size));
            await ReadUntilAsync("\r\n"u8.ToArray());
        }
    }

    public async Task<byte[]> ReadToEndAsync()
    {
        var body = new List<byte>();
        do
        {
            body.AddRange(_buffer.AsSpan(_start, _end - _start));
            _start = _end;
        }
        while (await FillAsync());

        return [.. body];
    }

    private async Task<bool> FillAsync()
    {
        _start = 0;
        _end = await stream.ReadAsync(_buffer, cancellationToken);
        return _end > 0;
    }
}
