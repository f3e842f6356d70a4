namespace Updraft.Interceptor.Tests.Differential;

/// <summary>What a recorded difference is.</summary>
internal enum Verdict
{
    /// <summary>The interceptor differs from nginx on purpose; <see cref="Difference.Why"/> says why.</summary>
    Decision,

    /// <summary>The interceptor is wrong here and should change; the entry goes when it is fixed.</summary>
    KnownBug,
}

/// <summary>A recorded difference: the observation lines only nginx shows, those only the interceptor shows, and why.</summary>
internal sealed record Difference(Verdict Verdict, string[] NginxOnly, string[] UpdraftOnly, string Why);

/// <summary>
/// Every case where the interceptor does not do what nginx does, with the exact difference asserted: a change on either
/// side fails the test until this table is updated.
/// </summary>
/// <remarks>
/// Each entry: the case, whether the interceptor is right (<see cref="Verdict.Decision"/>) or not yet
/// (<see cref="Verdict.KnownBug"/>), the observation lines only nginx produced, those only the interceptor produced
/// (see <see cref="Observation"/>; the test prints both sides in full), and why. A known bug whose observations match
/// nginx's (nginx gets it wrong too) has two empty lists: fixing it makes a difference appear, and the entry then
/// becomes a decision. nginx's configuration and the reasons for it are in <see cref="NginxProcess"/>.
/// </remarks>
internal static class DifferentialDecisions
{
    public static readonly IReadOnlyDictionary<string, Difference> All = new Dictionary<string, Difference>
    {
        ["dot-segments"] = new(
            Verdict.Decision,
            ["upstream request line: GET /a/b/../c/./d HTTP/1.1"],
            ["upstream request line: GET /a/c/d HTTP/1.1"],
            "As encoded-dot-segments: the upstream gets the normalised path the route was matched on; nginx forwards '..' and '.' raw."),
        ["dot-segments-above-root"] = new(
            Verdict.Decision,
            ["client got: 400", "upstream received nothing"],
            [
                "client got: 200",
                "upstream request line: GET /etc/passwd HTTP/1.1",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: none",
                "upstream body: ",
            ],
            "'..' above the root: the interceptor clamps at '/' (RFC 3986 §5.2.4, as Kestrel does) and forwards the normalised path; nginx answers 400."),
        ["encoded-dot-segments"] = new(
            Verdict.Decision,
            ["upstream request line: GET /a/%2e%2E/c HTTP/1.1"],
            ["upstream request line: GET /c HTTP/1.1"],
            "The interceptor removes dot segments (%2E counts as '.') before routing, as Kestrel does, and sends the path it routed on (RequestTarget): a path-prefix route cannot be escaped with /allowed/%2e%2e/admin. nginx matches locations on its normalised path but forwards the raw target."),
        ["fragment"] = new(
            Verdict.Decision,
            ["upstream request line: GET /h#frag HTTP/1.1"],
            ["upstream request line: GET /h%23frag HTTP/1.1"],
            "'#' is not allowed in a request-target. Kestrel accepts it as part of the path (the route is matched on '/h#frag') and the target goes out encoded as /h%23frag, so the upstream decodes the same path the interceptor routed on; nginx passes the raw bytes, which an upstream parses as path '/h' plus a fragment."),
        ["raw-utf8-path"] = new(
            Verdict.Decision,
            [
                "client got: 200",
                "upstream request line: GET /\\xC3\\xA9t\\xC3\\xA9 HTTP/1.1",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: none",
                "upstream body: ",
            ],
            ["client got: 400", "upstream received nothing"],
            "Raw non-ASCII bytes in the request-target are not a valid URI (RFC 3986); Kestrel answers 400, nginx forwards the bytes."),
        ["raw-utf8-query"] = new(
            Verdict.Decision,
            [
                "client got: 200",
                "upstream request line: GET /u?name=\\xC3\\xA9 HTTP/1.1",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: none",
                "upstream body: ",
            ],
            ["client got: 400", "upstream received nothing"],
            "As raw-utf8-path, in the query."),
        ["broken-escape"] = new(
            Verdict.Decision,
            ["client got: 400", "upstream received nothing"],
            [
                "client got: 200",
                "upstream request line: GET /a%25zz%254 HTTP/1.1",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: none",
                "upstream body: ",
            ],
            "A '%' not followed by two hex digits: nginx answers 400; Kestrel keeps it literally and the target goes out with '%' encoded (/a%25zz%254), which the upstream decodes to the path the interceptor routed on (RequestTarget)."),
        ["long-target"] = new(
            Verdict.Decision,
            ["client got: 414", "upstream received nothing"],
            [
                "client got: 200",
                "upstream request line: GET /long?qqqqqqqqqqqqqqqqqqqqqqqqqqqqqq...(10019 bytes)",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: none",
                "upstream body: ",
            ],
            "Request-line limit: nginx's default 8 KB header buffer answers 414; the interceptor accepts request lines up to 64 KB (InterceptorApplication.MaxRequestLineBytes), since an upstream that accepts long URLs (Go's default is 1 MB of header) must keep working behind it."),
        ["absolute-form-other-host"] = new(
            Verdict.Decision,
            [
                "client got: 200",
                "upstream request line: GET /abs HTTP/1.1",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: none",
                "upstream body: ",
            ],
            ["client got: 400", "upstream received nothing"],
            "Absolute-form target whose authority differs from Host: Kestrel answers 400; nginx (with Host $http_host) forwards Host: diff.test for a request that named other.test. RFC 9112 §3.2.2 says the target's authority wins; refusing the contradiction is the stricter choice."),
        ["asterisk-options"] = new(
            Verdict.Decision,
            ["client got: 400", "upstream received nothing"],
            [
                "client got: 200",
                "upstream request line: OPTIONS / HTTP/1.1",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: none",
                "upstream body: ",
            ],
            "OPTIONS * is forwarded as OPTIONS / (RequestTarget): .NET's client cannot send an asterisk-form target, and a server-wide OPTIONS is answered by the workload rather than refused. nginx answers 400."),
        ["authority-form-connect"] = new(
            Verdict.Decision,
            ["client got: 400"],
            ["client got: 501"],
            "CONNECT: both refuse and send nothing upstream; the interceptor says 501 (not a forward proxy, ProxyHandler), nginx 400."),
        ["custom-method"] = new(
            Verdict.Decision,
            ["upstream framing: none"],
            ["upstream header: Content-Length: 0", "upstream framing: content-length 0"],
            "A request without Content-Length or Transfer-Encoding has an empty body (RFC 9112 §6.3); .NET's client writes that as Content-Length: 0 for methods it does not know to be bodiless, nginx writes nothing. Same message."),
        ["trace"] = new(
            Verdict.Decision,
            ["client got: 405", "upstream received nothing"],
            [
                "client got: 200",
                "upstream request line: TRACE /m HTTP/1.1",
                "upstream header: Content-Length: 0",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: content-length 0",
                "upstream body: ",
            ],
            "nginx refuses TRACE itself (405); the interceptor, like Go's ReverseProxy, forwards every method and leaves TRACE policy to the workload. Its empty body goes out as Content-Length: 0 (see custom-method)."),
        ["http10-without-host"] = new(
            Verdict.Decision,
            [],
            ["upstream header: Host: 127.0.0.1:UPSTREAM"],
            "HTTP/1.0 without Host: nginx sends an HTTP/1.1 request with no Host at all, which an upstream must reject (RFC 9112 §3.2); the interceptor's client fills in the target's address, as Go's ReverseProxy does, so the request is valid."),
        ["http12-version"] = new(
            Verdict.Decision,
            [
                "client got: 200",
                "upstream request line: GET /v HTTP/1.1",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: none",
                "upstream body: ",
            ],
            ["client got: 505", "upstream received nothing"],
            "HTTP/1.2 in the request line: nginx treats it as HTTP/1.1 (RFC 9110 §2.5 SHOULD); Kestrel answers 505. No client sends 1.2; kept as the platform's choice."),
        ["duplicate-headers"] = new(
            Verdict.Decision,
            ["upstream header: X-Dup: a", "upstream header: X-Dup: b"],
            ["upstream header: X-Dup: a, b"],
            ".NET's client writes repeated fields as one line joined with ', ', which RFC 9110 §5.3 makes equivalent; nginx forwards the lines as they came."),
        ["duplicate-cookies"] = new(
            Verdict.Decision,
            ["upstream header: Cookie: a=1", "upstream header: Cookie: b=2"],
            ["upstream header: Cookie: a=1; b=2"],
            ".NET's client writes one Cookie line joined with '; ', the form RFC 6265 §5.4 requires of a user agent; nginx forwards the two lines. Same cookies."),
        ["header-name-case"] = new(
            Verdict.Decision,
            ["upstream header: accept: text/plain", "upstream header: USER-AGENT: odd"],
            ["upstream header: Accept: text/plain", "upstream header: User-Agent: odd"],
            "Kestrel writes the header names it knows (Accept, User-Agent) in their usual case; other names keep the client's case, as nginx keeps all of them. Names are case-insensitive (RFC 9110 §5.1)."),
        ["header-underscore"] = new(
            Verdict.Decision,
            [],
            ["upstream header: X_Under: 1"],
            "nginx drops names with underscores by default (underscores_in_headers off, also ingress-nginx's default, against X_Forwarded_For-style spoofing of CGI variables); the interceptor forwards them, as Go's ReverseProxy does: the workload may rely on them."),
        ["long-header"] = new(
            Verdict.Decision,
            ["client got: 400", "upstream received nothing"],
            [
                "client got: 200",
                "upstream request line: GET /d HTTP/1.1",
                "upstream header: Host: diff.test",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream header: X-Long: llllllllllllllllllllllllllllllllllllllll...(12000 bytes)",
                "upstream framing: none",
                "upstream body: ",
            ],
            "Header-size limit: nginx's default 8 KB per line answers 400; the interceptor accepts 64 KB of headers (InterceptorApplication.MaxRequestHeadersBytes), so large cookies or tokens that the upstream accepts get through."),
        ["connection-lists-custom-header"] = new(
            Verdict.Decision,
            ["upstream header: X-Foo: bar"],
            [],
            "RFC 9110 §7.6.1: the interceptor removes fields named by Connection (as Go's ReverseProxy does); nginx forwards them."),
        ["connection-keep-alive-and-custom"] = new(
            Verdict.KnownBug,
            [],
            [],
            "BUG, in Kestrel: for 'Connection: keep-alive, X-Foo' Kestrel hands the application the Connection value 'keep-alive' alone (seen in the transformer), so the interceptor cannot see that X-Foo was named and forwards it. A Connection line that names only custom fields arrives whole and is honoured (connection-lists-custom-header). The same with close (connection-close-and-custom) and with keep-alive last (connection-custom-and-keep-alive). nginx forwards X-Foo too, so the observations match; when Kestrel passes the whole value, this becomes nginx-only 'upstream header: X-Foo: bar' like connection-lists-custom-header."),
        ["connection-custom-and-keep-alive"] = new(
            Verdict.KnownBug,
            [],
            [],
            "BUG, in Kestrel: as connection-keep-alive-and-custom, with keep-alive listed last."),
        ["connection-close-and-custom"] = new(
            Verdict.KnownBug,
            [],
            [],
            "BUG, in Kestrel: as connection-keep-alive-and-custom, with close."),
        ["connection-two-custom"] = new(
            Verdict.Decision,
            ["upstream header: X-Bar: 2", "upstream header: X-Foo: 1"],
            [],
            "RFC 9110 §7.6.1, several names in one Connection line: all removed by the interceptor, all forwarded by nginx."),
        ["connection-two-lines"] = new(
            Verdict.Decision,
            ["upstream header: X-Bar: 2", "upstream header: X-Foo: 1"],
            [],
            "RFC 9110 §7.6.1, Connection split over two lines: the interceptor reads both and removes every named field; nginx forwards them."),
        ["connection-lists-content-headers"] = new(
            Verdict.Decision,
            ["upstream header: Content-Language: en", "upstream header: Content-Type: text/plain"],
            [],
            "RFC 9110 §7.6.1: a proxy must remove the fields a Connection header names. The interceptor does (as Go's ReverseProxy does), content headers included; nginx never honours Connection-listed names. Content-Length and Transfer-Encoding are exempt: they frame the body."),
        ["hop-by-hop-headers"] = new(
            Verdict.Decision,
            [
                "upstream header: Proxy-Authorization: Basic eDp5",
                "upstream header: Proxy-Connection: keep-alive",
            ],
            [],
            "Proxy-Authorization (credentials for this proxy) and Proxy-Connection are dropped, as Go's ReverseProxy drops them; nginx forwards both. Keep-Alive and TE are dropped by both."),
        ["upgrade-without-connection-upgrade"] = new(
            Verdict.Decision,
            ["upstream header: Connection: upgrade", "upstream header: Upgrade: websocket"],
            [],
            "nginx here is configured as ingress-nginx is (Upgrade $http_upgrade, Connection upgrade when Upgrade is present), so it turns a plain GET with a stray Upgrade into an upgrade request. Upgrade only means something when Connection lists it (RFC 9110 §7.8); without that it is a hop-by-hop header the interceptor drops, and the upstream sees the plain GET the client sent."),
        ["upgrade-unknown-protocol"] = new(
            Verdict.Decision,
            ["upstream header: Connection: upgrade", "upstream header: Upgrade: foo/1"],
            [],
            "The forwarder (YARP) tunnels WebSocket upgrades, not other protocol switches: an upgrade to anything else goes out as the plain request, which RFC 9110 §7.8 allows (a server may ignore Upgrade), and the client gets the upstream's ordinary answer. nginx configured as ingress-nginx passes any Upgrade on."),
        ["websocket-upgrade-refused"] = new(
            Verdict.Decision,
            ["upstream header: Connection: upgrade"],
            ["upstream header: Connection: Upgrade"],
            "A WebSocket upgrade (the upstream answers 200 and both pass that on): the interceptor forwards the client's own 'Connection: Upgrade', nginx writes the value from its configuration. Connection options are case-insensitive (RFC 9110 §7.6.1)."),
        ["post-without-length"] = new(
            Verdict.Decision,
            ["upstream framing: none"],
            ["upstream header: Content-Length: 0", "upstream framing: content-length 0"],
            "Same empty body, framed explicitly: .NET's client sends Content-Length: 0 on a POST without a body (RFC 9110 §8.6: a user agent SHOULD send Content-Length when the method defines content); nginx sends no framing."),
        ["chunked"] = new(
            Verdict.Decision,
            ["upstream header: Content-Length: 11", "upstream framing: content-length 11"],
            ["upstream header: Transfer-Encoding: chunked", "upstream framing: chunked"],
            "Body framing: the interceptor streams a chunked body as chunked; nginx buffers request bodies by default (proxy_request_buffering on, also ingress-nginx's default) and sends a Content-Length. Same bytes."),
        ["chunked-with-trailers"] = new(
            Verdict.Decision,
            ["upstream header: Content-Length: 5", "upstream framing: content-length 5"],
            ["upstream header: Transfer-Encoding: chunked", "upstream framing: chunked"],
            "Request trailers are dropped by both (.NET's client sends none over HTTP/1.1, nginx never forwards them); the Trailer header still goes through on both. Framing as in chunked."),
        ["chunk-extensions"] = new(
            Verdict.Decision,
            ["upstream header: Content-Length: 5", "upstream framing: content-length 5"],
            ["upstream header: Transfer-Encoding: chunked", "upstream framing: chunked"],
            "Chunk extensions are dropped by both (they belong to the hop); the framing differs as in chunked."),
        ["chunked-empty"] = new(
            Verdict.Decision,
            ["upstream header: Content-Length: 0", "upstream framing: content-length 0"],
            ["upstream header: Transfer-Encoding: chunked", "upstream framing: chunked"],
            "An empty chunked body: framing as in chunked (nginx: Content-Length: 0)."),
        ["chunked-with-te-trailers"] = new(
            Verdict.Decision,
            ["upstream header: Content-Length: 3", "upstream framing: content-length 3"],
            ["upstream header: Transfer-Encoding: chunked", "upstream framing: chunked"],
            "TE is dropped by both; framing as in chunked."),
        ["chunked-and-content-length"] = new(
            Verdict.Decision,
            ["client got: 400", "upstream received nothing"],
            [
                "client got: 200",
                "upstream request line: POST /b HTTP/1.1",
                "upstream header: Host: diff.test",
                "upstream header: Transfer-Encoding: chunked",
                "upstream header: X-Content-Length: 3",
                "upstream header: X-Forwarded-For: 127.0.0.1",
                "upstream header: X-Forwarded-Host: diff.test",
                "upstream header: X-Forwarded-Proto: http",
                "upstream framing: chunked",
                "upstream body: abc",
            ],
            "Both Content-Length and Transfer-Encoding (a smuggling pattern): nginx answers 400; Kestrel applies RFC 9112 §6.3 (Transfer-Encoding wins, Content-Length is removed, which an intermediary that forwards MUST do) and keeps the old value as X-Content-Length, which goes upstream. The body is forwarded chunked, with the length the chunks give."),
        ["expect-100-continue"] = new(
            Verdict.Decision,
            [],
            ["upstream header: Expect: 100-continue"],
            "Both answer the client's 100-continue; the interceptor also forwards Expect (as Go's ReverseProxy does), so the upstream can still refuse before the body is sent; nginx consumes it."),
        ["expect-100-continue-body-sent-at-once"] = new(
            Verdict.Decision,
            ["client got: 100 200"],
            ["client got: 200", "upstream header: Expect: 100-continue"],
            "The client sent the body with the head. nginx writes 100 Continue whenever it starts reading a body; Kestrel writes it only when the body has not arrived yet. Expect is forwarded (see expect-100-continue)."),
        ["expect-unknown"] = new(
            Verdict.Decision,
            [],
            ["upstream header: Expect: something"],
            "An expectation nginx does not know is dropped by nginx; the interceptor forwards Expect and leaves the answer (417 or ignoring it, RFC 9110 §10.1.1) to the workload."),
    };

    public static Difference? For(string name) => All.GetValueOrDefault(name);
}
