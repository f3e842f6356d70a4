using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Routing;

/// <summary>
/// Routing precedence end to end: raw HTTP/1.1 requests (so the request line, Host header and repeated header lines
/// go on the wire exactly as written) through a real interceptor to real upstreams, one per route.
/// </summary>
public sealed class RoutingPrecedenceTests(RoutingPrecedenceTests.Fixture fixture) : IClassFixture<RoutingPrecedenceTests.Fixture>
{
    private const string UpstreamHeader = "X-Upstream";
    private const string RawTargetHeader = "X-Raw-Target";

    [Theory]
    // Exact host: longest prefix at a segment boundary, //x// = /x, case-sensitive paths, no paths = root.
    [InlineData("app.example.com", "/", "exact-root")]
    [InlineData("app.example.com", "/api", "exact-api")]
    [InlineData("app.example.com", "/api/", "exact-api")]
    [InlineData("app.example.com", "/api/v1/users", "exact-api-v1")]
    [InlineData("app.example.com", "/apix", "exact-root")]
    [InlineData("app.example.com", "//api//", "exact-api")]
    [InlineData("app.example.com", "/API/v1", "exact-root")]
    [InlineData("app.example.com", "/api?next=/admin", "exact-api")]
    // Percent-encoding is decoded before routing; dot segments are removed before routing (documented difference).
    [InlineData("app.example.com", "/%61pi/v1", "exact-api-v1")]
    [InlineData("app.example.com", "/caf%C3%A9/menu", "cafe")]
    [InlineData("app.example.com", "/api/../admin", "admin-echo")]
    [InlineData("app.example.com", "/api/./v1/x", "exact-api-v1")]
    [InlineData("app.example.com", "/../api", "exact-api")]
    // Host normalisation: port stripped, IPv6 brackets stripped, case and a trailing dot ignored (documented).
    [InlineData("app.example.com:8080", "/api", "exact-api")]
    [InlineData("APP.Example.COM.", "/api", "exact-api")]
    [InlineData("[::1]:8080", "/", "ipv6")]
    [InlineData("[::1]", "/x", "ipv6")]
    [InlineData("mixed.example.net", "/", "upper")]
    // Headers: names ignore case, values exact, any one of repeated header lines, no comma splitting.
    [InlineData("app.example.com", "/tenant", "tenant-blue", "X-Tenant: blue")]
    [InlineData("app.example.com", "/tenant/x", "tenant-blue", "x-tenant: blue")]
    [InlineData("app.example.com", "/tenant", "tenant-blue", "X-Tenant: green", "X-Tenant: blue")]
    [InlineData("app.example.com", "/tenant", "tenant-any", "X-Tenant: Blue")]
    [InlineData("app.example.com", "/tenant", "tenant-any", "X-Tenant: blue, green")]
    // No fallback to the host's root on a header mismatch: on to the wildcard, or 404 when there is none.
    [InlineData("app.example.com", "/tenant/x", "wild")]
    [InlineData("solo.test", "/api/x", "gated", "X-Tenant: blue")]
    [InlineData("solo.test", "/api/x", null)]
    [InlineData("solo.test", "/api/x", null, "X-Tenant: red")]
    [InlineData("solo.test", "/other", "solo-root")]
    // Exact host beats the catch-all even when the catch-all's prefix is longer.
    [InlineData("solo.test", "/public", "solo-root")]
    // Wildcards: most specific first, any depth, never the bare domain.
    [InlineData("x.example.com", "/", "wild")]
    [InlineData("a.b.c.example.com", "/", "wild")]
    [InlineData("x.b.example.com", "/", "wild-b")]
    [InlineData("a.x.b.example.com", "/", "wild-b")]
    [InlineData("example.com", "/", null)]
    // An exact-host miss on the path falls through to wildcard, then catch-all.
    [InlineData("api-only.example.com", "/api/x", "api-only")]
    [InlineData("api-only.example.com", "/other", "wild")]
    [InlineData("example.com", "/public/x", "catchall")]
    [InlineData("nowhere.test", "/public", "catchall")]
    [InlineData("nowhere.test", "/publicity", null)]
    // Same key and headers: the oldest object wins, whatever the document order.
    [InlineData("order.test", "/", "order-old")]
    // InterceptorRoute beats an HTTPScaledObject of the same namespace/name; other names are independent.
    [InlineData("dup-ir.test", "/", "ir-dup")]
    [InlineData("dup.test", "/", null)]
    [InlineData("legacy.test", "/v1", "httpso-legacy")]
    [InlineData("legacy.test", "/v2", null)]
    // Among many unrelated routes.
    [InlineData("f17.filler.test", "/a/x", "filler")]
    [InlineData("f17.filler.test", "/c", null)]
    public async Task Request_HostPathHeaders_ReachesExpectedUpstream(string host, string target, string? expected, params string[] headers)
    {
        var response = await SendAsync(fixture.Interceptor.ProxyPort, host, target, headers);

        if (expected is null)
        {
            Assert.Equal(404, response.Status);
            Assert.False(response.Headers.ContainsKey(UpstreamHeader));
            Assert.Equal("Not Found\n", response.Body);
        }
        else
        {
            Assert.Equal(200, response.Status);
            Assert.Equal(expected, response.Headers.GetValueOrDefault(UpstreamHeader));
        }
    }

    [Theory]
    [InlineData("/api/../admin", "/admin")]
    [InlineData("/api/../admin?x=/api", "/admin?x=/api")]
    [InlineData("/api/v1/../../admin/x", "/admin/x")]
    [InlineData("/./admin/./y", "/admin/y")]
    [InlineData("/../../admin", "/admin")]
    [InlineData("/api/%2e%2e/admin", "/admin")]
    public async Task Request_DotSegments_RoutedAndForwardedAsNormalisedPath(string target, string forwarded)
    {
        var response = await SendAsync(fixture.Interceptor.ProxyPort, "app.example.com", target, []);

        Assert.Equal(200, response.Status);
        Assert.Equal("admin-echo", response.Headers.GetValueOrDefault(UpstreamHeader));
        Assert.Equal(forwarded, response.Headers.GetValueOrDefault(RawTargetHeader));
    }

    /// <summary>Writes one request with <c>Connection: close</c> and reads the whole response.</summary>
    private static async Task<RawResponse> SendAsync(int port, string host, string target, string[] headers)
    {
        using var hangGuard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, port, hangGuard.Token);
        var stream = client.GetStream();
        var request = new StringBuilder();
        request.Append(CultureInfo.InvariantCulture, $"GET {target} HTTP/1.1\r\nHost: {host}\r\n");
        foreach (var header in headers)
        {
            request.Append(header).Append("\r\n");
        }

        request.Append("Connection: close\r\n\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(request.ToString()), hangGuard.Token);

        using var received = new MemoryStream();
        await stream.CopyToAsync(received, hangGuard.Token);
        var text = Encoding.UTF8.GetString(received.ToArray());
        var headEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        Assert.True(headEnd > 0, $"no complete response head: {text}");
        var lines = text[..headEnd].Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var responseHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var line in lines.Skip(1))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            responseHeaders[line[..colon]] = line[(colon + 1)..].Trim();
        }

        var body = text[(headEnd + 4)..];
        if (responseHeaders.GetValueOrDefault("Transfer-Encoding") == "chunked")
        {
            body = Dechunk(body);
        }

        return new RawResponse(status, responseHeaders, body);
    }

    private static string Dechunk(string chunked)
    {
        var body = new StringBuilder();
        var position = 0;
        while (true)
        {
            var lineEnd = chunked.IndexOf("\r\n", position, StringComparison.Ordinal);
            var size = int.Parse(chunked.AsSpan(position, lineEnd - position), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (size == 0)
            {
                return body.ToString();
            }

            body.Append(chunked, lineEnd + 2, size);
            position = lineEnd + 2 + size + 2;
        }
    }

    private sealed record RawResponse(int Status, Dictionary<string, string> Headers, string Body);

    /// <summary>One upstream per route and one interceptor with all the routes (and filler), shared by the rows.</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        private const string Older = "2020-01-01T00:00:00Z";
        private const string Newer = "2024-06-01T12:00:00Z";

        private static readonly string[] NamedUpstreams =
        [
            "exact-root", "exact-api", "exact-api-v1", "tenant-blue", "tenant-any", "cafe", "api-only", "wild-b", "wild",
            "gated", "solo-root", "catchall", "ipv6", "upper", "order-new", "order-old", "ir-dup", "httpso-dup",
            "httpso-legacy", "filler",
        ];

        private readonly Dictionary<string, TestUpstream> _upstreams = [];

        internal TestInterceptor Interceptor { get; private set; } = null!;

        public async Task InitializeAsync()
        {
            var started = await Task.WhenAll(NamedUpstreams.Select(TestUpstream.StartNamedAsync));
            for (var i = 0; i < NamedUpstreams.Length; i++)
            {
                _upstreams[NamedUpstreams[i]] = started[i];
            }

            _upstreams["admin-echo"] = await TestUpstream.StartAsync(context =>
            {
                context.Response.Headers[UpstreamHeader] = "admin-echo";
                context.Response.Headers[RawTargetHeader] = context.Features.GetRequiredFeature<IHttpRequestFeature>().RawTarget;
                return context.Response.WriteAsync("admin-echo");
            });

            var documents = new List<string>
            {
                Ir("exact-root", hosts: ["app.example.com"]),
                Ir("exact-api", hosts: ["app.example.com"], paths: ["/api"]),
                Ir("exact-api-v1", hosts: ["app.example.com"], paths: ["/api/v1"]),
                Ir("tenant-blue", hosts: ["app.example.com"], paths: ["/tenant"], headers: [("X-Tenant", "blue")]),
                Ir("tenant-any", hosts: ["app.example.com"], paths: ["/tenant"], headers: [("X-Tenant", null)]),
                Ir("admin-echo", hosts: ["app.example.com"], paths: ["/admin"]),
                Ir("cafe", hosts: ["app.example.com"], paths: ["/café"]),
                Ir("api-only", hosts: ["api-only.example.com"], paths: ["/api"]),
                Ir("wild-b", hosts: ["*.b.example.com"]),
                Ir("wild", hosts: ["*.example.com"]),
                Ir("gated", hosts: ["solo.test"], paths: ["/api"], headers: [("X-Tenant", "blue")]),
                Ir("solo-root", hosts: ["solo.test"]),
                Ir("catchall", paths: ["/public"]),
                Ir("ipv6", hosts: ["[::1]"]),
                Ir("upper", hosts: ["Mixed.Example.NET"]),
                Ir("order-new", hosts: ["order.test"], created: Newer),
                Ir("order-old", hosts: ["order.test"], created: Older),
                So("dup", "httpso-dup", "hosts: [dup.test]"),
                Routes.InterceptorRoute("dup", _upstreams["ir-dup"].Port, hosts: ["dup-ir.test"]),
                So("legacy", "httpso-legacy", "hosts: [legacy.test]\n  pathPrefixes: [/v1]"),
            };
            for (var i = 0; i < 60; i++)
            {
                documents.Add(Routes.InterceptorRoute($"filler-{i}", _upstreams["filler"].Port, hosts: [$"f{i}.filler.test"], paths: ["/a", "/b"]));
            }

            Interceptor = await TestInterceptor.StartAsync(Routes.Documents([.. documents]));
        }

        public async Task DisposeAsync()
        {
            if (Interceptor is not null)
            {
                await Interceptor.DisposeAsync();
            }

            foreach (var upstream in _upstreams.Values)
            {
                await upstream.DisposeAsync();
            }
        }

        private string Ir(string name, string[]? hosts = null, string[]? paths = null, (string Name, string? Value)[]? headers = null, string? created = null) =>
            Routes.InterceptorRoute(name, _upstreams[name].Port, hosts, paths, headers, creationTimestamp: created);

        private string So(string name, string upstream, string specLines) => $$"""
            apiVersion: http.keda.sh/v1alpha1
            kind: HTTPScaledObject
            metadata: {name: {{name}}, namespace: default}
            spec:
              scaleTargetRef: {name: {{name}}, service: 127.0.0.1, port: {{_upstreams[upstream].Port}}}
              {{specLines}}

            """;
    }
}
