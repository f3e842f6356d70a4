using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Shared.Hosting;

namespace Updraft.Interceptor.Tests.Tls;

/// <summary>The TLS listener: certificate choice by SNI, ALPN, rotation, and the TLS hop to the upstream.</summary>
public sealed class TlsListenerTests : IDisposable
{
    private static readonly Dictionary<string, string?> SkipVerify = new() { ["KEDA_HTTP_PROXY_TLS_SKIP_VERIFY"] = "true" };

    private readonly TempDirectory _directory = new();

    private string DefaultCertificate => Path.Combine(_directory.Path, "tls.crt");

    private string DefaultKey => Path.Combine(_directory.Path, "tls.key");

    private string Store => Path.Combine(_directory.Path, "store");

    [Fact]
    public async Task TlsListener_SniSelectsCertificateBySan_ElseDefault()
    {
        TestCertificates.Write(TestCertificates.Create("default", "default.example.com"), DefaultCertificate, DefaultKey);
        Directory.CreateDirectory(Path.Combine(Store, "nested"));
        TestCertificates.Write(TestCertificates.Create("shop", "shop.example.com"), Path.Combine(Store, "shop.crt"), Path.Combine(Store, "shop.key"));
        TestCertificates.Write(TestCertificates.Create("wild", "*.apps.example.com"), Path.Combine(Store, "nested", "wild.pem"), Path.Combine(Store, "nested", "wild-key.pem"));
        await using var upstream = await StartTlsUpstreamAsync(TestCertificates.Create("upstream", "127.0.0.1"), context => context.Request.Headers["X-Forwarded-Proto"].ToString());
        await using var interceptor = await StartAsync(upstream.Port, SkipVerify);

        var (shop, _, _) = await GetAsync(interceptor, "shop.example.com");
        var (wild, _, _) = await GetAsync(interceptor, "a.apps.example.com");
        var (unknown, _, _) = await GetAsync(interceptor, "other.example.com");
        var (none, status, body) = await GetAsync(interceptor, sni: null);

        Assert.Equal("CN=shop", shop);
        Assert.Equal("CN=wild", wild);
        Assert.Equal("CN=default", unknown);
        Assert.Equal("CN=default", none);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("https", body);
    }

    [Fact]
    public async Task TlsListener_AlpnH2_ServesHttp2()
    {
        TestCertificates.Write(TestCertificates.Create("default", "default.example.com"), DefaultCertificate, DefaultKey);
        await using var upstream = await StartTlsUpstreamAsync(TestCertificates.Create("upstream", "127.0.0.1"), _ => "up");
        await using var interceptor = await StartAsync(upstream.Port, SkipVerify);

        using var client = Client(_ => { });
        using var request = new HttpRequestMessage(HttpMethod.Get, $"https://127.0.0.1:{interceptor.TlsPort}/") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("up", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task TlsListener_CertificateRotated_NewConnectionsGetNewPairAndHalfWrittenPairIsIgnored()
    {
        TestCertificates.Write(TestCertificates.Create("first", "app.example.com"), DefaultCertificate, DefaultKey);
        await using var upstream = await StartTlsUpstreamAsync(TestCertificates.Create("upstream", "127.0.0.1"), _ => "up");
        await using var interceptor = await StartAsync(upstream.Port, SkipVerify);
        Assert.Equal("CN=first", (await GetAsync(interceptor, "app.example.com")).Subject);

        TestCertificates.Write(TestCertificates.Create("second", "app.example.com"), DefaultCertificate, DefaultKey);
        await TestInterceptor.WaitUntilAsync(async () => (await GetAsync(interceptor, "app.example.com")).Subject == "CN=second", "the rotated certificate is served");

        // A rotation caught half way: the certificate file is cut short. The listener keeps the last good pair.
        var pem = await File.ReadAllTextAsync(DefaultCertificate);
        await File.WriteAllTextAsync(DefaultCertificate, pem[..(pem.Length / 2)]);
        interceptor.Services.GetCertificateStore().Reload();
        var (subject, status, _) = await GetAsync(interceptor, "app.example.com");

        Assert.Equal("CN=second", subject);
        Assert.Equal(HttpStatusCode.OK, status);
    }

    [Fact]
    public async Task TlsListener_UpstreamOverTls_SkipVerifyAcceptsUntrustedAndDefaultRejectsIt()
    {
        TestCertificates.Write(TestCertificates.Create("default", "default.example.com"), DefaultCertificate, DefaultKey);
        using var upstreamCertificate = TestCertificates.Create("upstream", "127.0.0.1");
        await using var upstream = await StartTlsUpstreamAsync(upstreamCertificate, context => $"tls upstream: {context.Request.IsHttps}");
        await using (var skipping = await StartAsync(upstream.Port, SkipVerify))
        {
            var (_, status, body) = await GetAsync(skipping, sni: null);
            Assert.Equal(HttpStatusCode.OK, status);
            Assert.Equal("tls upstream: True", body);
        }

        await using var verifying = await StartAsync(upstream.Port);
        var (_, rejected, _) = await GetAsync(verifying, sni: null);
        Assert.Equal(HttpStatusCode.BadGateway, rejected);
    }

    [Fact]
    public async Task TlsListener_DefaultCertificateMissing_StartupFailsNamingTheVariables()
    {
        var failure = await Assert.ThrowsAsync<StartupProblemsException>(() => StartAsync(TestUpstream.FreePort()));

        var problem = Assert.Single(failure.Problems);
        Assert.Contains("KEDA_HTTP_PROXY_TLS_CERT_PATH=", problem, StringComparison.Ordinal);
        Assert.Contains("KEDA_HTTP_PROXY_TLS_KEY_PATH=", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("KEDA_HTTP_PROXY_TLS_MIN_VERSION", "1.1", "use 1.2 or 1.3")]
    [InlineData("KEDA_HTTP_PROXY_TLS_CIPHER_SUITES", "TLS_NOT_A_SUITE", "is not a cipher suite name")]
    public async Task TlsListener_BadSetting_StartupFailsNamingIt(string variable, string value, string allowed)
    {
        TestCertificates.Write(TestCertificates.Create("default", "default.example.com"), DefaultCertificate, DefaultKey);

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(TestUpstream.FreePort(), new() { [variable] = value }));

        var problem = Assert.Single(failure.Failures);
        Assert.Contains(variable, problem, StringComparison.Ordinal);
        Assert.Contains(allowed, problem, StringComparison.Ordinal);
    }

    public void Dispose() => _directory.Dispose();

    private Task<TestInterceptor> StartAsync(int upstreamPort, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["KEDA_HTTP_PROXY_TLS_ENABLED"] = "true",
            ["KEDA_HTTP_PROXY_TLS_PORT"] = "0",
            ["KEDA_HTTP_PROXY_TLS_CERT_PATH"] = DefaultCertificate,
            ["KEDA_HTTP_PROXY_TLS_KEY_PATH"] = DefaultKey,
            ["KEDA_HTTP_PROXY_TLS_CERT_STORE_PATHS"] = Directory.Exists(Store) ? Store : null,
        };
        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstreamPort), settings);
    }

    /// <summary>One request on a new TLS connection: the served certificate's subject, the status and the body.</summary>
    private static async Task<(string Subject, HttpStatusCode Status, string Body)> GetAsync(TestInterceptor interceptor, string? sni)
    {
        string? subject = null;
        using var client = Client(certificate => subject = certificate.Subject);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"https://127.0.0.1:{interceptor.TlsPort}/");
        if (sni is not null)
        {
            // .NET sends the Host header's name as SNI; an IP address in the URI sends none.
            request.Headers.Host = sni;
        }

        using var response = await client.SendAsync(request);
        return (subject!, response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static HttpClient Client(Action<X509Certificate2> seen) =>
        new(new SocketsHttpHandler
        {
            UseProxy = false,
            SslOptions =
            {
                // The tests serve self-signed certificates; what matters is which one arrives.
                RemoteCertificateValidationCallback = (_, certificate, _, _) =>
                {
                    if (certificate is not null)
                    {
                        seen(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
                    }

                    return certificate is not null;
                },
            },
        });

    private static Task<TestUpstream> StartTlsUpstreamAsync(X509Certificate2 certificate, Func<HttpContext, string> answer) =>
        TestUpstream.StartAppAsync(app => app.Run(context => context.Response.WriteAsync(answer(context))), listen => listen.UseHttps(certificate));
}
