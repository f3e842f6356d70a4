using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;
using Yarp.ReverseProxy.Forwarder;

namespace Updraft.Interceptor.Forwarding.Http1;

/// <summary>
/// The lean forwarding path (<c>UPDRAFT_LEAN_FORWARDING</c>): an HTTP/1.1 request without a body, forwarded to a
/// plain-HTTP/1.1 upstream over a pooled socket of our own, instead of through YARP, <see cref="HttpRequestMessage"/>
/// and <see cref="SocketsHttpHandler"/>. The request head is written straight from Kestrel's parsed request in one
/// send; the response head is parsed strictly (<see cref="ResponseHead"/>) and the body streamed into Kestrel's
/// response pipe (Content-Length, chunked or close-delimited). Everything else goes through YARP:
/// <see cref="CanForward"/> decides, once per attempt, from the request and the target.
/// </summary>
/// <remarks>
/// What reaches the upstream is what YARP and <see cref="ProxyTransformer"/> send: the client's request line (this path
/// takes only targets that need no re-encoding), <c>Host</c> first, then the client's headers in Kestrel's order
/// without the hop-by-hop ones YARP drops, several lines of one name joined into one (<c>", "</c>, or <c>"; "</c> for
/// <c>Cookie</c>), then <c>X-Forwarded-For</c>, <c>-Host</c> and <c>-Proto</c> as <see cref="ProxyTransformer"/>
/// sets them. The response goes back with the same header rules (hop-by-hop and <c>Connection</c>-listed names
/// dropped, no length on 204/205, the cold-start header). Failures are reported as YARP reports them (the same
/// <see cref="ForwarderError"/> and an exception of the same kind in <see cref="IForwarderErrorFeature"/>), so
/// <see cref="ProxyHandler"/> answers both paths alike. A request that fails on a reused connection before any
/// response byte (the upstream closed it while idle) is sent once more on a new connection: it has no body, so
/// nothing is lost or sent twice that the upstream saw.
/// </remarks>
internal sealed class Http1Forwarder(UpstreamConnectionPool pool, RetryingConnector connector)
{
    public const string Variable = "UPDRAFT_LEAN_FORWARDING";

    private const int InitialBufferSize = 8 * 1024;
    private const string XForwardedFor = "X-Forwarded-For";
    private const string XForwardedHost = "X-Forwarded-Host";
    private const string XForwardedProto = "X-Forwarded-Proto";

    /// <summary>The request headers YARP does not forward (its hop-by-hop list); <c>Host</c> is written first.</summary>
    private static readonly HashSet<string> SkippedRequestHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        HeaderNames.Host, HeaderNames.Connection, HeaderNames.TransferEncoding, HeaderNames.KeepAlive, HeaderNames.Upgrade,
        "Proxy-Connection", HeaderNames.ProxyAuthenticate, "Proxy-Authentication-Info", HeaderNames.ProxyAuthorization,
        "Proxy-Features", "Proxy-Instruction", "Security-Scheme", "ALPN", "Close", "HTTP2-Settings", HeaderNames.TE,
        HeaderNames.AltSvc, HeaderNames.UpgradeInsecureRequests, XForwardedFor,
    };

    /// <summary>The response headers YARP does not forward; <c>Content-Length</c> is set from the framing.</summary>
    private static readonly byte[][] SkippedResponseHeaders =
    [
        "Connection"u8.ToArray(), "Transfer-Encoding"u8.ToArray(), "Keep-Alive"u8.ToArray(), "Upgrade"u8.ToArray(),
        "Proxy-Connection"u8.ToArray(), "Proxy-Authenticate"u8.ToArray(), "Proxy-Authentication-Info"u8.ToArray(),
        "Proxy-Authorization"u8.ToArray(), "Proxy-Features"u8.ToArray(), "Proxy-Instruction"u8.ToArray(),
        "Security-Scheme"u8.ToArray(), "ALPN"u8.ToArray(), "Close"u8.ToArray(), "HTTP2-Settings"u8.ToArray(),
        "TE"u8.ToArray(), "Alt-Svc"u8.ToArray(), "Upgrade-Insecure-Requests"u8.ToArray(), "Content-Length"u8.ToArray(),
    ];

    // RFC 3986 pchar and "/" without "%" (a path with escapes is re-encoded by YARP, see RequestTarget); the query
    // may have escapes and "?".
    private static readonly SearchValues<char> PathChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/");

    private static readonly SearchValues<char> QueryChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/?%");

    private readonly CancellationSourcePool _sources = new();

    /// <summary>
    /// Whether this path forwards the request: HTTP/1.1 from the client, no body, no upgrade, no <c>Expect</c>, a
    /// <c>Connection</c> header of at most <c>keep-alive</c> or <c>close</c>, a request target that goes out as it came
    /// (origin form, no percent-encoding, no dot segment), and a plain HTTP/1.1 upstream.
    /// </summary>
    public static bool CanForward(HttpContext context, UpstreamTarget target, string prefix)
    {
        var request = context.Request;
        var headers = request.Headers;
        if (!HttpProtocol.IsHttp11(request.Protocol)
            || !prefix.StartsWith("http://", StringComparison.Ordinal)
            || target.Config.Version != HttpVersion.Version11
            || request.ContentLength is not null
            || headers.ContainsKey(HeaderNames.TransferEncoding)
            || headers.ContainsKey(HeaderNames.Upgrade)
            || headers.ContainsKey(HeaderNames.Expect)
            || !request.Host.HasValue)
        {
            return false;
        }

        var connection = headers.Connection;
        if (connection.Count > 1 || (connection.Count == 1
            && !string.Equals(connection[0], "keep-alive", StringComparison.OrdinalIgnoreCase)
            && !string.Equals(connection[0], "close", StringComparison.OrdinalIgnoreCase)))
        {
            return false;
        }

        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (rawTarget is null || rawTarget.Length == 0 || rawTarget[0] != '/')
        {
            return false;
        }

        // The path Kestrel routed (decoded, dot segments removed) must be the raw one, byte for byte; the query goes
        // out as it came on both paths.
        var query = rawTarget.IndexOf('?', StringComparison.Ordinal);
        var path = query < 0 ? rawTarget.AsSpan() : rawTarget.AsSpan(0, query);
        return !path.ContainsAnyExcept(PathChars)
            && (query < 0 || !rawTarget.AsSpan(query).ContainsAnyExcept(QueryChars))
            && request.PathBase.Value is null or ""
            && path.SequenceEqual(request.Path.Value);
    }

    /// <param name="requestAborted">The client leaving or the request deadline passing (<c>RequestAborted</c> is the client's alone).</param>
    // Pooled state machines: a forwarded request allocates none of its own in the steady state.
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<ForwarderError> SendAsync(HttpContext context, string prefix, UpstreamTarget target, ProxyTransformer transformer, CancellationToken requestAborted)
    {
        var endpoint = pool.For(prefix);
        var buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
        var timeouts = _sources.Rent();
        var link = requestAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeouts);
        UpstreamConnection? connection = null;
        var phase = Phase.Connect;
        try
        {
            var headLength = WriteRequestHead(context, ref buffer);
            var idle = target.Config.ActivityTimeout ?? Timeout.InfiniteTimeSpan;
            var headerLimit = target.ResponseHeaderTimeout > TimeSpan.Zero ? target.ResponseHeaderTimeout : idle;
            var isHead = HttpMethods.IsHead(context.Request.Method);
            var received = 0;
            var start = 0;
            while (true)
            {
                connection = pool.TakeIdle(endpoint);
                phase = Phase.Connect;
                if (connection is null)
                {
                    connection = new UpstreamConnection(await connector.ConnectSocketAsync(endpoint.Address, timeouts.Token), endpoint);
                    pool.Opened();
                }
                phase = Phase.Send;
                timeouts.CancelAfter(headerLimit);
                bool stale;
                try
                {
                    await connection.Socket.SendAsync(buffer.AsMemory(0, headLength), SocketFlags.None, timeouts.Token);
                    phase = Phase.ResponseHead;
                    (buffer, received, start, stale) = await ReceiveHeadAsync(connection, buffer, isHead, timeouts.Token);
                }
                catch (SocketException) when (phase == Phase.Send && connection.Reused && !timeouts.IsCancellationRequested)
                {
                    stale = true;
                }

                if (!stale)
                {
                    break;
                }

                // Closed by the upstream while it was idle in the pool, before any byte of a response: send again on
                // another connection (.NET's client does the same). The request head is still in the buffer.
                connection.Dispose();
                connection = null;
            }

            var head = connection.Head;
            if (head.Error is not null)
            {
                return Fail(context, ForwarderError.Request, new HttpRequestException(HttpRequestError.InvalidResponse, "The upstream's response is not valid HTTP/1.1: " + head.Error + "."));
            }

            phase = Phase.ResponseBody;
            CopyResponseHead(context, connection, buffer.AsSpan(start), transformer);
            timeouts.CancelAfter(idle);
            var reusable = await CopyBodyAsync(context, connection, buffer, start + head.Length, received, idle, timeouts);
            if (reusable && head.KeepAlive)
            {
                pool.Return(connection);
                connection = null;
            }

            return ForwarderError.None;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or IOException or HttpRequestException or TimeoutException or EndpointNotReadyException)
        {
            // Reset, not closed: the upstream may be blocked sending a body nobody reads, and must stop at once.
            connection?.Abort();
            return Failed(context, phase, e, requestAborted.IsCancellationRequested, timeouts.IsCancellationRequested, target.ResponseHeaderTimeout);
        }
        finally
        {
            link.Dispose();
            connection?.Dispose();
            _sources.Return(timeouts);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private enum Phase
    {
        Connect,
        Send,
        ResponseHead,
        ResponseBody,
    }

    /// <summary>
    /// Reads until a final (non-1xx) response head is complete or invalid (<see cref="ResponseHead.Error"/>). Returns
    /// the buffer (a larger one for a long head), the bytes received into it, where the final head starts, and
    /// whether the connection turned out stale: a reused one that ended before any byte (the buffer is untouched then).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<(byte[] Buffer, int Received, int Start, bool Stale)> ReceiveHeadAsync(
        UpstreamConnection connection, byte[] buffer, bool isHead, CancellationToken token)
    {
        var received = 0;
        var start = 0;
        var head = connection.Head;
        while (true)
        {
            if (received > start)
            {
                var status = head.TryParse(buffer.AsSpan(start, received - start), isHead);
                if (status == ParseStatus.Invalid)
                {
                    return (buffer, received, start, false);
                }

                if (status == ParseStatus.Complete)
                {
                    if (head.StatusCode == 101)
                    {
                        head.Invalidate("101 Switching Protocols to a request that asked for no upgrade");
                        return (buffer, received, start, false);
                    }

                    if (!head.IsInformational)
                    {
                        head.InvalidateIfNotAscii(buffer.AsSpan(start));
                        return (buffer, received, start, false);
                    }

                    start += head.Length; // 100, 102, 103: dropped, as .NET's client drops them
                    continue;
                }
            }

            if (received == buffer.Length)
            {
                // Room for the rest of the head: the parser refuses one longer than its limit before this grows past it.
                var larger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                buffer.AsSpan(start, received - start).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(buffer);
                buffer = larger;
                received -= start;
                start = 0;
            }

            int read;
            try
            {
                read = connection.IsReadingAhead
                    ? await connection.ReceiveReadAheadAsync(buffer.AsMemory(received), token)
                    : await connection.Socket.ReceiveAsync(buffer.AsMemory(received), SocketFlags.None, token);
            }
            catch (SocketException) when (received == 0 && connection.Reused && !token.IsCancellationRequested)
            {
                return (buffer, 0, 0, true);
            }

            if (read == 0)
            {
                if (received == 0 && connection.Reused)
                {
                    return (buffer, 0, 0, true);
                }

                throw new HttpIOException(HttpRequestError.ResponseEnded, "The upstream closed the connection before sending the response headers.");
            }

            received += read;
        }
    }

    private static ForwarderError Failed(HttpContext context, Phase phase, Exception e, bool requestAborted, bool timedOut, TimeSpan responseHeaderTimeout)
    {
        if (requestAborted)
        {
            return Fail(context, phase == Phase.ResponseBody ? ForwarderError.ResponseBodyClient : ForwarderError.RequestCanceled, e);
        }

        if (phase == Phase.ResponseBody)
        {
            if (context.Response.HasStarted)
            {
                // The status and headers are on their way: the client can only learn of the failure by the connection's end.
                context.Abort();
            }

            return Fail(context, timedOut ? ForwarderError.ResponseBodyCanceled : ForwarderError.ResponseBodyDestination, timedOut ? new OperationCanceledException("No response body bytes within the idle timeout.", e) : e);
        }

        if (timedOut && phase != Phase.Connect && responseHeaderTimeout > TimeSpan.Zero)
        {
            return Fail(context, ForwarderError.Request, new ResponseHeaderTimeoutException(responseHeaderTimeout));
        }

        return Fail(context, ForwarderError.Request, timedOut ? new OperationCanceledException("Nothing moved within the idle timeout.", e) : e);
    }

    private static ForwarderError Fail(HttpContext context, ForwarderError error, Exception exception)
    {
        context.Features.Set<IForwarderErrorFeature>(new LeanForwarderErrorFeature(error, exception));
        return error;
    }

    /// <summary>The request line and headers, as YARP and <see cref="ProxyTransformer"/> would send them.</summary>
    private static int WriteRequestHead(HttpContext context, ref byte[] buffer)
    {
        var request = context.Request;
        var writer = new HeadWriter(buffer);
        writer.Ascii(request.Method);
        writer.Byte((byte)' ');
        writer.Ascii(context.Features.Get<IHttpRequestFeature>()!.RawTarget);
        writer.Ascii(" HTTP/1.1\r\nHost: ");
        writer.Text(request.Host.Value!);
        writer.Ascii("\r\n");
        var headers = request.Headers;
        foreach (var (name, values) in headers)
        {
            if (SkippedRequestHeaders.Contains(name))
            {
                continue;
            }

            writer.Ascii(name);
            writer.Ascii(": ");
            var separator = string.Equals(name, HeaderNames.Cookie, StringComparison.OrdinalIgnoreCase) ? "; " : ", ";
            for (var i = 0; i < values.Count; i++)
            {
                if (i > 0)
                {
                    writer.Ascii(separator);
                }

                writer.Text(values[i] ?? "");
            }

            writer.Ascii("\r\n");
        }

        var client = context.Connection.RemoteIpAddress;
        if (client is not null)
        {
            writer.Ascii(XForwardedFor);
            writer.Ascii(": ");
            foreach (var prior in headers[XForwardedFor])
            {
                writer.Text(prior ?? "");
                writer.Ascii(", ");
            }

            writer.Address(client.IsIPv4MappedToIPv6 ? client.MapToIPv4() : client);
            writer.Ascii("\r\n");
        }

        if (!headers.ContainsKey(XForwardedHost))
        {
            writer.Ascii(XForwardedHost);
            writer.Ascii(": ");
            writer.Text(request.Host.Value!);
            writer.Ascii("\r\n");
        }

        if (!headers.ContainsKey(XForwardedProto))
        {
            writer.Ascii(XForwardedProto);
            writer.Ascii(": http\r\n");
        }

        if (ExpectsBody(request.Method))
        {
            // .NET's client announces an empty body for methods that normally carry one (POST, PUT, PATCH, TRACE,
            // extension methods): the upstream does not have to guess.
            writer.Ascii("Content-Length: 0\r\n");
        }

        writer.Ascii("\r\n");
        buffer = writer.Buffer;
        return writer.Length;
    }

    private static bool ExpectsBody(string method) =>
        !HttpMethods.IsGet(method) && !HttpMethods.IsHead(method) && !HttpMethods.IsDelete(method)
        && !HttpMethods.IsOptions(method) && !HttpMethods.IsConnect(method);

    private static void CopyResponseHead(HttpContext context, UpstreamConnection connection, ReadOnlySpan<byte> bytes, ProxyTransformer transformer)
    {
        var head = connection.Head;
        var response = context.Response;
        response.StatusCode = head.StatusCode;
        if (head.ReasonLength > 0)
        {
            var reason = bytes.Slice(head.ReasonStart, head.ReasonLength);
            if (!Ascii.Equals(reason, ReasonPhrases.GetReasonPhrase(head.StatusCode)))
            {
                context.Features.GetRequiredFeature<IHttpResponseFeature>().ReasonPhrase = Encoding.Latin1.GetString(reason);
            }
        }

        var headers = response.Headers;
        var ranges = head.Headers;
        var strings = connection.Strings;
        for (var i = 0; i < ranges.Length; i++)
        {
            var range = ranges[i];
            var name = bytes.Slice(range.NameStart, range.NameLength);
            if (IsSkipped(name) || (head.HasConnectionOptions && IsListedIn(name, bytes, ranges)))
            {
                continue;
            }

            headers.Append(strings.Name(i, name), strings.Value(i, bytes.Slice(range.ValueStart, range.ValueLength)));
        }

        var noContent = head.StatusCode is 204 or 205;
        if (!noContent && head.ContentLength >= 0)
        {
            response.ContentLength = head.ContentLength;
        }

        if (transformer.ColdStartHeaderValue is { } coldStart)
        {
            headers[ProxyTransformer.ColdStartHeader] = coldStart;
        }
    }

    /// <returns>Whether the connection can carry another request (the body was read exactly to its end).</returns>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> CopyBodyAsync(HttpContext context, UpstreamConnection connection, byte[] buffer, int bodyStart, int received, TimeSpan idle, CancellationTokenSource timeouts)
    {
        var head = connection.Head;
        var writer = context.Response.BodyWriter;
        var socket = connection.Socket;
        if (head.StatusCode == 205 || head.Framing == BodyFraming.None)
        {
            // 205 has no body whatever its framing says (RFC 9110 §15.3.6); one sent anyway makes the connection unusable.
            return received == bodyStart && (head.StatusCode != 205 || head.Framing == BodyFraming.None || (head.Framing == BodyFraming.ContentLength && head.ContentLength == 0));
        }

        if (head.Framing == BodyFraming.Chunked)
        {
            return await CopyChunkedAsync(context, connection, buffer, bodyStart, received, idle, timeouts);
        }

        var remaining = head.Framing == BodyFraming.ContentLength ? head.ContentLength : long.MaxValue;
        var leftover = (int)Math.Min(received - bodyStart, remaining);
        var reusable = received - bodyStart <= remaining;
        if (leftover > 0)
        {
            writer.Write(buffer.AsSpan(bodyStart, leftover));
            remaining -= leftover;
        }

        while (remaining > 0)
        {
            await FlushAsync(writer, timeouts.Token);
            var memory = writer.GetMemory();
            if (memory.Length > remaining)
            {
                memory = memory[..(int)remaining];
            }

            var read = await socket.ReceiveAsync(memory, SocketFlags.None, timeouts.Token);
            if (read == 0)
            {
                if (head.Framing == BodyFraming.UntilClose)
                {
                    return false;
                }

                throw new HttpIOException(HttpRequestError.ResponseEnded, $"The upstream closed the connection {remaining} bytes before the end of the response body.");
            }

            timeouts.CancelAfter(idle);
            writer.Advance(read);
            remaining -= read;
            if (remaining == 0)
            {
                // Kestrel does not send bytes advanced after the last flush of a Content-Length body that spans reads.
                await FlushAsync(writer, timeouts.Token);
            }
        }

        return reusable;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> CopyChunkedAsync(HttpContext context, UpstreamConnection connection, byte[] buffer, int position, int received, TimeSpan idle, CancellationTokenSource timeouts)
    {
        var writer = context.Response.BodyWriter;
        var chunks = connection.Chunks;
        chunks.Reset();
        while (true)
        {
            while (position < received)
            {
                var status = chunks.Decode(buffer.AsSpan(position, received - position), out var consumed, out var data);
                if (status == ChunkStatus.Invalid)
                {
                    throw new HttpIOException(HttpRequestError.InvalidResponse, "The upstream's chunked response body is not valid: " + chunks.Error + ".");
                }

                if (status == ChunkStatus.Data)
                {
                    writer.Write(buffer.AsSpan(position + data.Start.Value, data.End.Value - data.Start.Value));
                }

                position += consumed;
                if (status == ChunkStatus.Done)
                {
                    return position == received;
                }
            }

            await FlushAsync(writer, timeouts.Token);
            position = 0;
            received = await connection.Socket.ReceiveAsync(buffer, SocketFlags.None, timeouts.Token);
            if (received == 0)
            {
                throw new HttpIOException(HttpRequestError.ResponseEnded, "The upstream closed the connection before the end of the chunked response body.");
            }

            timeouts.CancelAfter(idle);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask FlushAsync(PipeWriter writer, CancellationToken token)
    {
        var result = await writer.FlushAsync(token);
        if (result.IsCanceled || result.IsCompleted)
        {
            throw new OperationCanceledException("The client stopped reading the response.");
        }
    }

    private static bool IsSkipped(ReadOnlySpan<byte> name)
    {
        foreach (var skipped in SkippedResponseHeaders)
        {
            if (name.Length == skipped.Length && Ascii.EqualsIgnoreCase(name, skipped))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether a <c>Connection</c> header of the response names <paramref name="name"/> (RFC 9110 §7.6.1).</summary>
    private static bool IsListedIn(ReadOnlySpan<byte> name, ReadOnlySpan<byte> bytes, ReadOnlySpan<HeaderRange> ranges)
    {
        foreach (var range in ranges)
        {
            if (!Ascii.EqualsIgnoreCase(bytes.Slice(range.NameStart, range.NameLength), "Connection"u8))
            {
                continue;
            }

            var value = bytes.Slice(range.ValueStart, range.ValueLength);
            foreach (var token in value.Split((byte)','))
            {
                if (Ascii.EqualsIgnoreCase(value[token].Trim(" \t"u8), name))
                {
                    return true;
                }
            }
        }

        return false;
    }
}

/// <summary>The lean path's failures, as YARP reports its own.</summary>
internal sealed class LeanForwarderErrorFeature(ForwarderError error, Exception? exception) : IForwarderErrorFeature
{
    public ForwarderError Error { get; } = error;

    public Exception? Exception { get; } = exception;
}

/// <summary>Writes a request head into a pooled buffer, renting a larger one when it is full.</summary>
internal struct HeadWriter(byte[] buffer)
{
    public byte[] Buffer { get; private set; } = buffer;

    public int Length { get; private set; }

    public void Byte(byte value)
    {
        Ensure(1);
        Buffer[Length++] = value;
    }

    /// <summary>Names, methods, targets: ASCII (Kestrel has checked them).</summary>
    public void Ascii(string text)
    {
        Ensure(text.Length);
        Length += System.Text.Encoding.ASCII.GetBytes(text, Buffer.AsSpan(Length));
    }

    /// <summary>Header values: UTF-8, as the YARP path sends them (Kestrel accepts UTF-8 in request header values).</summary>
    public void Text(string text)
    {
        Ensure(System.Text.Encoding.UTF8.GetMaxByteCount(text.Length));
        Length += System.Text.Encoding.UTF8.GetBytes(text, Buffer.AsSpan(Length));
    }

    public void Address(IPAddress address)
    {
        Ensure(64);
        if (!address.TryFormat(Buffer.AsSpan(Length), out var written))
        {
            throw new InvalidOperationException("an address longer than 64 bytes");
        }

        Length += written;
    }

    private void Ensure(int count)
    {
        if (Length + count <= Buffer.Length)
        {
            return;
        }

        var larger = ArrayPool<byte>.Shared.Rent(Math.Max(Buffer.Length * 2, Length + count));
        Buffer.AsSpan(0, Length).CopyTo(larger);
        ArrayPool<byte>.Shared.Return(Buffer);
        Buffer = larger;
    }
}

/// <summary>The lean path when <c>UPDRAFT_LEAN_FORWARDING</c> is on, else null.</summary>
internal sealed record LeanForwarding(Http1Forwarder? Forwarder);
