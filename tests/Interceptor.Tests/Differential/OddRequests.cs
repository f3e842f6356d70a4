using System.Text;

namespace Updraft.Interceptor.Tests.Differential;

/// <summary>One request (or several on one connection) as raw bytes, sent the same way to nginx and to the interceptor.</summary>
/// <param name="Name">A short stable name (the theory's case).</param>
/// <param name="Parts">Written in turn; before each part after the first, one interim (100) response is read.</param>
/// <param name="Responses">How many final responses a proxy that accepts every request would write.</param>
/// <param name="Head">The requests are HEADs: their responses have no body.</param>
internal sealed record OddRequest(string Name, IReadOnlyList<byte[]> Parts, int Responses = 1, bool Head = false);

/// <summary>The cases: requests a client could send that a reverse proxy may treat in more than one way.</summary>
internal static class OddRequests
{
    private const string Host = "Host: diff.test\r\n";

    public static readonly IReadOnlyList<OddRequest> All =
    [
        Get("plain", "/plain?x=1"),

        // Request targets.
        Get("encoded-slash-upper", "/a%2Fb"),
        Get("encoded-slash-lower", "/a%2fb"),
        Get("double-encoded-slash", "/a%252Fb"),
        Get("encoded-space", "/a%20b?q=%20"),
        Get("dot-segments", "/a/b/../c/./d"),
        Get("dot-segments-above-root", "/../../etc/passwd"),
        Get("encoded-dot-segments", "/a/%2e%2E/c"),
        Get("double-slashes", "//a//b/"),
        Get("semicolon-parameters", "/a;v=1/b;x?y=;z"),
        Get("query-with-question-marks-and-slashes", "/q?a=?b&c=/d//e"),
        Get("fragment", "/h#frag"),
        Get("percent-encoded-utf8", "/%C3%A9t%C3%A9?x=%E2%82%AC"),
        Raw("raw-utf8-path", "GET /\u00e9t\u00e9 HTTP/1.1\r\n" + Host + "\r\n"),
        Raw("raw-utf8-query", "GET /u?name=\u00e9 HTTP/1.1\r\n" + Host + "\r\n"),
        Get("broken-escape", "/a%zz%4"),
        Get("long-target", "/long?" + new string('q', 10_000)),
        Raw("absolute-form", "GET http://diff.test/abs?x=1 HTTP/1.1\r\n" + Host + "\r\n"),
        Raw("absolute-form-other-host", "GET http://other.test/abs HTTP/1.1\r\n" + Host + "\r\n"),
        Raw("asterisk-options", "OPTIONS * HTTP/1.1\r\n" + Host + "\r\n"),
        Raw("authority-form-connect", "CONNECT diff.test:443 HTTP/1.1\r\nHost: diff.test:443\r\n\r\n"),

        // Methods and versions.
        Raw("lower-case-method", "get /m HTTP/1.1\r\n" + Host + "\r\n"),
        Raw("custom-method", "PURGE /m HTTP/1.1\r\n" + Host + "\r\n"),
        Raw("bad-method-character", "G@T /m HTTP/1.1\r\n" + Host + "\r\n"),
        Raw("trace", "TRACE /m HTTP/1.1\r\n" + Host + "\r\n"),
        Raw("head", "HEAD /m HTTP/1.1\r\n" + Host + "\r\n") with { Head = true },
        Raw("http10-without-host", "GET /old HTTP/1.0\r\n\r\n"),
        Raw("http10-post", "POST /old HTTP/1.0\r\n" + Host + "Content-Length: 3\r\n\r\nabc"),
        Raw("http10-keep-alive", "GET /old HTTP/1.0\r\n" + Host + "Connection: keep-alive\r\n\r\n"),
        Raw("http12-version", "GET /v HTTP/1.2\r\n" + Host + "\r\n"),
        Raw("http20-version", "GET /v HTTP/2.0\r\n" + Host + "\r\n"),

        // Host.
        Raw("host-with-port", "GET /h HTTP/1.1\r\nHost: diff.test:8080\r\n\r\n"),
        Raw("host-upper-case", "GET /h HTTP/1.1\r\nHost: DIFF.Test\r\n\r\n"),
        Raw("host-trailing-dot", "GET /h HTTP/1.1\r\nHost: diff.test.\r\n\r\n"),
        Raw("host-empty", "GET /h HTTP/1.1\r\nHost:\r\n\r\n"),
        Raw("host-missing", "GET /h HTTP/1.1\r\n\r\n"),
        Raw("host-twice", "GET /h HTTP/1.1\r\n" + Host + Host + "\r\n"),

        // Header fields.
        Get("duplicate-headers", "/d", "X-Dup: a\r\nX-Other: o\r\nX-Dup: b\r\n"),
        Get("duplicate-cookies", "/d", "Cookie: a=1\r\nCookie: b=2\r\n"),
        Get("header-name-case", "/d", "x-lower: 1\r\nX-UPPER: 2\r\naccept: text/plain\r\nUSER-AGENT: odd\r\n"),
        Get("header-trailing-whitespace", "/d", "X-Space: v \t \r\n"),
        Get("header-space-before-colon", "/d", "X-Bad : v\r\n"),
        Get("obs-fold", "/d", "X-Fold: a\r\n  b\r\n"),
        Get("header-underscore", "/d", "X_Under: 1\r\n"),
        Get("header-control-character", "/d", "X-Ctl: a\u0001b\r\n"),
        Get("header-utf8-value", "/d", "X-Name: \u00e9\r\n"),
        Get("long-header", "/d", "X-Long: " + new string('l', 12_000) + "\r\n"),
        Get("connection-lists-custom-header", "/d", "Connection: x-foo\r\nX-Foo: bar\r\nX-Keep: 1\r\n"),
        Get("connection-keep-alive-and-custom", "/d", "Connection: keep-alive, X-Foo\r\nX-Foo: bar\r\nKeep-Alive: timeout=5\r\n"),
        Get("connection-custom-and-keep-alive", "/d", "Connection: X-Foo, keep-alive\r\nX-Foo: bar\r\n"),
        Get("connection-close-and-custom", "/d", "Connection: close, X-Foo\r\nX-Foo: bar\r\n"),
        Get("connection-two-custom", "/d", "Connection: X-Foo, X-Bar\r\nX-Foo: 1\r\nX-Bar: 2\r\n"),
        Get("connection-two-lines", "/d", "Connection: X-Foo\r\nConnection: X-Bar\r\nX-Foo: 1\r\nX-Bar: 2\r\n"),
        Raw("connection-lists-content-headers", "POST /d HTTP/1.1\r\n" + Host + "Connection: content-type, content-language\r\nContent-Type: text/plain\r\nContent-Language: en\r\nContent-Length: 5\r\n\r\nhello"),
        Get("hop-by-hop-headers", "/d", "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nProxy-Authorization: Basic eDp5\r\nTE: trailers\r\n"),
        Get("client-forwarded-headers", "/d", "X-Forwarded-For: 10.0.0.1\r\nX-Forwarded-Host: front.test\r\nX-Forwarded-Proto: https\r\nForwarded: for=10.0.0.1\r\nVia: 1.1 front\r\n"),
        Get("upgrade-without-connection-upgrade", "/d", "Upgrade: websocket\r\n"),
        Get("upgrade-unknown-protocol", "/d", "Connection: Upgrade\r\nUpgrade: foo/1\r\n"),
        Get("websocket-upgrade-refused", "/d", "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),

        // Bodies and framing.
        Raw("post-content-length", "POST /b HTTP/1.1\r\n" + Host + "Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello"),
        Raw("post-empty-content-length", "POST /b HTTP/1.1\r\n" + Host + "Content-Length: 0\r\n\r\n"),
        Raw("post-without-length", "POST /b HTTP/1.1\r\n" + Host + "\r\n"),
        Raw("get-with-body", "GET /b HTTP/1.1\r\n" + Host + "Content-Length: 3\r\n\r\nabc"),
        Raw("chunked", "POST /b HTTP/1.1\r\n" + Host + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
        Raw("chunked-with-trailers", "POST /b HTTP/1.1\r\n" + Host + "Transfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n5\r\nhello\r\n0\r\nX-Sum: 5\r\n\r\n"),
        Raw("chunk-extensions", "POST /b HTTP/1.1\r\n" + Host + "Transfer-Encoding: chunked\r\n\r\n5;name=value\r\nhello\r\n0;last\r\n\r\n"),
        Raw("chunked-empty", "POST /b HTTP/1.1\r\n" + Host + "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        Raw("chunked-with-te-trailers", "POST /b HTTP/1.1\r\n" + Host + "TE: trailers\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        Raw("chunked-and-content-length", "POST /b HTTP/1.1\r\n" + Host + "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        Raw("transfer-encoding-gzip-chunked", "POST /b HTTP/1.1\r\n" + Host + "Transfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        Raw("conflicting-content-lengths", "POST /b HTTP/1.1\r\n" + Host + "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        Raw("same-content-length-twice", "POST /b HTTP/1.1\r\n" + Host + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
        new("expect-100-continue", [Bytes("POST /b HTTP/1.1\r\n" + Host + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"), Bytes("hello")]),
        Raw("expect-100-continue-body-sent-at-once", "POST /b HTTP/1.1\r\n" + Host + "Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"),
        Raw("expect-unknown", "POST /b HTTP/1.1\r\n" + Host + "Expect: something\r\nContent-Length: 5\r\n\r\nhello"),

        // Several requests on one connection.
        Raw("pipelined-gets", "GET /p1 HTTP/1.1\r\n" + Host + "\r\nGET /p2 HTTP/1.1\r\n" + Host + "\r\n") with { Responses = 2 },
        Raw("pipelined-post-then-get", "POST /p1 HTTP/1.1\r\n" + Host + "Content-Length: 3\r\n\r\nabcGET /p2 HTTP/1.1\r\n" + Host + "\r\n") with { Responses = 2 },
    ];

    public static OddRequest Named(string name) => All.Single(c => c.Name == name);

    private static OddRequest Get(string name, string target, string headers = "") =>
        Raw(name, "GET " + target + " HTTP/1.1\r\n" + Host + headers + "\r\n");

    /// <summary>Text sent as UTF-8 (so <c>é</c> goes out as two bytes, as a browser would send it).</summary>
    private static OddRequest Raw(string name, string text) => new(name, [Bytes(text)]);

    private static byte[] Bytes(string text) => Encoding.UTF8.GetBytes(text);
}
