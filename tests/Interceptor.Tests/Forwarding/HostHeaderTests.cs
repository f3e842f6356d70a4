using Updraft.Interceptor.Forwarding;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Tls;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>
/// A Host (or h2 <c>:authority</c>) that Kestrel lets through but that is not a valid URI authority (a port above
/// 65535, an empty label, <c>~</c> in a name) gets 400 (RFC 9112 §3.2) and is never routed; a valid one reaches the
/// upstream unchanged, on exactly one Host line (it used to arrive as the target's address plus a second Host line).
/// </summary>
public sealed class HostHeaderTests
{
    [Theory]
    [InlineData("name:99999")]
    [InlineData("app.example.com:65536")]
    [InlineData("app.example.com:4294967376")]
    [InlineData("127.0.0.1:100000")]
    [InlineData("[::1]:70000")]
    [InlineData("a..b")]
    [InlineData("app.example.com..")]
    [InlineData("a~b.example.com")]
    [InlineData("a!b.example.com:8080")]
    public async Task Forward_HostNotAValidAuthority_Returns400AndForwardsNothing(string host)
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port));

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");

        Assert.Equal(400, response.Status);
        Assert.Empty(upstream.Requests);
        interceptor.Logs.AssertNoWarnings();
        var valid = await RawHttp.SendAsync(interceptor.ProxyPort, "GET / HTTP/1.1\r\nHost: name\r\n\r\n");
        Assert.Equal(200, valid.Status);
    }

    [Theory]
    [InlineData("app.example.com")]
    [InlineData("app.example.com:8080")]
    [InlineData("app.example.com:65535")]
    [InlineData("app.example.com:00080")]
    [InlineData("127.0.0.1:1")]
    [InlineData("[::1]:8080")]
    [InlineData("[::1]")]
    [InlineData("App.Example.COM.")]
    [InlineData("-a_b.example.com")]
    public async Task Forward_ValidHost_ForwardedUnchangedOnOneHostLine(string host)
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port));

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");

        Assert.Equal(200, response.Status);
        Assert.Equal([host], upstream.Single().Values("Host"));
    }

    [Theory]
    [InlineData("app.example.com")]
    [InlineData("APP.example.com.")]
    [InlineData("app.example.com..")]
    [InlineData(".app.example.com")]
    [InlineData("a..b")]
    [InlineData("-")]
    [InlineData("_a-b_.c")]
    [InlineData("a~b")]
    [InlineData("a!b")]
    [InlineData("a%41b")]
    [InlineData("1.2.3.4")]
    [InlineData("1.2.3.4.5")]
    [InlineData("999.999.999.999:1")]
    [InlineData("name:")]
    [InlineData("name:0")]
    [InlineData("name:65535")]
    [InlineData("name:65536")]
    [InlineData("name:000000000000080")]
    [InlineData("name:99999999999999999999")]
    [InlineData("name:8a")]
    [InlineData("[::1]")]
    [InlineData("[::1]:65535")]
    [InlineData("[::1]:65536")]
    [InlineData("[::1")]
    [InlineData("[fe80::1%25eth0]:80")]
    [InlineData("[v1.x]")]
    public void IsValid_AnyHost_AgreesWithTheHostParserOfDotNetsClient(string host)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "http://127.0.0.1/");
        request.Headers.TryAddWithoutValidation("Host", host);
        var clientCanSendIt = request.Headers.Host == host;

        Assert.Equal(clientCanSendIt, HostHeader.IsValid(host));
    }

    [Fact]
    public async Task Forward_H2AuthorityPortOutOfRange_Returns400AndForwardsNothing()
    {
        await using var upstream = RecordingUpstream.Start();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port));
        await using var h2 = await RawH2Client.ConnectAsync(interceptor.ProxyPort);

        var invalid = await h2.SendAsync([(":method", "GET"), (":scheme", "http"), (":authority", "name:99999"), (":path", "/")]);
        var valid = await h2.SendAsync([(":method", "GET"), (":scheme", "http"), (":authority", "name:8080"), (":path", "/")]);

        Assert.Equal(400, invalid.Status);
        Assert.Equal(200, valid.Status);
        Assert.Equal(["name:8080"], upstream.Single().Values("Host"));
        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task Forward_TlsH2AuthorityPortOutOfRange_Returns400AndForwardsNothing()
    {
        using var directory = new TempDirectory();
        var certificate = Path.Combine(directory.Path, "tls.crt");
        var key = Path.Combine(directory.Path, "tls.key");
        TestCertificates.Write(TestCertificates.Create("default", "app.example.com"), certificate, key);
        // Requests that came in over TLS go out over TLS: the recording upstream speaks it too.
        await using var upstream = RecordingUpstream.Start(certificate: TestCertificates.Create("upstream", "127.0.0.1"));
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port), new Dictionary<string, string?>
        {
            ["KEDA_HTTP_PROXY_TLS_ENABLED"] = "true",
            ["KEDA_HTTP_PROXY_TLS_PORT"] = "0",
            ["KEDA_HTTP_PROXY_TLS_CERT_PATH"] = certificate,
            ["KEDA_HTTP_PROXY_TLS_KEY_PATH"] = key,
            ["KEDA_HTTP_PROXY_TLS_SKIP_VERIFY"] = "true",
        });
        await using var h2 = await RawH2Client.ConnectAsync(interceptor.TlsPort, tls: true);

        var invalid = await h2.SendAsync([(":method", "GET"), (":scheme", "https"), (":authority", "app.example.com:99999"), (":path", "/")]);
        var valid = await h2.SendAsync([(":method", "GET"), (":scheme", "https"), (":authority", "app.example.com:8443"), (":path", "/")]);

        Assert.Equal(400, invalid.Status);
        Assert.Equal(200, valid.Status);
        Assert.Equal(["app.example.com:8443"], upstream.Single().Values("Host"));
        interceptor.Logs.AssertNoWarnings();
    }
}
