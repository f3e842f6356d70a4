using System.Buffers;

namespace Updraft.Interceptor.Forwarding.Http1;

/// <summary>How an upstream response's body is delimited (RFC 9112 §6.3).</summary>
internal enum BodyFraming
{
    /// <summary>No body: a HEAD request, or a 1xx, 204 or 304 response.</summary>
    None,

    /// <summary><c>Content-Length</c> bytes.</summary>
    ContentLength,

    /// <summary><c>Transfer-Encoding: chunked</c>.</summary>
    Chunked,

    /// <summary>Everything until the upstream closes the connection.</summary>
    UntilClose,
}

/// <summary>The result of one <see cref="ResponseHead.TryParse"/> call.</summary>
internal enum ParseStatus
{
    /// <summary>The head is not complete yet: read more and call again with the longer buffer.</summary>
    NeedMore,

    /// <summary>The head is complete: <see cref="ResponseHead.Length"/> bytes of the buffer are consumed.</summary>
    Complete,

    /// <summary>The head breaks RFC 9112 (<see cref="ResponseHead.Error"/> says how): the response cannot be forwarded.</summary>
    Invalid,
}

/// <summary>A header line of a parsed head: offsets into the buffer that was parsed.</summary>
internal readonly record struct HeaderRange(int NameStart, int NameLength, int ValueStart, int ValueLength);

/// <summary>
/// An HTTP/1.x response head, parsed strictly (RFC 9112): one instance per upstream connection, reused for each of
/// its responses, so parsing allocates nothing. The header lines are kept as offsets into the parsed buffer.
/// </summary>
/// <remarks>
/// Refused, as RFC 9112 says a recipient must or may refuse them: a version other than HTTP/1.0 or 1.1; a status that
/// is not three digits (100-999); a bare CR anywhere; an obsolete line folding; a field name that is not a token or is
/// followed by whitespace; NUL or another control character (but HTAB) in a value; <c>Content-Length</c> that is not
/// a number, or appears twice; <c>Transfer-Encoding</c> other than exactly <c>chunked</c>, with <c>Content-Length</c>,
/// or in an HTTP/1.0 response; a head longer than <see cref="MaxLength"/> or with more than <see cref="MaxHeaders"/>
/// lines. A line may end with a bare LF (RFC 9112 §2.2 allows it, and .NET's client accepts it).
/// </remarks>
internal sealed class ResponseHead
{
    /// <summary>The longest head accepted (status line, header lines and the empty line): .NET's client's default.</summary>
    public const int MaxLength = 64 * 1024;

    /// <summary>The most header lines accepted.</summary>
    public const int MaxHeaders = 256;

    private static readonly SearchValues<byte> TokenBytes =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"u8);

    private readonly HeaderRange[] _headers = new HeaderRange[MaxHeaders];

    public int StatusCode { get; private set; }

    /// <summary>1 for HTTP/1.1, 0 for HTTP/1.0.</summary>
    public int MinorVersion { get; private set; }

    public int ReasonStart { get; private set; }

    public int ReasonLength { get; private set; }

    /// <summary>The head's length in bytes, the empty line included.</summary>
    public int Length { get; private set; }

    public BodyFraming Framing { get; private set; }

    /// <summary>With <see cref="BodyFraming.ContentLength"/>; otherwise the header's value, if any, or -1.</summary>
    public long ContentLength { get; private set; }

    /// <summary>Whether the connection may carry another request after this response's body.</summary>
    public bool KeepAlive { get; private set; }

    /// <summary>Whether the response has a <c>Connection</c> header naming more than <c>close</c> or <c>keep-alive</c>.</summary>
    public bool HasConnectionOptions { get; private set; }

    /// <summary>Why the head is invalid (with <see cref="ParseStatus.Invalid"/>).</summary>
    public string? Error { get; private set; }

    public int HeaderCount { get; private set; }

    public ReadOnlySpan<HeaderRange> Headers => _headers.AsSpan(0, HeaderCount);

    /// <summary>Whether this is an informational (1xx) response, which another head follows.</summary>
    public bool IsInformational => StatusCode < 200;

    /// <summary>Parses the head at the start of <paramref name="buffer"/>.</summary>
    /// <param name="buffer">The bytes received so far, from the first byte of the response.</param>
    /// <param name="requestWasHead">The request was HEAD: the response has no body whatever its headers say.</param>
    public ParseStatus TryParse(ReadOnlySpan<byte> buffer, bool requestWasHead)
    {
        var end = FindEnd(buffer, out var bareCr);
        if (bareCr)
        {
            return Fail("a bare CR");
        }

        if (end < 0)
        {
            return buffer.Length >= MaxLength ? Fail($"a head longer than {MaxLength} bytes") : ParseStatus.NeedMore;
        }

        if (end > MaxLength)
        {
            return Fail($"a head longer than {MaxLength} bytes");
        }

        Reset();
        Length = end;
        var position = 0;
        var lineEnd = LineEnd(buffer, position, out var next);
        if (!ParseStatusLine(buffer[..lineEnd]))
        {
            return ParseStatus.Invalid;
        }

        position = next;
        var contentLengthSeen = false;
        var chunked = false;
        var transferEncodingSeen = false;
        var close = false;
        var keepAliveToken = false;
        while (true)
        {
            lineEnd = LineEnd(buffer, position, out next);
            if (lineEnd == position)
            {
                break; // the empty line
            }

            var line = buffer[position..lineEnd];
            if (line[0] is (byte)' ' or (byte)'\t')
            {
                return Fail("an obsolete line folding");
            }

            var colon = line.IndexOf((byte)':');
            if (colon <= 0 || line[..colon].ContainsAnyExcept(TokenBytes))
            {
                return Fail("a header line without a valid field name");
            }

            var valueStart = colon + 1;
            var valueEnd = line.Length;
            while (valueStart < valueEnd && line[valueStart] is (byte)' ' or (byte)'\t')
            {
                valueStart++;
            }

            while (valueEnd > valueStart && line[valueEnd - 1] is (byte)' ' or (byte)'\t')
            {
                valueEnd--;
            }

            var name = line[..colon];
            var value = line[valueStart..valueEnd];
            if (!IsValidValue(value))
            {
                return Fail("a control character in a header value");
            }

            if (HeaderCount == MaxHeaders)
            {
                return Fail($"more than {MaxHeaders} header lines");
            }

            _headers[HeaderCount++] = new HeaderRange(position, colon, position + valueStart, valueEnd - valueStart);
            if (name.EqualsAnyCase("Content-Length"u8))
            {
                if (contentLengthSeen)
                {
                    return Fail("Content-Length twice");
                }

                contentLengthSeen = true;
                if (!TryParseLength(value, out var length))
                {
                    return Fail("a Content-Length that is not a number");
                }

                ContentLength = length;
            }
            else if (name.EqualsAnyCase("Transfer-Encoding"u8))
            {
                if (transferEncodingSeen || !value.EqualsAnyCase("chunked"u8))
                {
                    return Fail("a Transfer-Encoding other than chunked");
                }

                transferEncodingSeen = true;
                chunked = true;
            }
            else if (name.EqualsAnyCase("Connection"u8))
            {
                ReadConnection(value, ref close, ref keepAliveToken);
            }

            position = next;
        }

        if (chunked && contentLengthSeen)
        {
            return Fail("both Content-Length and Transfer-Encoding");
        }

        if (chunked && MinorVersion == 0)
        {
            return Fail("Transfer-Encoding in an HTTP/1.0 response");
        }

        KeepAlive = !close && (MinorVersion == 1 || keepAliveToken);
        if (requestWasHead || IsInformational || StatusCode is 204 or 304)
        {
            Framing = BodyFraming.None;
        }
        else if (chunked)
        {
            Framing = BodyFraming.Chunked;
        }
        else if (contentLengthSeen)
        {
            Framing = BodyFraming.ContentLength;
        }
        else
        {
            Framing = BodyFraming.UntilClose;
            KeepAlive = false;
        }

        return ParseStatus.Complete;
    }

    /// <summary>Marks a head that parsed but cannot be forwarded.</summary>
    public void Invalidate(string error) => Error = error;

    /// <summary>
    /// Marks the head invalid when a header value has a byte above 0x7F: obs-text is valid HTTP, but Kestrel sends
    /// only ASCII in response headers (the YARP path fails on it too).
    /// </summary>
    public void InvalidateIfNotAscii(ReadOnlySpan<byte> buffer)
    {
        foreach (var header in Headers)
        {
            if (!System.Text.Ascii.IsValid(buffer.Slice(header.ValueStart, header.ValueLength)))
            {
                Error = "a header value that is not ASCII";
                return;
            }
        }
    }

    private void Reset()
    {
        StatusCode = 0;
        MinorVersion = 0;
        ReasonStart = 0;
        ReasonLength = 0;
        Framing = BodyFraming.None;
        ContentLength = -1;
        KeepAlive = false;
        HasConnectionOptions = false;
        Error = null;
        HeaderCount = 0;
    }

    private ParseStatus Fail(string error)
    {
        Error = error;
        return ParseStatus.Invalid;
    }

    /// <summary>The offset just past the empty line that ends the head, or -1; a CR not followed by LF is flagged.</summary>
    private static int FindEnd(ReadOnlySpan<byte> buffer, out bool bareCr)
    {
        bareCr = false;
        var limit = Math.Min(buffer.Length, MaxLength + 1);
        var lineStart = 0;
        for (var i = buffer[..limit].IndexOfAny((byte)'\r', (byte)'\n'); i >= 0 && i < limit;)
        {
            int next;
            if (buffer[i] == '\r')
            {
                if (i + 1 >= buffer.Length)
                {
                    return -1;
                }

                if (buffer[i + 1] != '\n')
                {
                    bareCr = true;
                    return -1;
                }

                next = i + 2;
            }
            else
            {
                next = i + 1;
            }

            if (i == lineStart && lineStart > 0)
            {
                return next;
            }

            lineStart = next;
            if (next >= limit)
            {
                return -1;
            }

            var found = buffer[next..limit].IndexOfAny((byte)'\r', (byte)'\n');
            i = found < 0 ? -1 : next + found;
        }

        return -1;
    }

    /// <summary>The end of the line starting at <paramref name="start"/> (its CR or LF) and where the next one starts.</summary>
    private static int LineEnd(ReadOnlySpan<byte> buffer, int start, out int next)
    {
        var end = start + buffer[start..].IndexOf((byte)'\n');
        next = end + 1;
        return end > start && buffer[end - 1] == '\r' ? end - 1 : end;
    }

    private bool ParseStatusLine(ReadOnlySpan<byte> line)
    {
        // HTTP/1.x SP 3DIGIT [SP reason]
        if (line.Length < 12 || !line.StartsWith("HTTP/1."u8) || line[7] is not ((byte)'0' or (byte)'1') || line[8] != ' ')
        {
            Fail("a status line that is not HTTP/1.0 or HTTP/1.1");
            return false;
        }

        if (!IsDigit(line[9]) || !IsDigit(line[10]) || !IsDigit(line[11]) || line[9] == '0')
        {
            Fail("a status code that is not three digits");
            return false;
        }

        MinorVersion = line[7] - '0';
        StatusCode = ((line[9] - '0') * 100) + ((line[10] - '0') * 10) + (line[11] - '0');
        if (line.Length == 12)
        {
            return true;
        }

        if (line[12] != ' ' || !IsValidValue(line[13..]))
        {
            Fail("an invalid reason phrase");
            return false;
        }

        ReasonStart = 13;
        ReasonLength = line.Length - 13;
        return true;
    }

    private void ReadConnection(ReadOnlySpan<byte> value, ref bool close, ref bool keepAlive)
    {
        foreach (var range in value.Split((byte)','))
        {
            var token = value[range].Trim(" \t"u8);
            if (token.EqualsAnyCase("close"u8))
            {
                close = true;
            }
            else if (token.EqualsAnyCase("keep-alive"u8))
            {
                keepAlive = true;
            }
            else if (token.Length > 0)
            {
                HasConnectionOptions = true;
            }
        }
    }

    private static bool IsDigit(byte b) => (uint)(b - '0') <= 9;

    /// <summary>HTAB, SP, visible ASCII and obs-text (RFC 9110 §5.5): no other control character.</summary>
    private static bool IsValidValue(ReadOnlySpan<byte> value)
    {
        foreach (var b in value)
        {
            if ((b < 0x20 && b != '\t') || b == 0x7F)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>1*DIGIT, at most 18 of them (no sign, no list, no overflow).</summary>
    private static bool TryParseLength(ReadOnlySpan<byte> value, out long length)
    {
        length = 0;
        if (value.Length is 0 or > 18)
        {
            return false;
        }

        foreach (var b in value)
        {
            if (!IsDigit(b))
            {
                return false;
            }

            length = (length * 10) + (b - '0');
        }

        return true;
    }
}

internal static class AsciiSpanExtensions
{
    /// <summary>ASCII case-insensitive equality (header names and tokens).</summary>
    public static bool EqualsAnyCase(this ReadOnlySpan<byte> span, ReadOnlySpan<byte> other) =>
        System.Text.Ascii.EqualsIgnoreCase(span, other);
}
