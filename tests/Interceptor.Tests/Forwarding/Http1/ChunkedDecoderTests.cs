using System.Text;
using Updraft.Interceptor.Forwarding.Http1;

namespace Updraft.Interceptor.Tests.Forwarding.Http1;

/// <summary>
/// The incremental chunked-body decoder (<see cref="ChunkedDecoder"/>): the same data and end whatever the body's
/// split into reads, data slices within the input given, extensions and trailers read and dropped, nothing consumed
/// past the end of the body, and every framing RFC 9112 §7.1 does not allow refused.
/// </summary>
public sealed class ChunkedDecoderTests
{
    private const string Body = "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n";

    private static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    /// <summary>What feeding a body in pieces gave: the last status, the data, and the bytes consumed in all.</summary>
    private sealed record Outcome(ChunkStatus Status, string Data, int Consumed, string? Error);

    /// <summary>
    /// Feeds <paramref name="pieces"/> in order as a reader would (after data, the rest of the piece, even empty; after
    /// NeedMore, the next piece), checking on every call that consumed and the data slice lie within the input; stops at Done or Invalid.
    /// </summary>
    private static Outcome Feed(ChunkedDecoder decoder, IEnumerable<byte[]> pieces)
    {
        var data = new StringBuilder();
        var total = 0;
        var status = ChunkStatus.NeedMore;
        foreach (var piece in pieces)
        {
            var offset = 0;
            while (true)
            {
                var input = piece.AsSpan(offset);
                status = decoder.Decode(input, out var consumed, out var range);
                Assert.InRange(consumed, 0, input.Length);
                total += consumed;
                offset += consumed;
                switch (status)
                {
                    case ChunkStatus.Data:
                        var (start, length) = range.GetOffsetAndLength(input.Length);
                        Assert.True(length > 0, "an empty data slice");
                        Assert.Equal(consumed, start + length);
                        data.Append(Encoding.Latin1.GetString(input.Slice(start, length)));
                        break;
                    case ChunkStatus.NeedMore:
                        Assert.Equal(input.Length, consumed);
                        break;
                    case ChunkStatus.Done:
                        Assert.Null(decoder.Error);
                        return new Outcome(status, data.ToString(), total, null);
                    case ChunkStatus.Invalid:
                        Assert.False(string.IsNullOrWhiteSpace(decoder.Error));
                        return new Outcome(status, data.ToString(), total, decoder.Error);
                }

                if (status == ChunkStatus.NeedMore)
                {
                    break;
                }
            }
        }

        return new Outcome(status, data.ToString(), total, decoder.Error);
    }

    private static Outcome Feed(string body, params int[] splits)
    {
        var bytes = Bytes(body);
        var pieces = new List<byte[]>();
        var start = 0;
        foreach (var split in splits.Append(bytes.Length))
        {
            pieces.Add(bytes[start..split]);
            start = split;
        }

        return Feed(new ChunkedDecoder(), pieces);
    }

    private static Outcome FeedBytewise(string body) => Feed(new ChunkedDecoder(), Bytes(body).Select(b => new[] { b }));

    private static void AssertDecodes(string body, string data)
    {
        Assert.Equal(new Outcome(ChunkStatus.Done, data, Bytes(body).Length, null), Feed(body));
        Assert.Equal(new Outcome(ChunkStatus.Done, data, Bytes(body).Length, null), FeedBytewise(body));
    }

    private static string AssertInvalid(string body)
    {
        var whole = Feed(body);
        Assert.Equal(ChunkStatus.Invalid, whole.Status);
        Assert.Equal(whole, FeedBytewise(body));
        return whole.Error!;
    }

    [Fact]
    public void Decode_OneCall_DataSliceThenDoneAtTheEnd()
    {
        var input = Bytes("5\r\nhello\r\n0\r\n\r\n");
        var decoder = new ChunkedDecoder();

        Assert.Equal(ChunkStatus.Data, decoder.Decode(input, out var consumed, out var data));
        Assert.Equal(3..8, data);
        Assert.Equal(8, consumed);
        Assert.Equal(ChunkStatus.Done, decoder.Decode(input.AsSpan(8), out consumed, out _));
        Assert.Equal(input.Length - 8, consumed);
        Assert.Null(decoder.Error);
    }

    [Fact]
    public void Decode_SplitInTwoAtEveryByte_SameDataAndDone()
    {
        var length = Bytes(Body).Length;
        for (var split = 0; split <= length; split++)
        {
            Assert.Equal(new Outcome(ChunkStatus.Done, "hello world!", length, null), Feed(Body, split));
        }
    }

    [Fact]
    public void Decode_SplitInThreeAtEveryPairOfBytes_SameDataAndDone()
    {
        const string Text = "3;a=b\r\nabc\r\nA\r\n0123456789\n0\nT: v\n\n";
        var length = Bytes(Text).Length;
        for (var first = 0; first <= length; first++)
        {
            for (var second = first; second <= length; second++)
            {
                Assert.Equal(new Outcome(ChunkStatus.Done, "abc0123456789", length, null), Feed(Text, first, second));
            }
        }
    }

    [Fact]
    public void Decode_OneBytePieces_SameDataAndDone()
    {
        Assert.Equal(new Outcome(ChunkStatus.Done, "hello world!", Bytes(Body).Length, null), FeedBytewise(Body));
    }

    [Fact]
    public void Decode_LastChunkOnly_DoneWithoutData()
    {
        AssertDecodes("0\r\n\r\n", "");
        AssertDecodes("000\r\n\r\n", "");
    }

    [Theory]
    [InlineData(";a=b")]
    [InlineData("; a")]
    [InlineData(" ;x")]
    [InlineData("\t;x")]
    [InlineData(" \t ;")]
    [InlineData(";")]
    [InlineData(";a=\"quoted ; value\";b")]
    [InlineData(";\tx=\u00e9")]
    [InlineData(" ")]
    [InlineData(" \t")]
    public void Decode_ChunkExtensionOrWhitespaceAfterTheSize_Ignored(string extension)
    {
        AssertDecodes("5" + extension + "\r\nhello\r\n0" + extension + "\r\n\r\n", "hello");
    }

    [Theory]
    [InlineData("a", 10)]
    [InlineData("A", 10)]
    [InlineData("fF", 255)]
    [InlineData("Ff", 255)]
    [InlineData("0005", 5)]
    [InlineData("000000000000010", 16)]
    [InlineData("1000", 4096)]
    public void Decode_HexSizeInAnyCaseWithLeadingZeros_ThatManyBytes(string size, int length)
    {
        var data = string.Concat(Enumerable.Range(0, length).Select(i => (char)('a' + (i % 26))));

        AssertDecodes(size + "\r\n" + data + "\r\n0\r\n\r\n", data);
    }

    [Fact]
    public void Decode_ChunkLargerThanTheInput_DataHandedBackAsItArrives()
    {
        var data = new string('d', 0x10000);
        var body = Bytes("10000\r\n" + data + "\r\n0\r\n\r\n");
        var pieces = body.Chunk(1000).ToList();
        var decoder = new ChunkedDecoder();

        Assert.Equal(new Outcome(ChunkStatus.Done, data, body.Length, null), Feed(decoder, pieces));
    }

    [Theory]
    [InlineData("0\r\nX-Trailer: t\r\n\r\n")]
    [InlineData("0\r\nA: b\r\nC: d\r\n\r\n")]
    [InlineData("0\r\nA:\r\n\r\n")]
    [InlineData("0\r\nA: b\tc \u00e9\r\n\r\n")]
    [InlineData("0\nA: b\n\n")]
    [InlineData("0\r\nA: b\nC: d\r\n\n")]
    public void Decode_Trailers_ConsumedAndDropped(string end)
    {
        AssertDecodes("2\r\nok\r\n" + end, "ok");
    }

    [Theory]
    [InlineData("5\nhello\n0\n\n")]
    [InlineData("5\r\nhello\n0\r\n\n")]
    [InlineData("5;x\nhello\r\n0\n\r\n")]
    public void Decode_BareLfLineEnds_Accepted(string body)
    {
        AssertDecodes(body, "hello");
    }

    [Theory]
    [InlineData("0\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n")]
    [InlineData("2\r\nok\r\n0\r\n\r\n", "x")]
    [InlineData("2\r\nok\r\n0\r\nT: v\r\n\r\n", "\r\n")]
    [InlineData("2\nok\n0\n\n", "garbage\0\r")]
    public void Decode_BytesAfterTheBody_NotConsumed(string body, string after)
    {
        var bodyLength = Bytes(body).Length;

        var whole = Feed(body + after);
        Assert.Equal(ChunkStatus.Done, whole.Status);
        Assert.Equal(bodyLength, whole.Consumed);

        var decoder = new ChunkedDecoder();
        var bytewise = Feed(decoder, Bytes(body + after).Select(b => new[] { b }));
        Assert.Equal(whole, bytewise);

        Assert.Equal(ChunkStatus.Done, decoder.Decode(Bytes(after), out var consumed, out _));
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void Decode_AfterDone_DoneWithNothingConsumed()
    {
        var decoder = new ChunkedDecoder();
        Assert.Equal(ChunkStatus.Done, decoder.Decode(Bytes("0\r\n\r\n"), out _, out _));

        Assert.Equal(ChunkStatus.Done, decoder.Decode([], out var consumed, out _));
        Assert.Equal(0, consumed);
        Assert.Equal(ChunkStatus.Done, decoder.Decode(Bytes("5\r\nhello\r\n"), out consumed, out _));
        Assert.Equal(0, consumed);
    }

    [Fact]
    public void Decode_EmptyInput_NeedMore()
    {
        var decoder = new ChunkedDecoder();

        Assert.Equal(ChunkStatus.NeedMore, decoder.Decode([], out var consumed, out _));
        Assert.Equal(0, consumed);
    }

    [Theory]
    [InlineData("5\r\nhel")]
    [InlineData("5\r\nhello")]
    [InlineData("5\r\nhello\r")]
    [InlineData("5\r\nhello\r\n")]
    [InlineData("5;ext")]
    [InlineData("0\r\n")]
    [InlineData("0\r\nT: v")]
    [InlineData("0\r\nT: v\r\n")]
    [InlineData("0\r\n\r")]
    public void Decode_BodyCutShort_NeedMore(string body)
    {
        var outcome = Feed(body);

        Assert.Equal(ChunkStatus.NeedMore, outcome.Status);
        Assert.Equal(Bytes(body).Length, outcome.Consumed);
    }

    [Theory]
    [InlineData("\r\n")]
    [InlineData("\n")]
    [InlineData("zz\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5z\r\nhello\r\n0\r\n\r\n")]
    [InlineData("g\r\n")]
    [InlineData(" 5\r\nhello\r\n0\r\n\r\n")]
    [InlineData(";x\r\n")]
    [InlineData("-5\r\n")]
    [InlineData("0x5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("+5\r\n")]
    [InlineData("5 x\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5 5\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\rhello\r\n0\r\n\r\n")]
    [InlineData("5;a\rb\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5 \rhello\r\n0\r\n\r\n")]
    [InlineData("5;a\0\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a\u0001\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a\u001b\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5;a\u007f\r\nhello\r\n0\r\n\r\n")]
    [InlineData("3\r\nhello\r\n0\r\n\r\n")]
    [InlineData("5\r\nhello0\r\n\r\n")]
    [InlineData("5\r\nhello\r0\r\n\r\n")]
    [InlineData("5\r\nhello\r\r\n0\r\n\r\n")]
    [InlineData("0\r\n T: v\r\n\r\n")]
    [InlineData("0\r\n\tT: v\r\n\r\n")]
    [InlineData("0\r\n: v\r\n\r\n")]
    [InlineData("0\r\nT: v\r\n continued\r\n\r\n")]
    [InlineData("0\r\nT: a\0b\r\n\r\n")]
    [InlineData("0\r\nT: a\u007fb\r\n\r\n")]
    [InlineData("0\r\nT: a\rb\r\n\r\n")]
    [InlineData("0\r\nT: v\r\r\n\r\n")]
    [InlineData("0\r\n\rx")]
    [InlineData("0\r\nno colon\r\n\r\n")]
    [InlineData("0\r\nT : v\r\n\r\n")]
    [InlineData("0\r\nT(x): v\r\n\r\n")]
    public void Decode_FramingRfc9112Refuses_InvalidWithAReason(string body)
    {
        AssertInvalid(body);
    }

    [Theory]
    [InlineData("0000000000000000")]
    [InlineData("1000000000000000")]
    [InlineData("ffffffffffffffff")]
    [InlineData("00000000000000000005")]
    public void Decode_SizeOf16HexDigitsOrMore_Invalid(string size)
    {
        Assert.Contains("too large", AssertInvalid(size + "\r\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_SizeOf15HexDigits_Accepted()
    {
        var decoder = new ChunkedDecoder();

        Assert.Equal(ChunkStatus.Data, decoder.Decode(Bytes("fffffffffffffff\r\nabc"), out var consumed, out var data));
        Assert.Equal(20, consumed);
        Assert.Equal(17..20, data);
    }

    [Fact]
    public void Decode_DataLongerThanItsSize_InvalidRightAfterTheData()
    {
        var decoder = new ChunkedDecoder();
        var input = Bytes("3\r\nhello\r\n");

        Assert.Equal(ChunkStatus.Data, decoder.Decode(input, out var consumed, out var data));
        Assert.Equal(3..6, data);
        Assert.Equal(ChunkStatus.Invalid, decoder.Decode(input.AsSpan(consumed), out _, out _));
        Assert.Contains("longer", decoder.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_ExtensionUpToMaxLineLength_Accepted()
    {
        AssertDecodes("5;" + new string('x', ChunkedDecoder.MaxLineLength - 10) + "\r\nhello\r\n0\r\n\r\n", "hello");
    }

    [Fact]
    public void Decode_ExtensionLongerThanMaxLineLength_Invalid()
    {
        Assert.Contains("too long", AssertInvalid("5;" + new string('x', ChunkedDecoder.MaxLineLength + 1) + "\r\nhello\r\n0\r\n\r\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_WhitespaceAfterTheSizeLongerThanMaxLineLength_Invalid()
    {
        AssertInvalid("5" + new string(' ', ChunkedDecoder.MaxLineLength + 1) + "\r\nhello\r\n0\r\n\r\n");
    }

    [Fact]
    public void Decode_ManyExtensionsUnderTheLimitEach_Accepted()
    {
        var line = ";" + new string('x', (ChunkedDecoder.MaxLineLength / 2) - 10);
        var body = string.Concat(Enumerable.Range(0, 5).Select(_ => "1" + line + "\r\na\r\n")) + "0" + line + "\r\n\r\n";

        AssertDecodes(body, "aaaaa");
    }

    [Fact]
    public void Decode_TrailerUpToMaxLineLength_Accepted()
    {
        AssertDecodes("0\r\nT: " + new string('t', ChunkedDecoder.MaxLineLength - 10) + "\r\nU: " + new string('u', ChunkedDecoder.MaxLineLength - 10) + "\r\n\r\n", "");
    }

    [Fact]
    public void Decode_TrailerLongerThanMaxLineLength_Invalid()
    {
        Assert.Contains("too long", AssertInvalid("0\r\nT: " + new string('t', ChunkedDecoder.MaxLineLength + 1) + "\r\n\r\n"), StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_InvalidInTheMiddleOfAnInput_ConsumedStopsAtTheBadByte()
    {
        var decoder = new ChunkedDecoder();

        Assert.Equal(ChunkStatus.Invalid, decoder.Decode(Bytes("5 x\r\nhello"), out var consumed, out _));
        Assert.Equal(3, consumed);
    }

    [Fact]
    public void Reset_AfterDone_DecodesASecondBody()
    {
        var decoder = new ChunkedDecoder();
        Assert.Equal(ChunkStatus.Done, Feed(decoder, [Bytes("3\r\nabc\r\n0\r\nT: v\r\n\r\n")]).Status);

        decoder.Reset();

        Assert.Equal(new Outcome(ChunkStatus.Done, "hello", 15, null), Feed(decoder, [Bytes("5\r\nhello\r\n0\r\n\r\n")]));
    }

    [Fact]
    public void Reset_AfterInvalid_ErrorClearedAndASecondBodyDecodes()
    {
        var decoder = new ChunkedDecoder();
        Assert.Equal(ChunkStatus.Invalid, Feed(decoder, [Bytes("zz\r\n")]).Status);

        decoder.Reset();

        Assert.Null(decoder.Error);
        Assert.Equal(new Outcome(ChunkStatus.Done, "hello", 15, null), Feed(decoder, [Bytes("5\r\nhello\r\n0\r\n\r\n")]));
    }

    [Theory]
    [InlineData("ab")]
    [InlineData("abc12")]
    [InlineData("5;ext=")]
    [InlineData("5\r\nhe")]
    [InlineData("0\r\nT: v")]
    public void Reset_InTheMiddleOfABody_NothingCarriedOver(string partial)
    {
        var decoder = new ChunkedDecoder();
        Feed(decoder, [Bytes(partial)]);

        decoder.Reset();

        Assert.Equal(new Outcome(ChunkStatus.Done, "hello", 15, null), Feed(decoder, [Bytes("5\r\nhello\r\n0\r\n\r\n")]));
    }
}
