using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Updraft.Interceptor.Forwarding.Pooling;
using Updraft.Interceptor.Telemetry;
using Yarp.ReverseProxy.Forwarder;

namespace Updraft.Interceptor.Forwarding.Http1;

/// <summary>
/// The lean forwarding path (<c>UPDRAFT_LEAN_FORWARDING</c>): an HTTP/1.1 request forwarded to a plain-HTTP/1.1
/// upstream over a pooled socket of our own, instead of through YARP, <see cref="HttpRequestMessage"/> and
/// <see cref="SocketsHttpHandler"/>. The request head is written straight from Kestrel's parsed request in one send
/// (with the body, when all of a small one has arrived); a longer body streams beside the wait for the response, each
/// piece as it comes. The response head is parsed strictly (<see cref="ResponseHead"/>) and the body streamed into
/// Kestrel's response pipe (Content-Length, chunked or close-delimited). Everything else goes through YARP:
/// <see cref="CanForward"/> decides, once per attempt, from the request and the target.
/// </summary>
/// <remarks>
/// What reaches the upstream is what YARP and <see cref="ProxyTransformer"/> send: the client's request line (this path
/// takes only targets that need no re-encoding), <c>Host</c> first, then the client's headers in Kestrel's order
/// without the hop-by-hop ones YARP drops, several lines of one name joined into one (<c>", "</c>, or <c>"; "</c> for
/// <c>Cookie</c>), then <c>X-Forwarded-For</c>, <c>-Host</c> and <c>-Proto</c> as <see cref="ProxyTransformer"/>
/// sets them, then <c>Transfer-Encoding: chunked</c> for a chunked body (re-chunked, without trailers). The response
/// goes back with the same header rules (hop-by-hop and <c>Connection</c>-listed names dropped, no length on 204/205,
/// the cold-start header). Failures are reported as YARP reports them (the same <see cref="ForwarderError"/> and an
/// exception of the same kind in <see cref="IForwarderErrorFeature"/>), so <see cref="ProxyHandler"/> answers both
/// paths alike. A request that fails on a reused connection before any response byte (the upstream closed it while
/// idle) is sent once more on a new connection if all of it went in one send (no body, or a small whole one) or its body
/// still waits for the upstream's <c>100 Continue</c>: nothing is lost or sent twice that the upstream saw. A streamed
/// body cannot be sent again, so that request fails (502). A request with <c>Expect: 100-continue</c> keeps its body
/// back as .NET's client does on the YARP path (<see cref="SendBodyAfterContinueAsync"/>, <see cref="WithholdsBody"/>).
/// </remarks>
internal sealed class Http1Forwarder(UpstreamConnectionPool pool, RetryingConnector connector, ProxyTracing tracing, Transport.TransportKind transport = Transport.TransportKind.Sockets)
{
    public const string Variable = "UPDRAFT_LEAN_FORWARDING";

    private const int InitialBufferSize = 8 * 1024;
    private const int WholeBodyLimit = 16 * 1024;
    private const int BodyPieceSize = 16 * 1024;
    private const int ChunkFraming = 16; // a chunk-size line (up to 8 hex digits) and two CRLFs
    private const int ExpectRefusalSendLimit = 1024; // .NET's client sends a body this small even after a refusal

    /// <summary>The end of a chunked body, without trailers (the YARP path sends none upstream either).</summary>
    private static readonly ReadOnlyMemory<byte> LastChunk = "0\r\n\r\n"u8.ToArray();
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
    /// Whether this path forwards the request: HTTP/1.1 from the client, a body of a known length or chunked (and
    /// nothing else) or none, no upgrade, no <c>Expect</c> but <c>100-continue</c>, a <c>Connection</c> header of at
    /// most <c>keep-alive</c> or <c>close</c>, a request target that goes out as it came (origin form, no
    /// percent-encoding, no dot segment), and a plain HTTP/1.1 upstream.
    /// </summary>
    public static bool CanForward(HttpContext context, UpstreamTarget target, string prefix)
    {
        var request = context.Request;
        var headers = request.Headers;
        if (!HttpProtocol.IsHttp11(request.Protocol)
            || !prefix.StartsWith("http://", StringComparison.Ordinal)
            || target.Config.Version != HttpVersion.Version11
            || (headers.ContainsKey(HeaderNames.TransferEncoding) && (request.ContentLength is not null || !IsChunkedAlone(headers.TransferEncoding)))
            || headers.ContainsKey(HeaderNames.Upgrade)
            || (headers.Expect.Count > 0 && !IsContinueAlone(headers.Expect))
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

    private static bool IsContinueAlone(StringValues expect) =>
        expect.Count == 1 && string.Equals(expect[0]?.Trim(), "100-continue", StringComparison.OrdinalIgnoreCase);

    private static bool IsChunkedAlone(StringValues transferEncoding) =>
        transferEncoding.Count == 1 && string.Equals(transferEncoding[0]?.Trim(), "chunked", StringComparison.OrdinalIgnoreCase);

    /// <param name="requestAborted">The client leaving or the request deadline passing (<c>RequestAborted</c> is the client's alone).</param>
    // Pooled state machines: a forwarded request allocates none of its own in the steady state.
    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    public async ValueTask<ForwarderError> SendAsync(HttpContext context, string prefix, UpstreamTarget target, ProxyTransformer transformer, CancellationToken requestAborted)
    {
        var endpoint = pool.For(prefix);
        var buffer = ArrayPool<byte>.Shared.Rent(InitialBufferSize);
        var timeouts = _sources.Rent();
        var link = requestAborted.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeouts);
        UpstreamConnection? connection = null;
        Task<BodyOutcome>? bodySend = null;
        ContinueGate? gate = null; // a request with Expect: 100-continue, while its body waits
        var phase = Phase.Connect;
        try
        {
            var request = context.Request;
            var chunked = request.Headers.ContainsKey(HeaderNames.TransferEncoding);
            // CanForward let only 100-continue through. Its body is not touched before the upstream asks for it: the
            // first read makes Kestrel send the client its own 100 Continue.
            var expectContinue = request.Headers.Expect.Count > 0 && (chunked || request.ContentLength > 0);
            var headLength = WriteRequestHead(context, chunked, tracing.CurrentProxySpan, ref buffer);
            var bodyInHead = false;
            try
            {
                bodyInHead = !expectContinue && AppendWholeBody(request, chunked, ref buffer, ref headLength);
            }
            catch (Exception e) when (IsClientBodyFailure(e))
            {
                return Fail(context, ClientBodyError(e), e);
            }

            var idle = target.Config.ActivityTimeout ?? Timeout.InfiniteTimeSpan;
            var headerLimit = target.ResponseHeaderTimeout > TimeSpan.Zero ? target.ResponseHeaderTimeout : idle;
            var isHead = HttpMethods.IsHead(request.Method);
            var received = 0;
            var start = 0;
            BodySentClock? clock = null;
            while (true)
            {
                connection = pool.TakeIdle(endpoint);
                phase = Phase.Connect;
                if (connection is null)
                {
                    connection = transport == Transport.TransportKind.Epoll
                        ? new UpstreamConnection(await connector.ConnectEpollAsync(endpoint.Address, timeouts.Token), endpoint)
                        : new UpstreamConnection(await connector.ConnectSocketAsync(endpoint.Address, timeouts.Token), endpoint);
                    pool.Opened();
                }
                phase = Phase.Send;
                // As Go's ResponseHeaderTimeout: the clock starts once the whole request, body included, is sent.
                timeouts.CancelAfter(bodyInHead ? headerLimit : idle);
                bool stale;
                try
                {
                    await connection.SendAsync(buffer.AsMemory(0, headLength), timeouts.Token);
                    if (!bodyInHead)
                    {
                        clock = new BodySentClock(timeouts, headerLimit);
                        gate = expectContinue ? new ContinueGate() : null;
                        bodySend = gate is null
                            ? SendBodyAsync(request.BodyReader, connection, chunked, idle, timeouts, clock)
                            : SendBodyAfterContinueAsync(gate, request.BodyReader, connection, chunked, idle, timeouts, clock);
                    }

                    phase = Phase.ResponseHead;
                    (buffer, received, start, stale) = await ReceiveHeadAsync(connection, buffer, isHead, gate, timeouts.Token);
                }
                catch (SocketException) when (phase == Phase.Send && connection.Reused && !timeouts.IsCancellationRequested)
                {
                    stale = true;
                }

                if (stale && bodySend is not null)
                {
                    if (gate?.TryWithhold() != true)
                    {
                        // Part of the body may be gone with the old connection: it cannot be sent again.
                        throw new HttpIOException(HttpRequestError.ResponseEnded, "The upstream closed the connection before sending the response headers.");
                    }

                    // Still waiting for the upstream's 100: nothing of the body was read, so all of it can go again.
                    await bodySend;
                    bodySend = null;
                }

                if (!stale)
                {
                    break;
                }

                // Closed by the upstream while it was idle in the pool, before any byte of a response: send again on
                // another connection (.NET's client does the same). The request, and any body, is still in the buffer.
                connection.Dispose();
                connection = null;
            }

            clock?.Stop();
            var head = connection.Head;
            if (head.Error is not null)
            {
                return Fail(context, ForwarderError.Request, new HttpRequestException(HttpRequestError.InvalidResponse, "The upstream's response is not valid HTTP/1.1: " + head.Error + "."));
            }

            var bodyWithheld = gate is not null && WithholdsBody(gate, head.StatusCode, chunked, request.ContentLength);
            if (gate is not null && !bodyWithheld)
            {
                // .NET's client gives YARP the response only once the body is sent: Kestrel's 100 Continue (written at
                // the body's first read) then reaches the client before the final response, on both paths.
                var sent = await bodySend!;
                bodySend = null;
                if (sent.Error != ForwarderError.None)
                {
                    return Fail(context, sent.Error, sent.Exception!);
                }
            }

            phase = Phase.ResponseBody;
            CopyResponseHead(context, connection, buffer.AsSpan(start), transformer);
            timeouts.CancelAfter(idle);
            var reusable = await CopyBodyAsync(context, connection, buffer, start + head.Length, received, idle, timeouts);
            if (bodySend is not null)
            {
                // An upstream that answered before reading the whole body has left the rest of it unread; one that
                // refused the body before its 100 may still be waiting for it.
                reusable &= bodySend.IsCompleted && !bodyWithheld;
                reusable &= (await StopAsync(bodySend, request.BodyReader, connection, gate)).Error == ForwarderError.None;
                bodySend = null;
            }

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
            if (bodySend is not null && phase != Phase.ResponseBody)
            {
                // The request body's own failure (the client's upload broke off, stalled, or the upstream stopped
                // reading it) is the cause; the response side only saw the connection it left behind.
                var outcome = await StopAsync(bodySend, context.Request.BodyReader, connection, gate);
                bodySend = null;
                if (outcome.Error != ForwarderError.None)
                {
                    return Fail(context, outcome.Error, outcome.Exception!);
                }
            }

            return Failed(context, phase, e, requestAborted.IsCancellationRequested, timeouts.IsCancellationRequested, target.ResponseHeaderTimeout);
        }
        finally
        {
            if (bodySend is not null)
            {
                await StopAsync(bodySend, context.Request.BodyReader, connection, gate);
            }

            link.Dispose();
            connection?.Dispose();
            _sources.Return(timeouts);
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>How a request body's send ended: <see cref="ForwarderError.None"/> when it was all sent or was stopped.</summary>
    private readonly record struct BodyOutcome(ForwarderError Error, Exception? Exception);

    /// <summary>Waits for the body send to end, first stopping it (and resetting the connection) if it still runs.</summary>
    private static async Task<BodyOutcome> StopAsync(Task<BodyOutcome> bodySend, PipeReader body, UpstreamConnection? connection, ContinueGate? gate)
    {
        gate?.TryWithhold();
        if (!bodySend.IsCompleted)
        {
            body.CancelPendingRead();
            connection?.Abort();
        }

        return await bodySend;
    }

    /// <summary>Reading the client's body failed: it broke off or was malformed (Kestrel), or the idle timeout ended the wait.</summary>
    private static bool IsClientBodyFailure(Exception e) => e is OperationCanceledException or IOException or BadHttpRequestException;

    private static ForwarderError ClientBodyError(Exception e) =>
        e is OperationCanceledException ? ForwarderError.RequestBodyCanceled : ForwarderError.RequestBodyClient;

    /// <summary>
    /// A body that has fully arrived with the request and is small goes out in the head's send: one system call, and it
    /// can be sent again on a fresh connection like a request without a body. Returns whether there is no body left to send.
    /// </summary>
    private static bool AppendWholeBody(HttpRequest request, bool chunked, ref byte[] buffer, ref int length)
    {
        if (!chunked && request.ContentLength is null or 0)
        {
            return true;
        }

        var reader = request.BodyReader;
        if (!reader.TryRead(out var result))
        {
            return false;
        }

        var body = result.Buffer;
        var whole = result.IsCompleted || (!chunked && body.Length == request.ContentLength);
        if (!whole || body.Length > WholeBodyLimit)
        {
            reader.AdvanceTo(body.Start);
            return false;
        }

        var writer = new HeadWriter(buffer, length);
        if (chunked && !body.IsEmpty)
        {
            writer.ChunkSize((int)body.Length);
        }

        writer.Bytes(body);
        if (chunked)
        {
            writer.Ascii(body.IsEmpty ? "0\r\n\r\n" : "\r\n0\r\n\r\n");
        }

        reader.AdvanceTo(body.End);
        buffer = writer.Buffer;
        length = writer.Length;
        return true;
    }

    /// <summary>
    /// The body of a request with <c>Expect: 100-continue</c> (RFC 9110 §10.1.1), as .NET's client sends it for the
    /// YARP path: once the upstream's 100 arrives, or after <see cref="ForwarderClients.Expect100ContinueTimeout"/>
    /// without one; not at all when a final response came first and refused it (<see cref="WithholdsBody"/>).
    /// </summary>
    private static async Task<BodyOutcome> SendBodyAfterContinueAsync(ContinueGate gate, PipeReader body, UpstreamConnection connection, bool chunked, TimeSpan idle, CancellationTokenSource timeouts, BodySentClock clock)
    {
        if (!await gate.WaitAsync(ForwarderClients.Expect100ContinueTimeout))
        {
            return default;
        }

        return await SendBodyAsync(body, connection, chunked, idle, timeouts, clock);
    }

    /// <summary>
    /// A final response that came before the 100: a refusal (300 or more) keeps back a body of unknown length or over
    /// 1,024 bytes, and the connection then cannot carry another request (the upstream may still wait for the body);
    /// anything else lets the body go. These are .NET's client's rules, so both paths send the same.
    /// </summary>
    /// <returns>Whether the body is kept back.</returns>
    private static bool WithholdsBody(ContinueGate gate, int status, bool chunked, long? contentLength)
    {
        if (status >= 300 && (chunked || contentLength > ExpectRefusalSendLimit))
        {
            return gate.TryWithhold();
        }

        gate.Open();
        return false;
    }

    /// <summary>
    /// Streams the request body to the upstream while the response is awaited, each piece as it arrives (an upload
    /// that streams must not stall in a buffer), re-framed in chunks when the client sent it chunked. On failure the
    /// connection is reset, which ends the response side's wait too.
    /// </summary>
    private static async Task<BodyOutcome> SendBodyAsync(PipeReader body, UpstreamConnection connection, bool chunked, TimeSpan idle, CancellationTokenSource timeouts, BodySentClock clock)
    {
        var piece = ArrayPool<byte>.Shared.Rent(BodyPieceSize + ChunkFraming);
        try
        {
            while (true)
            {
                ReadResult result;
                try
                {
                    result = await body.ReadAsync(timeouts.Token);
                }
                catch (Exception e) when (IsClientBodyFailure(e))
                {
                    connection.Abort();
                    return new(ClientBodyError(e), e);
                }

                if (result.IsCanceled)
                {
                    // Stopped: the response is complete, or has failed. The read ends here, or Kestrel's drain of the
                    // rest of the body finds it still in progress and closes the client's connection.
                    body.AdvanceTo(result.Buffer.Start);
                    return default;
                }

                var data = result.Buffer;
                try
                {
                    while (!data.IsEmpty)
                    {
                        var length = (int)Math.Min(data.Length, BodyPieceSize);
                        var writer = new HeadWriter(piece);
                        if (chunked)
                        {
                            writer.ChunkSize(length);
                        }

                        writer.Bytes(data.Slice(0, length));
                        if (chunked)
                        {
                            writer.Ascii("\r\n");
                        }

                        piece = writer.Buffer;
                        await connection.SendAsync(piece.AsMemory(0, writer.Length), timeouts.Token);
                        data = data.Slice(length);
                        timeouts.CancelAfter(idle);
                    }

                    if (result.IsCompleted && chunked)
                    {
                        await connection.SendAsync(LastChunk, timeouts.Token);
                    }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
                {
                    body.AdvanceTo(result.Buffer.End);
                    connection.Abort();
                    return new(ForwarderError.RequestBodyDestination, e);
                }

                body.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    clock.BodySent();
                    return default;
                }
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(piece);
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
    /// Reads until a final (non-1xx) response head is complete or invalid (<see cref="ResponseHead.Error"/>); a 100 on
    /// the way opens <paramref name="gate"/>. Interim responses never reach the client (nor do they on the YARP path: the
    /// client's own 100 comes from Kestrel, when its body is first read). Returns
    /// the buffer (a larger one for a long head), the bytes received into it, where the final head starts, and
    /// whether the connection turned out stale: a reused one that ended before any byte (the buffer is untouched then).
    /// </summary>
    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    private static async ValueTask<(byte[] Buffer, int Received, int Start, bool Stale)> ReceiveHeadAsync(
        UpstreamConnection connection, byte[] buffer, bool isHead, ContinueGate? gate, CancellationToken token)
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

                    if (head.StatusCode == 100)
                    {
                        gate?.Open();
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
                    : await connection.ReceiveAsync(buffer.AsMemory(received), token);
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
    /// <param name="context">The request.</param>
    /// <param name="chunked">Whether the body goes out chunked.</param>
    /// <param name="span">The proxy span (tracing on): its trace context replaces the client's trace headers.</param>
    /// <param name="buffer">The pooled buffer, replaced by a larger one when the head does not fit.</param>
    private static int WriteRequestHead(HttpContext context, bool chunked, Activity? span, ref byte[] buffer)
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
            if (SkippedRequestHeaders.Contains(name) || (span is not null && ProxyTracing.IsTraceHeader(name)))
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

        if (span is not null)
        {
            writer.Ascii(ProxyTracing.TraceParent);
            writer.Ascii(": ");
            writer.Ascii(span.Id!);
            writer.Ascii("\r\n");
            if (!string.IsNullOrEmpty(span.TraceStateString))
            {
                writer.Ascii(ProxyTracing.TraceState);
                writer.Ascii(": ");
                writer.Text(span.TraceStateString);
                writer.Ascii("\r\n");
            }
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

        if (chunked)
        {
            // Transfer-Encoding is hop-by-hop: the client's framing is undone by Kestrel and done again here.
            writer.Ascii("Transfer-Encoding: chunked\r\n");
        }
        else if (request.ContentLength is null && ExpectsBody(request.Method))
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
    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> CopyBodyAsync(HttpContext context, UpstreamConnection connection, byte[] buffer, int bodyStart, int received, TimeSpan idle, CancellationTokenSource timeouts)
    {
        var head = connection.Head;
        var writer = context.Response.BodyWriter;
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

            var read = await connection.ReceiveAsync(memory, timeouts.Token);
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

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder<>))]
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
            received = await connection.ReceiveAsync(buffer, timeouts.Token);
            if (received == 0)
            {
                throw new HttpIOException(HttpRequestError.ResponseEnded, "The upstream closed the connection before the end of the chunked response body.");
            }

            timeouts.CancelAfter(idle);
        }
    }

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder))]
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

/// <summary>
/// Whether the body of a request with <c>Expect: 100-continue</c> goes: decided once, by the upstream's 100, the wait's
/// end or a final response (<see cref="TryWithhold"/>), whichever comes first.
/// </summary>
internal sealed class ContinueGate
{
    private readonly TaskCompletionSource<bool> _decision = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public void Open() => _decision.TrySetResult(true);

    /// <summary>Keeps the body back; false when it was already let go (some of it may be on the wire).</summary>
    public bool TryWithhold() => _decision.TrySetResult(false) || !_decision.Task.Result;

    /// <summary>Whether the body goes, once decided; the gate opens by itself after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitAsync(TimeSpan timeout)
    {
        using var timer = new CancellationTokenSource(timeout);
        using var expiry = timer.Token.UnsafeRegister(static gate => ((ContinueGate)gate!).Open(), this);
        return await _decision.Task;
    }
}

/// <summary>The lean path's failures, as YARP reports its own.</summary>
internal sealed class LeanForwarderErrorFeature(ForwarderError error, Exception? exception) : IForwarderErrorFeature
{
    public ForwarderError Error { get; } = error;

    public Exception? Exception { get; } = exception;
}

/// <summary>Writes a request head into a pooled buffer, renting a larger one when it is full.</summary>
internal struct HeadWriter(byte[] buffer, int length = 0)
{
    public byte[] Buffer { get; private set; } = buffer;

    public int Length { get; private set; } = length;

    public void Bytes(ReadOnlySequence<byte> bytes)
    {
        Ensure((int)bytes.Length);
        bytes.CopyTo(Buffer.AsSpan(Length));
        Length += (int)bytes.Length;
    }

    /// <summary>A chunk-size line of the chunked coding (RFC 9112 §7.1): the size in hexadecimal, then CRLF.</summary>
    public void ChunkSize(int size)
    {
        Ensure(10);
        size.TryFormat(Buffer.AsSpan(Length), out var written, "X", CultureInfo.InvariantCulture);
        Length += written;
        Buffer[Length++] = (byte)'\r';
        Buffer[Length++] = (byte)'\n';
    }

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
