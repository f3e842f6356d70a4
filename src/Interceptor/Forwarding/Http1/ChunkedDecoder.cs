using System.Buffers;

namespace Updraft.Interceptor.Forwarding.Http1;

/// <summary>What <see cref="ChunkedDecoder.Decode"/> found.</summary>
internal enum ChunkStatus
{
    /// <summary>All input was framing, consumed: read more.</summary>
    NeedMore,

    /// <summary>Body bytes: the slice given, to be forwarded; call again with the input after it.</summary>
    Data,

    /// <summary>The last chunk and the trailer section are read: the body is complete.</summary>
    Done,

    /// <summary>The framing breaks RFC 9112 §7.1 (<see cref="ChunkedDecoder.Error"/> says how).</summary>
    Invalid,
}

/// <summary>
/// Decodes a chunked body (RFC 9112 §7.1) as it arrives, without copying: it walks the framing and hands back the
/// data slices of the input. Strict: a chunk size is 1-15 hex digits with nothing before it; after it only whitespace
/// and then chunk extensions (ignored), or the line end; chunk data ends with CRLF; trailer fields must be valid
/// field lines (they are read and dropped, as an HTTP/1.1 client of Kestrel cannot receive them); a bare CR is refused.
/// Framing lines (size line with extensions, trailer lines) may not exceed <see cref="MaxLineLength"/>.
/// </summary>
internal sealed class ChunkedDecoder
{
    public const int MaxLineLength = 8 * 1024;

    private const int MaxSizeDigits = 15; // below 2^60: no overflow in a long

    private static readonly SearchValues<byte> TokenBytes =
        SearchValues.Create("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"u8);

    private State _state;
    private long _remaining;
    private int _sizeDigits;
    private int _lineLength;

    private enum State
    {
        Size,
        SizeWhitespace,
        Extension,
        SizeLf,
        Data,
        DataCr,
        DataLf,
        TrailerLineStart,
        TrailerName,
        TrailerLine,
        TrailerLf,
        EndLf,
        Done,
    }

    public string? Error { get; private set; }

    public void Reset()
    {
        _state = State.Size;
        _remaining = 0;
        _sizeDigits = 0;
        _lineLength = 0;
        Error = null;
    }

    /// <summary>Decodes from the start of <paramref name="input"/>.</summary>
    /// <param name="input">Received bytes not consumed yet.</param>
    /// <param name="consumed">How many bytes of <paramref name="input"/> were used (framing and data).</param>
    /// <param name="data">With <see cref="ChunkStatus.Data"/>: the body bytes, a slice of <paramref name="input"/>.</param>
    public ChunkStatus Decode(ReadOnlySpan<byte> input, out int consumed, out Range data)
    {
        data = default;
        var i = 0;
        while (i < input.Length)
        {
            if (_state == State.Data)
            {
                var take = (int)Math.Min(_remaining, input.Length - i);
                data = i..(i + take);
                _remaining -= take;
                if (_remaining == 0)
                {
                    _state = State.DataCr;
                }

                consumed = i + take;
                return ChunkStatus.Data;
            }

            var b = input[i++];
            switch (_state)
            {
                case State.Size:
                    if (HexValue(b) is var digit and >= 0)
                    {
                        if (++_sizeDigits > MaxSizeDigits)
                        {
                            return Fail("a chunk size too large", i, out consumed);
                        }

                        _remaining = (_remaining << 4) | (uint)digit;
                    }
                    else if (_sizeDigits == 0)
                    {
                        return Fail("a chunk line that does not start with a size", i, out consumed);
                    }
                    else if (b is (byte)' ' or (byte)'\t')
                    {
                        _state = State.SizeWhitespace;
                    }
                    else if (b == ';')
                    {
                        _state = State.Extension;
                    }
                    else if (!EndSizeLine(b))
                    {
                        return Fail("a chunk size followed by something else", i, out consumed);
                    }

                    break;
                case State.SizeWhitespace:
                    if (++_lineLength > MaxLineLength)
                    {
                        return Fail("a chunk size line too long", i, out consumed);
                    }

                    if (b == ';')
                    {
                        _state = State.Extension;
                    }
                    else if (b is not ((byte)' ' or (byte)'\t') && !EndSizeLine(b))
                    {
                        return Fail("a chunk size followed by something else", i, out consumed);
                    }

                    break;
                case State.Extension:
                    if (++_lineLength > MaxLineLength)
                    {
                        return Fail("a chunk extension too long", i, out consumed);
                    }

                    if ((b < 0x20 && b != '\t' && !EndSizeLine(b)) || b == 0x7F)
                    {
                        return Fail("a control character in a chunk extension", i, out consumed);
                    }

                    break;
                case State.SizeLf:
                    if (b != '\n')
                    {
                        return Fail("a bare CR", i, out consumed);
                    }

                    ChunkStarts();
                    break;
                case State.DataCr:
                    if (b == '\n')
                    {
                        _state = State.Size; // a bare LF ends the data too (RFC 9112 §2.2)
                    }
                    else if (b == '\r')
                    {
                        _state = State.DataLf;
                    }
                    else
                    {
                        return Fail("chunk data longer than its size", i, out consumed);
                    }

                    break;
                case State.DataLf:
                    if (b != '\n')
                    {
                        return Fail("a bare CR", i, out consumed);
                    }

                    _state = State.Size;
                    break;
                case State.TrailerLineStart:
                    _lineLength = 0;
                    if (b == '\r')
                    {
                        _state = State.EndLf;
                    }
                    else if (b == '\n')
                    {
                        return Finish(i, out consumed);
                    }
                    else if (!TokenBytes.Contains(b))
                    {
                        return Fail("an invalid trailer line", i, out consumed);
                    }
                    else
                    {
                        _state = State.TrailerName;
                        _lineLength = 1;
                    }

                    break;
                case State.TrailerName:
                    if (++_lineLength > MaxLineLength)
                    {
                        return Fail("a trailer line too long", i, out consumed);
                    }

                    if (b == ':')
                    {
                        _state = State.TrailerLine;
                    }
                    else if (!TokenBytes.Contains(b))
                    {
                        return Fail("an invalid trailer line", i, out consumed);
                    }

                    break;
                case State.TrailerLine:
                    if (++_lineLength > MaxLineLength)
                    {
                        return Fail("a trailer line too long", i, out consumed);
                    }

                    if (b == '\r')
                    {
                        _state = State.TrailerLf;
                    }
                    else if (b == '\n')
                    {
                        _state = State.TrailerLineStart;
                    }
                    else if ((b < 0x20 && b != '\t') || b == 0x7F)
                    {
                        return Fail("a control character in a trailer line", i, out consumed);
                    }

                    break;
                case State.TrailerLf:
                    if (b != '\n')
                    {
                        return Fail("a bare CR", i, out consumed);
                    }

                    _state = State.TrailerLineStart;
                    break;
                case State.EndLf:
                    if (b != '\n')
                    {
                        return Fail("a bare CR", i, out consumed);
                    }

                    return Finish(i, out consumed);
                case State.Done:
                    i--;
                    consumed = i;
                    return ChunkStatus.Done;
            }
        }

        consumed = i;
        return _state == State.Done ? ChunkStatus.Done : ChunkStatus.NeedMore;
    }

    /// <summary>A CR or LF ends the size line (with CR, an LF must follow).</summary>
    private bool EndSizeLine(byte b)
    {
        if (b == '\r')
        {
            _state = State.SizeLf;
            return true;
        }

        if (b == '\n')
        {
            ChunkStarts();
            return true;
        }

        return false;
    }

    private void ChunkStarts()
    {
        _sizeDigits = 0;
        _lineLength = 0;
        _state = _remaining == 0 ? State.TrailerLineStart : State.Data;
    }

    private ChunkStatus Finish(int i, out int consumed)
    {
        _state = State.Done;
        consumed = i;
        return ChunkStatus.Done;
    }

    private ChunkStatus Fail(string error, int i, out int consumed)
    {
        Error = error;
        consumed = i;
        return ChunkStatus.Invalid;
    }

    private static int HexValue(byte b) => b switch
    {
        >= (byte)'0' and <= (byte)'9' => b - '0',
        >= (byte)'a' and <= (byte)'f' => b - 'a' + 10,
        >= (byte)'A' and <= (byte)'F' => b - 'A' + 10,
        _ => -1,
    };
}
