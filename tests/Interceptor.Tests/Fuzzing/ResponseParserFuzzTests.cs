using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using Updraft.Interceptor.Forwarding.Http1;
using Updraft.Tests.Common.Fuzzing;

namespace Updraft.Interceptor.Tests.Fuzzing;

/// <summary>
/// The lean path's upstream response parsers. <see cref="ResponseHead.TryParse"/>: on any bytes it never throws,
/// allocates nothing to speak of, stays within the buffer, and agrees with a naive reference written here from its
/// documented rules (RFC 9112) on what is complete, incomplete or invalid and on everything it reads; a head written
/// from a model (token names, visible-ASCII values, any Content-Length) reads back as the model, and each of its
/// prefixes asks for more. <see cref="ChunkedDecoder"/>: a body encoded from a model (any chunk sizes, extensions,
/// trailers, line ends) decodes to the model's data however it is split into reads, and on any bytes the outcome
/// does not depend on the split, and no data slice leaves the input.
/// </summary>
/// <remarks>The seeds are kept here rather than under <c>tests/corpus/</c>: the model generators reach further than files would.</remarks>
public sealed partial class ResponseParserFuzzTests
{
    private const string TokenChars = "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

    private static readonly string[] HeadSeeds =
    [
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\nabc",
        "HTTP/1.1 204 No Content\r\nX-A: a\r\n\r\n",
        "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200\nContent-Length: 2\nX-A: a\n\nok",
        "HTTP/1.1 418 \r\nConnection: X-Private, close\r\nX-A:  \t padded \t \r\n\r\n",
        "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 42\r\n\r\n",
        "HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
    ];

    private static readonly string[] ChunkedSeeds =
    [
        "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n",
        "A\r\n0123456789\r\n0\r\n\r\n",
        "5\nhello\n0\n\n",
        "3 ;a=\"b c\"\r\nabc\r\n0\r\nT: v\r\nU:\r\n\r\n",
        "0000000000000010\r\n",
    ];

    /// <summary>Bytes that change what a head or a chunk line means.</summary>
    private static readonly byte[] Interesting = [(byte)'\r', (byte)'\n', 0, (byte)'\t', (byte)' ', (byte)':', (byte)',', (byte)';', (byte)'0', (byte)'9', (byte)'a', (byte)'F', (byte)'-', 0x01, 0x7F, 0x80, 0xFF];

    // ---------------------------------------------------------------- ResponseHead

    private sealed record Field(string Name, string Value, string Before, string After, bool BareLf, int Order);

    private sealed record HeadModel(int Minor, int Status, string? Reason, Field[] Fields, long? ContentLength, bool Chunked, string[]? Connection, bool RequestWasHead, bool BareLf, byte[] Body)
    {
        public string Head
        {
            get
            {
                var text = new StringBuilder($"HTTP/1.{Minor} {Status}");
                text.Append(Reason is null ? "" : " " + Reason).Append(BareLf ? "\n" : "\r\n");
                foreach (var line in Fields)
                {
                    text.Append(line.Name).Append(':').Append(line.Before).Append(line.Value).Append(line.After).Append(line.BareLf ? "\n" : "\r\n");
                }

                return text.Append(BareLf ? "\n" : "\r\n").ToString();
            }
        }

        public byte[] Bytes => [.. Encoding.Latin1.GetBytes(Head), .. Body];

        public override string ToString() => Fuzz.Show(Head) + (RequestWasHead ? " (to HEAD)" : "");
    }

    private static readonly Gen<string> Ows = Gen.OneOf("", "", " ", "\t", "  ", " \t ");

    private static readonly Gen<string> Names = Gen.String[Gen.Char[TokenChars], 1, 16]
        .Where(name => !name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase) && !name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase) && !name.Equals("Connection", StringComparison.OrdinalIgnoreCase));

    private static readonly Gen<string> Values = Gen.String[Gen.Frequency((10, Gen.Char['!', '~']), (1, Gen.Char[" \t"])), 0, 40].Select(value => value.Trim(' ', '\t'));

    private static readonly Gen<Field> Fields = Gen.Select(Names, Values, Ows, Ows, Gen.Bool, Gen.Int, (name, value, before, after, bareLf, order) => new Field(name, value, before, after, bareLf, order));

    private static readonly Gen<HeadModel> Heads = Gen.Select(
        Gen.Select(Gen.Int[0, 1], Gen.Frequency((1, Gen.Int[100, 199]), (6, Gen.Int[200, 599]), (1, Gen.OneOf(204, 304)), (1, Gen.Int[600, 999])), Gen.Frequency((1, Gen.Const((string?)null)), (1, Gen.Const((string?)"")), (4, Values.Select(v => (string?)v))), (minor, status, reason) => (minor, status, reason)),
        Fields.Array[0, 12],
        Gen.Frequency((3, Gen.Const((long?)null)), (2, Gen.Long[0, 100_000].Select(n => (long?)n)), (1, Gen.Long[0, 999_999_999_999_999_999].Select(n => (long?)n))),
        Gen.Bool,
        Gen.Frequency((2, Gen.Const((string[]?)null)), (1, Gen.OneOf("close", "keep-alive", "Keep-Alive", "CLOSE", "X-Private", "upgrade", "").Array[1, 3].Select(tokens => (string[]?)tokens))),
        Gen.Select(Gen.Bool, Gen.Bool, Gen.Int, Gen.Int, Gen.Int, (head, bareLf, a, b, c) => (head, bareLf, order: (a, b, c))),
        Gen.Byte.Array[0, 16],
        (status, fields, length, chunked, connection, misc, body) =>
        {
            var all = fields.ToList();
            chunked &= status.minor == 1 && length is null;
            if (length is { } n)
            {
                all.Add(new Field("Content-Length", n.ToString(System.Globalization.CultureInfo.InvariantCulture), " ", "", false, misc.order.a));
            }

            if (chunked)
            {
                all.Add(new Field((misc.order.a & 1) == 0 ? "Transfer-Encoding" : "transfer-ENCODING", (misc.order.b & 1) == 0 ? "chunked" : "Chunked", " ", "", false, misc.order.b));
            }

            if (connection is not null)
            {
                all.Add(new Field("Connection", string.Join((misc.order.c & 1) == 0 ? ", " : ",", connection).Trim(' ', '\t'), " ", "", false, misc.order.c));
            }

            return new HeadModel(status.minor, status.status, status.reason, [.. all.OrderBy(f => f.Order)], length, chunked, connection, misc.head, misc.bareLf, body);
        });

    private sealed record Edit(int Kind, int Position, int Length, byte Byte);

    private static readonly Gen<Edit> Edits = Gen.Select(Gen.Int[0, 6], Gen.Int[0, int.MaxValue], Gen.Int[0, 12], Gen.Frequency((3, Gen.OneOf(Interesting)), (1, Gen.Byte)), (kind, position, length, b) => new Edit(kind, position, length, b));

    /// <summary>Bytes near <paramref name="valid"/>: a few byte edits (delete, insert, replace, duplicate, cut, flip case, insert a CRLF).</summary>
    private static Gen<byte[]> Mutated(Gen<byte[]> valid) => Gen.Select(valid, Edits.Array[1, 4], (bytes, edits) =>
    {
        var list = bytes.ToList();
        foreach (var edit in edits)
        {
            var at = edit.Position % (list.Count + 1);
            var length = Math.Min(edit.Length, list.Count - at);
            switch (edit.Kind)
            {
                case 0:
                    list.RemoveRange(at, length);
                    break;
                case 1:
                    list.Insert(at, edit.Byte);
                    break;
                case 2:
                    if (at < list.Count)
                    {
                        list[at] = edit.Byte;
                    }

                    break;
                case 3:
                    list.InsertRange(at, list.GetRange(at, length));
                    break;
                case 4:
                    list.RemoveRange(at, list.Count - at);
                    break;
                case 5:
                    if (at < list.Count && char.IsAsciiLetter((char)list[at]))
                    {
                        list[at] ^= 0x20;
                    }

                    break;
                default:
                    list.InsertRange(at, "\r\n"u8.ToArray());
                    break;
            }
        }

        return list.ToArray();
    });

    private static readonly Gen<(byte[] Buffer, bool RequestWasHead)> AnyResponses = Gen.Select(
        Gen.Frequency(
            (4, Mutated(Heads.Select(h => h.Bytes))),
            (3, Hostile.Mutated(HeadSeeds).Select(Encoding.UTF8.GetBytes)),
            (1, Mutated(Gen.OneOf(HeadSeeds).Select(Encoding.Latin1.GetBytes))),
            (1, Gen.Byte.Array[0, 200]),
            (1, Gen.Select(Gen.OneOf("HTTP/1.1 200 OK\r\n", "HTTP/1.0 200 OK\r\n", ""), Gen.OneOf(Interesting).Array[0, 40], (start, bytes) => (byte[])[.. Encoding.ASCII.GetBytes(start), .. bytes]))),
        Gen.Bool,
        (buffer, head) => (buffer, head));

    /// <summary>A head parsed before each input: nothing of it may show in what the input parses to.</summary>
    private static readonly byte[] PreviousHead = Encoding.ASCII.GetBytes("HTTP/1.0 404 Not Found\r\nConnection: keep-alive, X-Private\r\nContent-Length: 77\r\nX-1: a\r\nX-2: b\r\n\r\n");

    [Fact]
    public void TryParse_AnyBytes_AgreesWithTheReferenceAndStaysInTheBuffer()
    {
        // One instance per input (CsCheck runs inputs on several threads), reused after another head as on a connection.
        Fuzz.Check(AnyResponses, r =>
        {
            var head = new ResponseHead();
            if (head.TryParse(PreviousHead, requestWasHead: false) != ParseStatus.Complete)
            {
                throw new FuzzFailure($"the previous head is {head.Error}");
            }

            AgreesWithTheReference(head, r.Buffer, r.RequestWasHead);
        }, iterations: 3_000, print: r => Fuzz.Show(Encoding.Latin1.GetString(r.Buffer)) + (r.RequestWasHead ? " (to HEAD)" : ""));
    }

    [Fact]
    public void TryParse_HeadFromModel_ReadsBackAsTheModelAndEveryPrefixNeedsMore()
    {
        Fuzz.Check(Heads, model => ReadsBackAsTheModel(new ResponseHead(), model), iterations: 1_000);
    }

    private static void AgreesWithTheReference(ResponseHead head, byte[] buffer, bool requestWasHead)
    {
        var status = Fuzz.Bounded(() => head.TryParse(buffer, requestWasHead), maxBytes: 4_096, "TryParse");
        var actual = Read(head, status);
        if (status == ParseStatus.Complete)
        {
            if (head.Length <= 0 || head.Length > buffer.Length || head.Error is not null)
            {
                throw new FuzzFailure($"Complete with Length {head.Length} of {buffer.Length} bytes, error {head.Error}");
            }

            foreach (var h in head.Headers)
            {
                if (h.NameStart < 0 || h.NameLength <= 0 || h.ValueStart < h.NameStart + h.NameLength || h.ValueLength < 0 || h.ValueStart + h.ValueLength > head.Length)
                {
                    throw new FuzzFailure($"header range {h} outside the head of {head.Length} bytes");
                }
            }

            if (head.ReasonStart + head.ReasonLength > head.Length)
            {
                throw new FuzzFailure($"reason {head.ReasonStart}+{head.ReasonLength} outside the head of {head.Length} bytes");
            }

            // The bytes after the head change nothing, and a byte less is not a head.
            var again = Read(head, head.TryParse(buffer.AsSpan(0, actual.Length), requestWasHead));
            if (again != actual)
            {
                throw new FuzzFailure($"the head alone parses as {again}, the head with what follows as {actual}");
            }

            if (head.TryParse(buffer.AsSpan(0, actual.Length - 1), requestWasHead) != ParseStatus.NeedMore)
            {
                throw new FuzzFailure($"the head less its last byte is {head.Error ?? "complete"}");
            }
        }
        else if (status == ParseStatus.Invalid && string.IsNullOrWhiteSpace(head.Error))
        {
            throw new FuzzFailure("Invalid without an error");
        }

        var expected = Reference(buffer, requestWasHead);
        if (actual != expected)
        {
            throw new FuzzFailure($"parsed as {actual} ({head.Error}); the reference says {expected}");
        }
    }

    private static void ReadsBackAsTheModel(ResponseHead head, HeadModel model)
    {
        var buffer = model.Bytes;
        var headLength = buffer.Length - model.Body.Length;
        for (var length = 0; length < headLength; length++)
        {
            if (head.TryParse(buffer.AsSpan(0, length), model.RequestWasHead) != ParseStatus.NeedMore)
            {
                throw new FuzzFailure($"the first {length} bytes are not NeedMore ({head.Error ?? "complete"})");
            }
        }

        if (head.TryParse(buffer, model.RequestWasHead) != ParseStatus.Complete)
        {
            throw new FuzzFailure($"invalid: {head.Error}");
        }

        var noBody = model.RequestWasHead || model.Status < 200 || model.Status is 204 or 304;
        var framing = noBody ? BodyFraming.None : model.Chunked ? BodyFraming.Chunked : model.ContentLength is not null ? BodyFraming.ContentLength : BodyFraming.UntilClose;
        var tokens = model.Connection ?? [];
        var close = tokens.Any(t => t.Equals("close", StringComparison.OrdinalIgnoreCase));
        var keepAliveToken = tokens.Any(t => t.Equals("keep-alive", StringComparison.OrdinalIgnoreCase));
        var keepAlive = !close && (model.Minor == 1 || keepAliveToken) && framing != BodyFraming.UntilClose;
        var options = tokens.Any(t => t.Length > 0 && !t.Equals("close", StringComparison.OrdinalIgnoreCase) && !t.Equals("keep-alive", StringComparison.OrdinalIgnoreCase));
        var expected = (headLength, model.Status, model.Minor, model.Reason ?? "", framing, model.ContentLength ?? -1, keepAlive, options);
        var actual = (head.Length, head.StatusCode, head.MinorVersion, Encoding.Latin1.GetString(buffer, head.ReasonStart, head.ReasonLength), head.Framing, head.ContentLength, head.KeepAlive, head.HasConnectionOptions);
        if (actual != expected)
        {
            throw new FuzzFailure($"read {actual}, expected {expected}");
        }

        var fields = head.Headers.ToArray().Select(h => (Encoding.Latin1.GetString(buffer, h.NameStart, h.NameLength), Encoding.Latin1.GetString(buffer, h.ValueStart, h.ValueLength))).ToArray();
        if (!fields.SequenceEqual(model.Fields.Select(f => (f.Name, f.Value))))
        {
            throw new FuzzFailure($"read the fields [{string.Join(" | ", fields.Select(f => Fuzz.Show(f.Item1 + ": " + f.Item2)))}]");
        }

        head.InvalidateIfNotAscii(buffer);
        if (head.Error is not null)
        {
            throw new FuzzFailure($"ASCII values called not ASCII: {head.Error}");
        }
    }

    /// <summary>What a parse gave, as comparable text: status and, when complete, every value read.</summary>
    private sealed record Parsed(ParseStatus Status, int Length = 0, int Code = 0, int Minor = 0, string Reason = "", string Headers = "", BodyFraming Framing = BodyFraming.None, long ContentLength = 0, bool KeepAlive = false, bool Options = false);

    private static Parsed Read(ResponseHead head, ParseStatus status) => status != ParseStatus.Complete
        ? new Parsed(status)
        : new Parsed(status, head.Length, head.StatusCode, head.MinorVersion, $"{head.ReasonStart}+{head.ReasonLength}", string.Join(";", head.Headers.ToArray().Select(h => $"{h.NameStart},{h.NameLength},{h.ValueStart},{h.ValueLength}")), head.Framing, head.ContentLength, head.KeepAlive, head.HasConnectionOptions);

    /// <summary>
    /// <see cref="ResponseHead"/>'s rules, naively: the head ends at the first empty line after the status line; a CR
    /// not followed by LF before that end (but as the last byte received) is refused; the status line and each field
    /// line must match the RFC 9112 grammar as the parser restricts it; then Content-Length, Transfer-Encoding and
    /// Connection decide framing and keep-alive.
    /// </summary>
    private static Parsed Reference(byte[] buffer, bool requestWasHead)
    {
        var invalid = new Parsed(ParseStatus.Invalid);
        var text = Encoding.Latin1.GetString(buffer);
        var end = -1;
        for (int start = 0, lf; (lf = text.IndexOf('\n', start)) >= 0; start = lf + 1)
        {
            if (start > 0 && (lf == start || (lf == start + 1 && text[start] == '\r')))
            {
                end = lf + 1;
                break;
            }
        }

        for (var i = 0; i < (end < 0 ? text.Length - 1 : end); i++)
        {
            if (text[i] == '\r' && text[i + 1] != '\n')
            {
                return invalid;
            }
        }

        if (end < 0)
        {
            return text.Length >= ResponseHead.MaxLength ? invalid : new Parsed(ParseStatus.NeedMore);
        }

        if (end > ResponseHead.MaxLength)
        {
            return invalid;
        }

        var lines = new List<(int Start, string Text)>();
        for (var start = 0; start < end;)
        {
            var lf = text.IndexOf('\n', start);
            lines.Add((start, text[start..lf].TrimEnd('\r')));
            start = lf + 1;
        }

        lines.RemoveAt(lines.Count - 1); // the empty line
        var statusLine = StatusLine().Match(lines[0].Text);
        if (!statusLine.Success || lines.Count - 1 > ResponseHead.MaxHeaders)
        {
            return invalid;
        }

        var minor = statusLine.Groups[1].Value == "1" ? 1 : 0;
        var code = int.Parse(statusLine.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        var reason = statusLine.Groups[3].Success ? $"13+{statusLine.Groups[3].Length}" : "0+0";
        var ranges = new List<string>();
        long? contentLength = null;
        var lengths = 0;
        var encodings = new List<string>();
        var tokens = new List<string>();
        foreach (var (start, line) in lines.Skip(1))
        {
            var field = FieldLine().Match(line);
            if (!field.Success || !FieldValue().IsMatch(field.Groups[2].Value))
            {
                return invalid;
            }

            ranges.Add($"{start},{field.Groups[1].Length},{start + field.Groups[2].Index},{field.Groups[2].Length}");
            var (name, value) = (field.Groups[1].Value, field.Groups[2].Value);
            if (name.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                lengths++;
                contentLength = ContentLengthValue().IsMatch(value) ? long.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : null;
                if (contentLength is null)
                {
                    return invalid;
                }
            }
            else if (name.Equals("Transfer-Encoding", StringComparison.OrdinalIgnoreCase))
            {
                encodings.Add(value);
            }
            else if (name.Equals("Connection", StringComparison.OrdinalIgnoreCase))
            {
                tokens.AddRange(value.Split(',').Select(t => t.Trim(' ', '\t')).Where(t => t.Length > 0));
            }
        }

        var chunked = encodings.Count > 0;
        if (lengths > 1 || encodings.Count > 1 || encodings.Any(e => !e.Equals("chunked", StringComparison.OrdinalIgnoreCase)) || (chunked && (lengths > 0 || minor == 0)))
        {
            return invalid;
        }

        var framing = requestWasHead || code < 200 || code is 204 or 304 ? BodyFraming.None
            : chunked ? BodyFraming.Chunked
            : contentLength is not null ? BodyFraming.ContentLength
            : BodyFraming.UntilClose;
        var close = tokens.Any(t => t.Equals("close", StringComparison.OrdinalIgnoreCase));
        var keepAlive = framing != BodyFraming.UntilClose && !close && (minor == 1 || tokens.Any(t => t.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)));
        var options = tokens.Any(t => !t.Equals("close", StringComparison.OrdinalIgnoreCase) && !t.Equals("keep-alive", StringComparison.OrdinalIgnoreCase));
        return new Parsed(ParseStatus.Complete, end, code, minor, reason, string.Join(";", ranges), framing, contentLength ?? -1, keepAlive, options);
    }

    [GeneratedRegex(@"^HTTP/1\.([01]) ([1-9][0-9][0-9])(?: ([\t\x20-\x7E\x80-\xFF]*))?\z")]
    private static partial Regex StatusLine();

    [GeneratedRegex(@"^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*(.*?)[ \t]*\z", RegexOptions.Singleline)]
    private static partial Regex FieldLine();

    [GeneratedRegex(@"^[\t\x20-\x7E\x80-\xFF]*\z")]
    private static partial Regex FieldValue();

    [GeneratedRegex(@"^[0-9]{1,18}\z")]
    private static partial Regex ContentLengthValue();

    // ---------------------------------------------------------------- ChunkedDecoder

    private sealed record Chunk(byte[] Data, int Zeros, bool Upper, string Extension, bool SizeBareLf, bool DataBareLf);

    private sealed record BodyModel(Chunk[] Chunks, int LastZeros, string LastExtension, (string Name, string Value, bool BareLf)[] Trailers, bool EndBareLf)
    {
        public byte[] Encoded
        {
            get
            {
                var body = new List<byte>();
                foreach (var chunk in Chunks)
                {
                    var size = new string('0', chunk.Zeros) + chunk.Data.Length.ToString(chunk.Upper ? "X" : "x", System.Globalization.CultureInfo.InvariantCulture);
                    body.AddRange(Encoding.Latin1.GetBytes(size + chunk.Extension + (chunk.SizeBareLf ? "\n" : "\r\n")));
                    body.AddRange(chunk.Data);
                    body.AddRange(chunk.DataBareLf ? "\n"u8.ToArray() : "\r\n"u8.ToArray());
                }

                var end = new StringBuilder(new string('0', 1 + LastZeros)).Append(LastExtension).Append("\r\n");
                foreach (var (name, value, bareLf) in Trailers)
                {
                    end.Append(name).Append(": ").Append(value).Append(bareLf ? "\n" : "\r\n");
                }

                body.AddRange(Encoding.Latin1.GetBytes(end.Append(EndBareLf ? "\n" : "\r\n").ToString()));
                return [.. body];
            }
        }

        public byte[] Data => [.. Chunks.SelectMany(c => c.Data)];

        public override string ToString() => Fuzz.Show(Encoding.Latin1.GetString(Encoded));
    }

    private static readonly Gen<string> Extensions = Gen.Frequency(
        (4, Gen.Const("")),
        (2, Gen.OneOf(";a=b", "; a", " ;x", "\t;x=\"q s\"", " ", ";", " \t", ";a;b=c;d=\"\\\"\"")),
        (2, Gen.Select(Ows, Gen.String[Gen.Frequency((8, Gen.Char[' ', '~']), (1, Gen.Char['\u0080', '\u00ff']), (1, Gen.Const('\t'))), 0, 30], (ws, ext) => ws + ";" + ext)));

    private static readonly Gen<Chunk> Chunks = Gen.Select(
        Gen.Frequency((8, Gen.Byte.Array[1, 64]), (2, Gen.Byte.Array[1, 600]), (1, Gen.Byte.Array[4_000, 20_000])),
        Gen.Frequency((4, Gen.Const(0)), (1, Gen.Int[1, 3])),
        Gen.Bool,
        Extensions,
        Gen.Frequency((4, Gen.Const(false)), (1, Gen.Const(true))),
        Gen.Frequency((4, Gen.Const(false)), (1, Gen.Const(true))),
        (data, zeros, upper, extension, sizeBareLf, dataBareLf) => new Chunk(data, Math.Min(zeros, 14 - data.Length.ToString("x", System.Globalization.CultureInfo.InvariantCulture).Length), upper, extension, sizeBareLf, dataBareLf));

    private static readonly Gen<BodyModel> Bodies = Gen.Select(
        Chunks.Array[0, 8],
        Gen.Int[0, 3],
        Extensions,
        Gen.Select(Names, Values, Gen.Bool, (name, value, bareLf) => (name, value, bareLf)).Array[0, 3],
        Gen.Bool,
        (chunks, zeros, extension, trailers, bareLf) => new BodyModel(chunks, zeros, extension, trailers, bareLf));

    /// <summary>Where to cut an input of some length into reads: any number of cut points (taken modulo the length).</summary>
    private static readonly Gen<int[]> Cuts = Gen.Int[0, int.MaxValue].Array[0, 10];

    [Fact]
    public void Decode_BodyFromModelInAnyReads_DecodesToTheModelsDataAndStopsAtItsEnd()
    {
        Fuzz.Check(Gen.Select(Bodies, Cuts, Gen.Byte.Array[0, 8], (body, cuts, after) => (Body: body, Cuts: cuts, After: after)), c =>
        {
            var encoded = c.Body.Encoded;
            var input = (byte[])[.. encoded, .. c.After];
            var outcome = Feed(Split(input, c.Cuts));
            var expected = new ChunkOutcome(ChunkStatus.Done, Convert.ToHexString(c.Body.Data), encoded.Length, null);
            if (outcome != expected)
            {
                throw new FuzzFailure($"decoded {outcome}; expected {expected}");
            }
        }, iterations: 800, print: c => $"{c.Body} + {Fuzz.Show(c.After)} cut at {string.Join(",", c.Cuts)}");
    }

    [Fact]
    public void Decode_AnyBytesInAnyReads_SameOutcomeAndDataWithinTheInput()
    {
        var inputs = Gen.Frequency(
            (4, Mutated(Bodies.Select(b => b.Encoded).Where(b => b.Length < 4_000))),
            (2, Hostile.Mutated(ChunkedSeeds).Select(Encoding.UTF8.GetBytes)),
            (1, Gen.Byte.Array[0, 200]),
            (1, Gen.Select(Gen.OneOf("5", "0", "a", ""), Gen.OneOf(Interesting).Array[0, 40], (start, bytes) => (byte[])[.. Encoding.ASCII.GetBytes(start), .. bytes])));
        Fuzz.Check(Gen.Select(inputs, Cuts, (input, cuts) => (Input: input, Cuts: cuts)), c =>
        {
            var whole = Fuzz.Bounded(() => Feed([c.Input]), maxBytes: 1_000_000 + (8L * c.Input.Length), "Decode");
            var split = Feed(Split(c.Input, c.Cuts));
            var bytewise = Feed(c.Input.Select(b => new[] { b }));
            if (split != whole || bytewise != whole)
            {
                throw new FuzzFailure($"in one read {whole}; cut at {string.Join(",", c.Cuts)} {split}; byte by byte {bytewise}");
            }
        }, iterations: 2_000, print: c => Fuzz.Show(Encoding.Latin1.GetString(c.Input)) + " cut at " + string.Join(",", c.Cuts));
    }

    private static List<byte[]> Split(byte[] input, int[] cuts)
    {
        var points = cuts.Select(cut => cut % (input.Length + 1)).Append(0).Append(input.Length).Distinct().Order().ToArray();
        return [.. points.Zip(points.Skip(1), (start, end) => input[start..end])];
    }

    /// <summary>How decoding went: the last status, the data (hex), the bytes consumed in all, the error.</summary>
    private sealed record ChunkOutcome(ChunkStatus Status, string Data, long Consumed, string? Error);

    /// <summary>
    /// Feeds the reads in order (after data, the rest of the read, even empty; after NeedMore, the next read), failing
    /// when consumed or a data slice leaves the input, when NeedMore leaves input unconsumed, or data comes empty.
    /// </summary>
    private static ChunkOutcome Feed(IEnumerable<byte[]> reads)
    {
        var decoder = new ChunkedDecoder();
        var data = new List<byte>();
        long total = 0;
        var status = ChunkStatus.NeedMore;
        foreach (var read in reads)
        {
            var offset = 0;
            while (true)
            {
                var input = read.AsSpan(offset);
                status = decoder.Decode(input, out var consumed, out var range);
                if (consumed < 0 || consumed > input.Length)
                {
                    throw new FuzzFailure($"{status} consumed {consumed} of {input.Length} bytes");
                }

                total += consumed;
                offset += consumed;
                switch (status)
                {
                    case ChunkStatus.Data:
                        var (start, length) = range.GetOffsetAndLength(input.Length);
                        if (length <= 0 || start + length != consumed)
                        {
                            throw new FuzzFailure($"data {range} with {consumed} consumed of {input.Length} bytes");
                        }

                        data.AddRange(input.Slice(start, length));
                        break;
                    case ChunkStatus.NeedMore when consumed != input.Length:
                        throw new FuzzFailure($"NeedMore consumed {consumed} of {input.Length} bytes");
                    case ChunkStatus.Done or ChunkStatus.Invalid:
                        if ((status == ChunkStatus.Invalid) == string.IsNullOrWhiteSpace(decoder.Error))
                        {
                            throw new FuzzFailure($"{status} with error {decoder.Error}");
                        }

                        return new ChunkOutcome(status, Convert.ToHexString([.. data]), total, decoder.Error);
                }

                if (status == ChunkStatus.NeedMore)
                {
                    break;
                }
            }
        }

        return new ChunkOutcome(status, Convert.ToHexString([.. data]), total, decoder.Error);
    }
}
