using System.Text;
using Updraft.Interceptor.Forwarding.Http1;

namespace Updraft.Interceptor.Tests.Forwarding.Http1;

/// <summary>
/// The strict HTTP/1.x response-head parser (<see cref="ResponseHead"/>): what it reads from a valid head (status,
/// reason, header ranges, framing, keep-alive), that it asks for more on every incomplete head, and that it refuses,
/// with a reason, every head RFC 9112 says a recipient must or may refuse.
/// </summary>
public sealed class ResponseHeadTests
{
    private static byte[] Bytes(string text) => Encoding.Latin1.GetBytes(text);

    private static string Text(byte[] buffer, int start, int length) => Encoding.Latin1.GetString(buffer, start, length);

    private static (ResponseHead Head, byte[] Buffer) Parse(string text, bool requestWasHead = false)
    {
        var buffer = Bytes(text);
        var head = new ResponseHead();
        var status = head.TryParse(buffer, requestWasHead);
        Assert.True(status == ParseStatus.Complete, $"{status} ({head.Error}) for {text}");
        Assert.Null(head.Error);
        return (head, buffer);
    }

    private static string ParseInvalid(string text, bool requestWasHead = false)
    {
        var head = new ResponseHead();
        Assert.Equal(ParseStatus.Invalid, head.TryParse(Bytes(text), requestWasHead));
        Assert.False(string.IsNullOrWhiteSpace(head.Error));
        return head.Error!;
    }

    private static (string Name, string Value)[] Headers(ResponseHead head, byte[] buffer) =>
        head.Headers.ToArray().Select(h => (Text(buffer, h.NameStart, h.NameLength), Text(buffer, h.ValueStart, h.ValueLength))).ToArray();

    private static string Reason(ResponseHead head, byte[] buffer) => Text(buffer, head.ReasonStart, head.ReasonLength);

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n", 1, 200, "OK")]
    [InlineData("HTTP/1.0 404 Not Found\r\n\r\n", 0, 404, "Not Found")]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\n", 1, 100, "Continue")]
    [InlineData("HTTP/1.1 999 Whatever\r\n\r\n", 1, 999, "Whatever")]
    [InlineData("HTTP/1.1 301 Moved Somewhere Else\r\n\r\n", 1, 301, "Moved Somewhere Else")]
    [InlineData("HTTP/1.1 200 A\tB \u00e9 \r\n\r\n", 1, 200, "A\tB \u00e9 ")]
    public void TryParse_StatusLineWithReason_ReadsVersionStatusAndReason(string text, int minor, int status, string reason)
    {
        var (head, buffer) = Parse(text);

        Assert.Equal(minor, head.MinorVersion);
        Assert.Equal(status, head.StatusCode);
        Assert.Equal(13, head.ReasonStart);
        Assert.Equal(reason, Reason(head, buffer));
        Assert.Equal(buffer.Length, head.Length);
        Assert.Equal(0, head.HeaderCount);
    }

    [Fact]
    public void TryParse_NoReason_EmptyReasonRange()
    {
        var (head, _) = Parse("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\n");

        Assert.Equal(200, head.StatusCode);
        Assert.Equal(0, head.ReasonLength);
        Assert.Equal(2, head.ContentLength);
    }

    [Fact]
    public void TryParse_EmptyReason_EmptyReasonRangeAfterTheSpace()
    {
        var (head, _) = Parse("HTTP/1.1 418 \r\nContent-Length: 2\r\n\r\n");

        Assert.Equal(418, head.StatusCode);
        Assert.Equal(13, head.ReasonStart);
        Assert.Equal(0, head.ReasonLength);
    }

    [Theory]
    [InlineData("X-A:  \t padded \t ", "padded")]
    [InlineData("X-A:v", "v")]
    [InlineData("X-A: inner  \t space ", "inner  \t space")]
    [InlineData("X-A:", "")]
    [InlineData("X-A:    ", "")]
    [InlineData("X-A:\t\t", "")]
    [InlineData("X-A: caf\u00e9", "caf\u00e9")]
    [InlineData("X-A: a:b: c", "a:b: c")]
    [InlineData("X-A: \"quoted, list\" , x", "\"quoted, list\" , x")]
    public void TryParse_HeaderValue_TrimmedOfWhitespaceOnBothSidesOnly(string line, string value)
    {
        var (head, buffer) = Parse("HTTP/1.1 200 OK\r\n" + line + "\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal([("X-A", value), ("Content-Length", "0")], Headers(head, buffer));
    }

    [Fact]
    public void TryParse_HeaderLines_RangesPointAtTheirBytes()
    {
        const string Text = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Empty:\r\nx-lower:  v \r\n\r\n";
        var (head, _) = Parse(Text);

        Assert.Equal(3, head.HeaderCount);
        Assert.Equal(new HeaderRange(17, 12, 31, 10), head.Headers[0]);
        Assert.Equal(new HeaderRange(43, 7, 51, 0), head.Headers[1]);
        Assert.Equal(new HeaderRange(53, 7, 63, 1), head.Headers[2]);
        Assert.Equal("Content-Type", Text.Substring(17, 12));
        Assert.Equal("text/plain", Text.Substring(31, 10));
        Assert.Equal("x-lower", Text.Substring(53, 7));
        Assert.Equal("v", Text.Substring(63, 1));
    }

    [Fact]
    public void TryParse_BareLfLineEnds_Accepted()
    {
        var (head, buffer) = Parse("HTTP/1.1 200 OK\nContent-Length: 2\nX-A: a\n\n");

        Assert.Equal(200, head.StatusCode);
        Assert.Equal("OK", Reason(head, buffer));
        Assert.Equal([("Content-Length", "2"), ("X-A", "a")], Headers(head, buffer));
        Assert.Equal(BodyFraming.ContentLength, head.Framing);
        Assert.Equal(buffer.Length, head.Length);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\nX-A: a\r\n\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\r\n\n")]
    public void TryParse_MixedLineEnds_Accepted(string text)
    {
        var (head, buffer) = Parse(text);

        Assert.Equal([("X-A", "a")], Headers(head, buffer));
        Assert.Equal(buffer.Length, head.Length);
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("\r")]
    [InlineData("x\ry\0\u00ff")]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n")]
    [InlineData("\r\n\r\n")]
    public void TryParse_BodyBytesFollow_LengthIsTheHeadsExactly(string body)
    {
        const string Head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n";
        var buffer = Bytes(Head + body);
        var head = new ResponseHead();

        Assert.Equal(ParseStatus.Complete, head.TryParse(buffer, requestWasHead: false));
        Assert.Equal(Head.Length, head.Length);
        Assert.Equal(5, head.ContentLength);
    }

    [Fact]
    public void TryParse_ContentLength_FramedByLength()
    {
        var (head, _) = Parse("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n");

        Assert.Equal(BodyFraming.ContentLength, head.Framing);
        Assert.Equal(1234, head.ContentLength);
        Assert.True(head.KeepAlive);
        Assert.False(head.HasConnectionOptions);
    }

    [Theory]
    [InlineData("0", 0L)]
    [InlineData("000123", 123L)]
    [InlineData("  7 \t", 7L)]
    [InlineData("999999999999999999", 999_999_999_999_999_999L)]
    public void TryParse_ContentLengthValue_ReadAsANumber(string value, long expected)
    {
        var (head, _) = Parse("HTTP/1.1 200 OK\r\nContent-Length:" + value + "\r\n\r\n");

        Assert.Equal(BodyFraming.ContentLength, head.Framing);
        Assert.Equal(expected, head.ContentLength);
    }

    [Theory]
    [InlineData("Transfer-Encoding: chunked")]
    [InlineData("transfer-encoding: CHUNKED")]
    [InlineData("TRANSFER-ENCODING:\tChunked ")]
    public void TryParse_TransferEncodingChunked_FramedByChunksInAnyCase(string line)
    {
        var (head, _) = Parse("HTTP/1.1 200 OK\r\n" + line + "\r\n\r\n");

        Assert.Equal(BodyFraming.Chunked, head.Framing);
        Assert.Equal(-1, head.ContentLength);
        Assert.True(head.KeepAlive);
    }

    [Fact]
    public void TryParse_ContentLengthInAnyCase_Recognised()
    {
        var (head, _) = Parse("HTTP/1.1 200 OK\r\ncontent-LENGTH: 9\r\n\r\n");

        Assert.Equal(BodyFraming.ContentLength, head.Framing);
        Assert.Equal(9, head.ContentLength);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n\r\n")]
    [InlineData("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n")]
    [InlineData("HTTP/1.1 205 Reset Content\r\n\r\n")]
    public void TryParse_NeitherLengthNorChunked_UntilCloseAndNoKeepAlive(string text)
    {
        var (head, _) = Parse(text);

        Assert.Equal(BodyFraming.UntilClose, head.Framing);
        Assert.False(head.KeepAlive);
        Assert.Equal(-1, head.ContentLength);
    }

    [Theory]
    [InlineData("HTTP/1.1 100 Continue\r\n\r\n", false)]
    [InlineData("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", false)]
    [InlineData("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", false)]
    [InlineData("HTTP/1.1 204 No Content\r\nX-A: a\r\n\r\n", false)]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", false)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", false)]
    [InlineData("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", false)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n", true)]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", true)]
    [InlineData("HTTP/1.1 500 Oops\r\nContent-Length: 10\r\n\r\n", true)]
    public void TryParse_HeadRequestOr1xxOr204Or304_NoBody(string text, bool requestWasHead)
    {
        var (head, _) = Parse(text, requestWasHead);

        Assert.Equal(BodyFraming.None, head.Framing);
        Assert.True(head.KeepAlive);
    }

    [Theory]
    [InlineData(100, true)]
    [InlineData(199, true)]
    [InlineData(200, false)]
    [InlineData(999, false)]
    public void TryParse_StatusCode_InformationalBelow200(int status, bool informational)
    {
        var (head, _) = Parse($"HTTP/1.1 {status} x\r\nContent-Length: 0\r\n\r\n");

        Assert.Equal(informational, head.IsInformational);
        Assert.Equal(informational ? BodyFraming.None : BodyFraming.ContentLength, head.Framing);
    }

    [Theory]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: 42\r\n\r\n", false, 42L)]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true, 100L)]
    [InlineData("HTTP/1.1 204 No Content\r\n\r\n", false, -1L)]
    public void TryParse_NoBodyButContentLength_ValueStillReported(string text, bool requestWasHead, long expected)
    {
        var (head, _) = Parse(text, requestWasHead);

        Assert.Equal(BodyFraming.None, head.Framing);
        Assert.Equal(expected, head.ContentLength);
    }

    [Theory]
    [InlineData("HTTP/1.1", null, true, false)]
    [InlineData("HTTP/1.1", "Connection: close", false, false)]
    [InlineData("HTTP/1.1", "Connection: CLOSE", false, false)]
    [InlineData("HTTP/1.1", "Connection: keep-alive, close", false, false)]
    [InlineData("HTTP/1.1", "Connection: keep-alive", true, false)]
    [InlineData("HTTP/1.1", "Connection: X-Private, keep-alive", true, true)]
    [InlineData("HTTP/1.1", "Connection: upgrade", true, true)]
    [InlineData("HTTP/1.1", "Connection: close,\tX-A", false, true)]
    [InlineData("HTTP/1.1", "Connection: , ,close , ", false, false)]
    [InlineData("HTTP/1.1", "Connection:", true, false)]
    [InlineData("HTTP/1.1", "Connection: X-A\r\nConnection: close", false, true)]
    [InlineData("HTTP/1.0", null, false, false)]
    [InlineData("HTTP/1.0", "Connection: keep-alive", true, false)]
    [InlineData("HTTP/1.0", "Connection: Keep-Alive", true, false)]
    [InlineData("HTTP/1.0", "connection: x, keep-alive", true, true)]
    [InlineData("HTTP/1.0", "Connection: keep-alive, close", false, false)]
    [InlineData("HTTP/1.0", "Connection: X-A", false, true)]
    [InlineData("HTTP/1.0", "Keep-Alive: timeout=5", false, false)]
    public void TryParse_ConnectionHeader_DecidesKeepAliveAndOptions(string version, string? connection, bool keepAlive, bool options)
    {
        var (head, _) = Parse(version + " 200 OK\r\n" + (connection is null ? "" : connection + "\r\n") + "Content-Length: 0\r\n\r\n");

        Assert.Equal(keepAlive, head.KeepAlive);
        Assert.Equal(options, head.HasConnectionOptions);
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\n")]
    [InlineData("HTTP/1.0 404 Not Found\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 200\r\nX-Empty:\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\nContent-Length: 2\nX-A: a\n\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\n\r\n")]
    [InlineData("HTTP/1.1 418 \r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n")]
    public void TryParse_EveryStrictPrefix_NeedMoreThenCompleteOnTheWhole(string text)
    {
        var buffer = Bytes(text);
        var head = new ResponseHead();
        for (var length = 0; length < buffer.Length; length++)
        {
            var status = head.TryParse(buffer.AsSpan(0, length), requestWasHead: false);
            Assert.True(status == ParseStatus.NeedMore, $"{status} ({head.Error}) on the first {length} bytes of {text}");
        }

        Assert.Equal(ParseStatus.Complete, head.TryParse(buffer, requestWasHead: false));
        Assert.Equal(buffer.Length, head.Length);
        Assert.Null(head.Error);
    }

    [Theory]
    // Version
    [InlineData("HTTP/2.0 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.2 200 OK\r\n\r\n")]
    [InlineData("HTTP/0.9 200 OK\r\n\r\n")]
    [InlineData("http/1.1 200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1\t200 OK\r\n\r\n")]
    [InlineData("HTTP/1.1  200 OK\r\n\r\n")]
    [InlineData(" HTTP/1.1 200 OK\r\n\r\n")]
    [InlineData("HTTP/11 200 OK\r\n\r\n")]
    [InlineData("NOT HTTP AT ALL\r\n\r\n")]
    [InlineData("\r\n\r\n")]
    [InlineData("\n\n")]
    [InlineData("\r\nHTTP/1.1 200 OK\r\n\r\n")]
    // Status
    [InlineData("HTTP/1.1 2x0 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 20\r\n\r\n")]
    [InlineData("HTTP/1.1 20 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 0xx OK\r\n\r\n")]
    [InlineData("HTTP/1.1 099 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 2000 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200OK\r\n\r\n")]
    [InlineData("HTTP/1.1 200\tOK\r\n\r\n")]
    [InlineData("HTTP/1.1 -20 OK\r\n\r\n")]
    [InlineData("HTTP/1.1 OK\r\n\r\n")]
    // Reason
    [InlineData("HTTP/1.1 200 O\0K\r\n\r\n")]
    [InlineData("HTTP/1.1 200 O\u007fK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 O\u0001K\r\n\r\n")]
    // Bare CR
    [InlineData("HTTP/1.1 200 O\rK\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\r\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX\rA: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\r\n\r\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n\rX-A: a\r\n\r\n")]
    // Obsolete line folding
    [InlineData("HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: one\r\n\ttwo\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n X-A: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\n\tX-A: a\n\n")]
    // Field names
    [InlineData("HTTP/1.1 200 OK\r\nX-A : a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A\t: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX A: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX(A): a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX\"A: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX\u00e9: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX\0: a\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\r\nnocolon\r\n\r\n")]
    // Values
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: \0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\u0001b\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\u007fb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\u001fb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\u000bb\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: a\u000c\r\n\r\n")]
    // Content-Length
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\ncontent-length: 3\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1.0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 1000000000000000000\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 0000000000000000000\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n")]
    [InlineData("HTTP/1.1 304 Not Modified\r\nContent-Length: x\r\n\r\n")]
    // Transfer-Encoding
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")]
    public void TryParse_HeadRfc9112Refuses_InvalidWithAReason(string text)
    {
        ParseInvalid(text);
    }

    [Fact]
    public void TryParse_TransferEncodingInHttp10_InvalidEvenForAHeadRequest()
    {
        ParseInvalid("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", requestWasHead: true);
    }

    [Fact]
    public void TryParse_BareCrInAnIncompleteHead_InvalidAtOnce()
    {
        Assert.Contains("CR", ParseInvalid("HTTP/1.1 200 OK\r\nX-A: a\rb"), StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_CrAsTheLastByteReceived_NeedMore()
    {
        var head = new ResponseHead();

        Assert.Equal(ParseStatus.NeedMore, head.TryParse(Bytes("HTTP/1.1 200 OK\r\nX-A: a\r"), requestWasHead: false));
    }

    [Fact]
    public void TryParse_HeadOfExactlyMaxLength_Complete()
    {
        var text = HeadOfLength(ResponseHead.MaxLength);
        var (head, buffer) = Parse(text + "body");

        Assert.Equal(ResponseHead.MaxLength, head.Length);
        Assert.Equal(ResponseHead.MaxLength + 4, buffer.Length);
    }

    [Theory]
    [InlineData(ResponseHead.MaxLength + 1)]
    [InlineData(ResponseHead.MaxLength + 2)]
    [InlineData(ResponseHead.MaxLength + 1000)]
    [InlineData(200_000)]
    public void TryParse_HeadLongerThanMaxLengthWithItsEmptyLine_Invalid(int length)
    {
        var text = HeadOfLength(length);
        Assert.Equal(length, text.Length);

        Assert.Contains("longer", ParseInvalid(text), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(ResponseHead.MaxLength)]
    [InlineData(ResponseHead.MaxLength + 1)]
    [InlineData(200_000)]
    public void TryParse_NoEndWithinMaxLength_Invalid(int length)
    {
        var text = "HTTP/1.1 200 OK\r\nX-Big: " + new string('h', length - 24);
        Assert.Equal(length, text.Length);

        Assert.Contains("longer", ParseInvalid(text), StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_NoEndJustBelowMaxLength_NeedMore()
    {
        var text = "HTTP/1.1 200 OK\r\nX-Big: " + new string('h', ResponseHead.MaxLength - 1 - 24);
        var head = new ResponseHead();

        Assert.Equal(ParseStatus.NeedMore, head.TryParse(Bytes(text), requestWasHead: false));
    }

    [Fact]
    public void TryParse_FewerThanMaxHeadersLinesButLongerThanMaxLength_Invalid()
    {
        var text = "HTTP/1.1 200 OK\r\n" + string.Concat(Enumerable.Range(0, 250).Select(i => $"X-{i:D3}: {new string('v', 290)}\r\n")) + "\r\n";
        Assert.True(text.Length > ResponseHead.MaxLength);

        Assert.Contains("longer", ParseInvalid(text), StringComparison.Ordinal);
    }

    [Fact]
    public void TryParse_MaxHeadersLines_Complete()
    {
        var (head, buffer) = Parse("HTTP/1.1 200 OK\r\n" + Lines(ResponseHead.MaxHeaders) + "\r\n");

        Assert.Equal(ResponseHead.MaxHeaders, head.HeaderCount);
        Assert.Equal(("X-255", "255"), Headers(head, buffer)[^1]);
    }

    [Fact]
    public void TryParse_MoreThanMaxHeadersLines_Invalid()
    {
        Assert.Contains("header lines", ParseInvalid("HTTP/1.1 200 OK\r\n" + Lines(ResponseHead.MaxHeaders + 1) + "\r\n"), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("X-A: caf\u00e9")]
    [InlineData("X-A: \u0080")]
    [InlineData("X-A: ok\r\nX-B: \u00ff")]
    public void InvalidateIfNotAscii_ValueByteAbove7F_SetsError(string lines)
    {
        var (head, buffer) = Parse("HTTP/1.1 200 OK\r\n" + lines + "\r\nContent-Length: 0\r\n\r\n");

        head.InvalidateIfNotAscii(buffer);

        Assert.False(string.IsNullOrWhiteSpace(head.Error));
    }

    [Theory]
    [InlineData("HTTP/1.1 200 OK\r\nX-A: plain ~ ascii\t!\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n")]
    [InlineData("HTTP/1.1 200 OK\r\n\r\n")]
    public void InvalidateIfNotAscii_AsciiValues_LeavesTheHeadValid(string text)
    {
        var (head, buffer) = Parse(text);

        head.InvalidateIfNotAscii(buffer);

        Assert.Null(head.Error);
    }

    [Fact]
    public void InvalidateIfNotAscii_NonAsciiOnlyInTheBodyAfterTheHead_LeavesTheHeadValid()
    {
        var (head, buffer) = Parse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n\u00e9\u00e9");

        head.InvalidateIfNotAscii(buffer);

        Assert.Null(head.Error);
    }

    [Fact]
    public void Invalidate_AfterComplete_SetsTheError()
    {
        var (head, _) = Parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n");

        head.Invalidate("101 Switching Protocols to a request that asked for no upgrade");

        Assert.Equal("101 Switching Protocols to a request that asked for no upgrade", head.Error);
    }

    [Fact]
    public void TryParse_ReusedForADifferentHead_OnlyTheSecondHeadsValues()
    {
        var head = new ResponseHead();
        var first = Bytes("HTTP/1.0 404 Not Found Here\r\nConnection: keep-alive, X-Private\r\nContent-Length: 77\r\nX-1: a\r\nX-2: b\r\nX-3: c\r\n\r\n");
        Assert.Equal(ParseStatus.Complete, head.TryParse(first, requestWasHead: false));
        Assert.True(head.HasConnectionOptions);
        Assert.True(head.KeepAlive);
        Assert.Equal(5, head.HeaderCount);

        var second = Bytes("HTTP/1.1 200\r\nTransfer-Encoding: chunked\r\n\r\n");
        Assert.Equal(ParseStatus.Complete, head.TryParse(second, requestWasHead: false));

        Assert.Equal(200, head.StatusCode);
        Assert.Equal(1, head.MinorVersion);
        Assert.Equal(0, head.ReasonLength);
        Assert.Equal(second.Length, head.Length);
        Assert.Equal(BodyFraming.Chunked, head.Framing);
        Assert.Equal(-1, head.ContentLength);
        Assert.True(head.KeepAlive);
        Assert.False(head.HasConnectionOptions);
        Assert.Null(head.Error);
        Assert.Equal([("Transfer-Encoding", "chunked")], Headers(head, second));

        var third = Bytes("HTTP/1.1 204 No Content\r\n\r\n");
        Assert.Equal(ParseStatus.Complete, head.TryParse(third, requestWasHead: false));
        Assert.Equal(0, head.HeaderCount);
        Assert.Equal(BodyFraming.None, head.Framing);
        Assert.Equal("No Content", Reason(head, third));
    }

    [Fact]
    public void TryParse_ReusedAfterInvalid_ErrorCleared()
    {
        var head = new ResponseHead();
        Assert.Equal(ParseStatus.Invalid, head.TryParse(Bytes("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"), requestWasHead: false));
        Assert.NotNull(head.Error);

        Assert.Equal(ParseStatus.Complete, head.TryParse(Bytes("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n"), requestWasHead: false));

        Assert.Null(head.Error);
        Assert.Equal(3, head.ContentLength);
    }

    [Fact]
    public void TryParse_ReusedAfterInvalidate_ErrorCleared()
    {
        var (head, buffer) = Parse("HTTP/1.1 200 OK\r\nX-A: caf\u00e9\r\n\r\n");
        head.InvalidateIfNotAscii(buffer);
        Assert.NotNull(head.Error);

        Assert.Equal(ParseStatus.Complete, head.TryParse(Bytes("HTTP/1.1 200 OK\r\nX-A: cafe\r\n\r\n"), requestWasHead: false));

        Assert.Null(head.Error);
    }

    [Fact]
    public void TryParse_InformationalThenFinalInOneBuffer_EachParsedFromItsOwnStart()
    {
        var buffer = Bytes("HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        var head = new ResponseHead();

        Assert.Equal(ParseStatus.Complete, head.TryParse(buffer, requestWasHead: false));
        Assert.True(head.IsInformational);
        Assert.Equal(BodyFraming.None, head.Framing);
        var first = head.Length;

        Assert.Equal(ParseStatus.Complete, head.TryParse(buffer.AsSpan(first), requestWasHead: false));
        Assert.Equal(200, head.StatusCode);
        Assert.Equal(BodyFraming.ContentLength, head.Framing);
        Assert.Equal(buffer.Length - 2, first + head.Length);
    }

    /// <summary>A valid head of exactly <paramref name="length"/> bytes (one big header line).</summary>
    private static string HeadOfLength(int length)
    {
        const string Start = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Big: ";
        return Start + new string('h', length - Start.Length - 4) + "\r\n\r\n";
    }

    private static string Lines(int count) => string.Concat(Enumerable.Range(0, count).Select(i => $"X-{i}: {i}\r\n"));
}
