using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Interceptor.Forwarding.Http1;
using Updraft.Interceptor.Tests.Differential;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding.Http1;

/// <summary>
/// The lean path against YARP's, one interceptor each, same requests and same upstream: the upstream must receive
/// the same request line, headers (up to order: the lean path writes <c>Host</c> first, then the client's headers in
/// Kestrel's order, then <c>X-Forwarded-*</c>) and framing; the client must get the same status, headers (but
/// <c>Date</c>) and body, or the same failure.
/// </summary>
public sealed class LeanPathDifferentialTests
{
    private const string Host = "app.example.com";

    private static readonly Dictionary<string, string?> Lean = new() { [Http1Forwarder.Variable] = "true" };
    private static readonly Dictionary<string, string?> Yarp = new() { [Http1Forwarder.Variable] = "false" };

    /// <summary>Requests the lean path takes (plain targets, bodies of a known length or chunked), with the headers a proxy must handle.</summary>
    public static readonly TheoryData<string, string> Requests = new()
    {
        { "plain GET", "GET / HTTP/1.1\r\nHost: app.example.com\r\n\r\n" },
        { "query with escapes", "GET /a/b?x=1&y=%20&z=a%2Fb HTTP/1.1\r\nHost: app.example.com\r\nAccept: */*\r\n\r\n" },
        { "host with port and case", "GET /p HTTP/1.1\r\nHost: App.Example.com:8080\r\n\r\n" },
        { "repeated header lines", "GET / HTTP/1.1\r\nHost: app.example.com\r\nX-A: 1\r\nX-A: 2\r\nAccept: a\r\nAccept: b\r\n\r\n" },
        { "two cookie lines", "GET / HTTP/1.1\r\nHost: app.example.com\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n" },
        { "hop-by-hop headers", "GET / HTTP/1.1\r\nHost: app.example.com\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nProxy-Authorization: Basic eA==\r\nAlt-Svc: h3=\":443\"\r\nUpgrade-Insecure-Requests: 1\r\nHTTP2-Settings: x\r\n\r\n" },
        { "TE other than trailers", "GET / HTTP/1.1\r\nHost: app.example.com\r\nTE: gzip\r\n\r\n" },
        { "forwarded headers given", "GET / HTTP/1.1\r\nHost: app.example.com\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\nX-Forwarded-Host: outer.example.com\r\nX-Forwarded-Proto: https\r\n\r\n" },
        { "HEAD", "HEAD /h HTTP/1.1\r\nHost: app.example.com\r\n\r\n" },
        { "other methods", "DELETE /items/7 HTTP/1.1\r\nHost: app.example.com\r\n\r\n" },
        { "extension method", "PURGE /cache HTTP/1.1\r\nHost: app.example.com\r\n\r\n" },
        { "POST without a body", "POST /submit HTTP/1.1\r\nHost: app.example.com\r\n\r\n" },
        { "OPTIONS", "OPTIONS /o HTTP/1.1\r\nHost: app.example.com\r\n\r\n" },
        { "TRACE", "TRACE /t HTTP/1.1\r\nHost: app.example.com\r\n\r\n" },
        { "UTF-8 header value", "GET / HTTP/1.1\r\nHost: app.example.com\r\nX-Name: J\u00c3\u00bcrgen\r\n\r\n" },
        { "empty header value", "GET / HTTP/1.1\r\nHost: app.example.com\r\nX-Empty:\r\nX-Space:   \r\n\r\n" },
        { "long header", "GET / HTTP/1.1\r\nHost: app.example.com\r\nX-Long: " + new string('v', 12_000) + "\r\n\r\n" },
        { "many headers", "GET / HTTP/1.1\r\nHost: app.example.com\r\n" + string.Concat(Enumerable.Range(0, 60).Select(i => $"X-H{i}: {i}\r\n")) + "\r\n" },
        { "connection close", "GET / HTTP/1.1\r\nHost: app.example.com\r\nConnection: close\r\n\r\n" },
        { "POST with a body", "POST /submit HTTP/1.1\r\nHost: app.example.com\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"a\":[1,2,3]}" },
        { "PUT with an empty body", "PUT /empty HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 0\r\n\r\n" },
        { "GET with a body", "GET /search HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 5\r\n\r\nquery" },
        { "large body", "POST /upload HTTP/1.1\r\nHost: app.example.com\r\nContent-Length: 100000\r\n\r\n" + new string('u', 100_000) },
        { "chunked body", "POST /c HTTP/1.1\r\nHost: app.example.com\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\n\r\n" },
        { "chunked body with trailers", "POST /t HTTP/1.1\r\nHost: app.example.com\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\n" },
        { "empty chunked body", "POST /e HTTP/1.1\r\nHost: app.example.com\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" },
        { "large chunked body", "POST /lc HTTP/1.1\r\nHost: app.example.com\r\nTransfer-Encoding: Chunked\r\n\r\n" + string.Concat(Enumerable.Range(0, 10).Select(_ => "1F40\r\n" + new string('k', 8000) + "\r\n")) + "0\r\n\r\n" },
        { "expect 100-continue, body with the head", "POST /x HTTP/1.1\r\nHost: app.example.com\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" },
        { "expect 100-Continue (case), large body", "PUT /x HTTP/1.1\r\nHost: app.example.com\r\nExpect: 100-Continue\r\nContent-Length: 40000\r\n\r\n" + new string('e', 40_000) },
        { "expect 100-continue, chunked body", "POST /x HTTP/1.1\r\nHost: app.example.com\r\nExpect: 100-continue\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" },
        { "expect 100-continue, empty body", "POST /x HTTP/1.1\r\nHost: app.example.com\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n" },
        { "user agent and common headers", "GET /index.html HTTP/1.1\r\nHost: app.example.com\r\nUser-Agent: curl/8.0\r\nAccept-Encoding: gzip, br\r\nAuthorization: Bearer t\r\nIf-None-Match: \"abc\"\r\nx-lower: v\r\n\r\n" },
    };

    /// <summary>Upstream responses, by name; the request is <c>GET /r/name</c> (or HEAD for names starting with head-).</summary>
    private static readonly Dictionary<string, ScriptedReply> Replies = new()
    {
        ["length"] = new("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"),
        ["empty"] = new("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
        ["chunked"] = new("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n"),
        ["chunked-upper-hex"] = new("HTTP/1.1 200 OK\r\ntransfer-encoding: CHUNKED\r\n\r\nA\r\n0123456789\r\n0\r\n\r\n"),
        ["until-close"] = new("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end", Close: true),
        ["http10"] = new("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", Close: true),
        ["no-content"] = new("HTTP/1.1 204 No Content\r\nX-A: a\r\n\r\n"),
        ["no-content-length"] = new("HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"),
        ["reset-content"] = new("HTTP/1.1 205 Reset Content\r\nContent-Length: 0\r\n\r\n"),
        ["not-modified"] = new("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 42\r\n\r\n"),
        ["head-length"] = new("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nContent-Type: text/html\r\n\r\n"),
        ["reason"] = new("HTTP/1.1 301 Moved Somewhere Else\r\nLocation: /new\r\nContent-Length: 0\r\n\r\n"),
        ["no-reason"] = new("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"),
        ["empty-reason"] = new("HTTP/1.1 418 \r\nContent-Length: 2\r\n\r\nok"),
        ["connection-listed"] = new("HTTP/1.1 200 OK\r\nConnection: X-Private, keep-alive\r\nX-Private: secret\r\nX-Public: p\r\nContent-Length: 2\r\n\r\nok"),
        ["hop-by-hop"] = new("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nProxy-Connection: x\r\nAlt-Svc: h3=\":443\"\r\nUpgrade: h2c\r\nProxy-Authenticate: Basic\r\nTE: trailers\r\nContent-Length: 2\r\n\r\nok"),
        ["set-cookies"] = new("HTTP/1.1 200 OK\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2; Path=/\r\nX-Dup: 1\r\nx-dup: 2\r\nContent-Length: 2\r\n\r\nok"),
        ["early-hints"] = new("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ["continue-unasked"] = new("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        ["bare-lf"] = new("HTTP/1.1 200 OK\nContent-Length: 2\nX-A: a\n\nok"),
        ["whitespace-value"] = new("HTTP/1.1 200 OK\r\nX-A:  \t padded \t \r\nContent-Length: 2\r\n\r\nok"),
        ["server-error"] = new("HTTP/1.1 503 Service Unavailable\r\nRetry-After: 5\r\nContent-Length: 4\r\n\r\nbusy"),
        ["status-999"] = new("HTTP/1.1 599 Custom\r\nContent-Length: 0\r\n\r\n"),
        ["date-given"] = new("HTTP/1.1 200 OK\r\nDate: Tue, 01 Dec 2026 10:00:00 GMT\r\nServer: upstream/1\r\nContent-Length: 0\r\n\r\n"),
        ["big-body"] = new("HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n" + new string('b', 200_000)),
        ["big-chunks"] = new("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + string.Concat(Enumerable.Range(0, 20).Select(_ => "2710\r\n" + new string('c', 10_000) + "\r\n")) + "0\r\n\r\n"),
        ["long-head"] = new("HTTP/1.1 200 OK\r\nX-Big: " + new string('h', 30_000) + "\r\nContent-Length: 2\r\n\r\nok"),
        ["garbage"] = new("NOT HTTP AT ALL\r\n\r\n", Close: true),
        ["http2-version"] = new("HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n", Close: true),
        ["bad-status"] = new("HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n", Close: true),
        ["obs-fold"] = new("HTTP/1.1 200 OK\r\nX-A: one\r\n two\r\nContent-Length: 2\r\n\r\nok", Close: true),
        ["bare-cr"] = new("HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok", Close: true),
        ["space-before-colon"] = new("HTTP/1.1 200 OK\r\nX-A : a\r\nContent-Length: 2\r\n\r\nok", Close: true),
        ["length-and-chunked"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", Close: true),
        ["different-lengths"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok", Close: true),
        ["negative-length"] = new("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nok", Close: true),
        ["non-ascii-value"] = new("HTTP/1.1 200 OK\r\nX-A: caf\u00e9\r\nContent-Length: 2\r\n\r\nok", Close: true),
        ["nul-in-value"] = new("HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok", Close: true),
        ["switching-unasked"] = new("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", Close: true),
        ["short-body"] = new("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", Close: true),
        ["bad-chunk-size"] = new("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n", Close: true),
        ["chunk-cut"] = new("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", Close: true),
        ["closed-before-head"] = new("", Close: true),
        ["half-head"] = new("HTTP/1.1 200 OK\r\nContent-Le", Close: true),
        ["reset"] = new("", Reset: true),
    };

    /// <summary>
    /// Where the two paths answer differently on purpose: the lean one refuses with a clean 502 what RFC 9112 says to
    /// refuse, and .NET's client lets through (an obsolete folding, a bare CR, whitespace before the colon, NUL in a
    /// value, Content-Length with chunked), or forwards with the upstream's headers (101 to a request without upgrade).
    /// </summary>
    private static readonly HashSet<string> LeanIsStricter =
        ["obs-fold", "bare-cr", "space-before-colon", "nul-in-value", "length-and-chunked", "switching-unasked"];

    public static TheoryData<string> ReplyNames => [.. Replies.Keys.Order(StringComparer.Ordinal)];

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Request_ReachesTheUpstreamAsOnTheYarpPath(string name, string raw)
    {
        await using var recorder = WireRecorder.Start();
        var routes = Routes.InterceptorRoute("app", recorder.Port, hosts: [Host, "app.example.com:8080"]);
        await using var yarp = await TestInterceptor.StartAsync(routes, Yarp);
        await using var lean = await TestInterceptor.StartAsync(routes, Lean);
        var request = Encoding.Latin1.GetBytes(raw);

        var viaYarp = await OutcomeAsync(yarp.ProxyPort, request);
        var sentByYarp = Assert.Single(recorder.Take());
        var viaLean = await OutcomeAsync(lean.ProxyPort, request);
        var sentByLean = Assert.Single(recorder.Take());

        Assert.True(Pool(lean).OpenedCount > 0, name + ": the lean interceptor did not take its own path");
        Assert.Equal(0, Pool(yarp).OpenedCount);
        Assert.Equal(sentByYarp.RequestLine, sentByLean.RequestLine);
        Assert.Equal("Host", sentByLean.Headers[0].Key);
        Assert.Equal(Normalized(sentByYarp.Headers), Normalized(sentByLean.Headers));
        Assert.Equal(sentByYarp.Framing, sentByLean.Framing);
        Assert.Equal(sentByYarp.Body, sentByLean.Body);
        Assert.Equal(sentByYarp.Trailers, sentByLean.Trailers);
        Assert.Equal(viaYarp, viaLean);
    }

    [Theory]
    [MemberData(nameof(ReplyNames))]
    public async Task Response_ReachesTheClientAsOnTheYarpPath(string name)
    {
        await using var upstream = new ScriptedUpstream(Replies);
        var routes = Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]);
        await using var yarp = await TestInterceptor.StartAsync(routes, Yarp);
        await using var lean = await TestInterceptor.StartAsync(routes, Lean);
        var method = name.StartsWith("head-", StringComparison.Ordinal) ? "HEAD" : "GET";
        var request = Encoding.ASCII.GetBytes($"{method} /r/{name} HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        var viaYarp = await OutcomeAsync(yarp.ProxyPort, request);
        var viaLean = await OutcomeAsync(lean.ProxyPort, request);

        Assert.True(Pool(lean).OpenedCount > 0, name + ": the lean interceptor did not take its own path");
        if (LeanIsStricter.Contains(name))
        {
            Assert.StartsWith("HTTP/1.1 502 ", viaLean, StringComparison.Ordinal);
        }
        else
        {
            Assert.Equal(viaYarp, viaLean);
        }
    }

    /// <summary>
    /// Upstream answers to a request with <c>Expect: 100-continue</c> (<c>/r/name</c>). Replies that leave the body
    /// unread say <c>Connection: close</c> when the body may follow them on the wire, so no later request is read from
    /// the middle of it.
    /// </summary>
    private static readonly Dictionary<string, ScriptedReply> ExpectReplies = new()
    {
        ["continue-then-ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Continue: true),
        ["refuse-417"] = new("HTTP/1.1 417 Expectation Failed\r\nContent-Length: 6\r\n\r\nrefuse", AnswerOnTheHead: true),
        ["refuse-413-close"] = new("HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", AnswerOnTheHead: true),
        ["no-continue"] = new("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nlate"),
        ["continue-then-early-final"] = new("HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 4\r\n\r\nfull", Continue: true, AnswerOnTheHead: true),
        ["ok-before-continue"] = new("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 5\r\n\r\nearly", AnswerOnTheHead: true),
        ["early-hints-then-continue"] = new("HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Continue: true),
        ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    };

    /// <summary>
    /// The upstream's answer and the body's length (negative: that many bytes, chunked). A chunked body or one above
    /// 1,024 bytes is withheld when a final status of 300 or more comes before any 100; a smaller one is sent anyway
    /// (as .NET's client does).
    /// </summary>
    public static readonly TheoryData<string, int> ExpectCases = new()
    {
        { "continue-then-ok", 3000 },
        { "refuse-417", 3000 },
        { "refuse-417", -10 },
        { "refuse-413-close", 3000 },
        { "refuse-413-close", 10 },
        { "no-continue", 3000 },
        { "continue-then-early-final", 3000 },
        { "ok-before-continue", 3000 },
        { "early-hints-then-continue", 50 },
    };

    [Theory]
    [MemberData(nameof(ExpectCases))]
    public async Task ExpectContinue_ExchangeAsOnTheYarpPath(string name, int bodyLength)
    {
        var viaYarp = await ExpectOutcomeAsync(name, bodyLength, Yarp, lean: false);
        var viaLean = await ExpectOutcomeAsync(name, bodyLength, Lean, lean: true);

        Assert.Equal(viaYarp, viaLean);
    }

    /// <summary>
    /// What the client saw (every status line, then the final response), the bodies the upstream read, and how many
    /// upstream connections a plain request after it took (one more when the first connection was not reused).
    /// </summary>
    private static async Task<string> ExpectOutcomeAsync(string name, int bodyLength, Dictionary<string, string?> settings, bool lean)
    {
        await using var upstream = new ScriptedUpstream(ExpectReplies);
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), settings);
        var body = new string('p', Math.Abs(bodyLength));
        var framing = bodyLength < 0 ? "Transfer-Encoding: chunked" : "Content-Length: " + bodyLength;
        var head = $"POST /r/{name} HTTP/1.1\r\nHost: {Host}\r\nExpect: 100-continue\r\n{framing}\r\n\r\n";
        var client = await ExpectClient.SendAsync(interceptor.ProxyPort, head, bodyLength < 0 ? $"{body.Length:X}\r\n{body}\r\n0\r\n\r\n" : body);
        await RequestCounts.WaitForAsync(interceptor, "app", 1); // the first exchange is over, its connection pooled or closed
        var next = await RawHttp.SendAsync(interceptor.ProxyPort, $"GET /r/ok HTTP/1.1\r\nHost: {Host}\r\n\r\n");

        Assert.Equal(lean, Pool(interceptor).OpenedCount > 0);
        return $"""
            client: {client}
            upstream read: {string.Join(" | ", upstream.AnsweredBodies.Select(b => b.Length))}
            next: {next.StatusLine} {next.Body}
            upstream connections: {upstream.Connections}
            """;
    }

    private static UpstreamConnectionPool Pool(TestInterceptor interceptor) => interceptor.Services.GetRequiredService<UpstreamConnectionPool>();

    /// <summary>Header lines sorted by name, then by their order: the same set in any documented order.</summary>
    private static string Normalized(IReadOnlyList<KeyValuePair<string, string>> headers) =>
        string.Join('\n', headers.Select((h, i) => (h, i)).OrderBy(x => x.h.Key, StringComparer.OrdinalIgnoreCase).ThenBy(x => x.i).Select(x => x.h.Key + ": " + x.h.Value));

    /// <summary>Status, headers but Date (sorted) and body; or how the exchange failed.</summary>
    private static async Task<string> OutcomeAsync(int port, byte[] request)
    {
        try
        {
            var response = await RawHttp.SendAsync(port, request);
            var headers = response.Headers
                .Where(h => !string.Equals(h.Key, "Date", StringComparison.OrdinalIgnoreCase))
                .OrderBy(h => h.Key, StringComparer.OrdinalIgnoreCase)
                .Select(h => h.Key + ": " + h.Value);
            return response.StatusLine + "\n" + string.Join('\n', headers) + "\n\n" + response.Body;
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or System.Net.Sockets.SocketException)
        {
            return "failed: the connection ended";
        }
    }
}
