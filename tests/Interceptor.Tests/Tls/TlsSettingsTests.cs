using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Tls;

/// <summary>
/// The TLS tuning settings under v0.16's names (<c>KEDA_HTTP_TLS_*</c>) and the earlier <c>KEDA_HTTP_PROXY_TLS_*</c>
/// ones, checked with real handshakes against the TLS listener.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class TlsSettingsTests : IDisposable
{
    private const string Aes128 = nameof(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256);
    private const string Aes256 = nameof(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384);

    private readonly TempDirectory _directory = new();

    private string DefaultCertificate => Path.Combine(_directory.Path, "tls.crt");

    private string DefaultKey => Path.Combine(_directory.Path, "tls.key");

    [Theory]
    [InlineData("KEDA_HTTP_TLS_MIN_VERSION")]
    [InlineData("KEDA_HTTP_PROXY_TLS_MIN_VERSION")]
    public async Task MinVersion13_RefusesTls12Client_AcceptsTls13(string variable)
    {
        await using var interceptor = await StartAsync(new() { [variable] = "1.3" });

        Assert.Null(await HandshakeAsync(interceptor, SslProtocols.Tls12));
        Assert.Equal(SslProtocols.Tls13, (await HandshakeAsync(interceptor, SslProtocols.Tls12 | SslProtocols.Tls13))?.Protocol);
    }

    [Theory]
    [InlineData("KEDA_HTTP_TLS_MAX_VERSION")]
    [InlineData("KEDA_HTTP_PROXY_TLS_MAX_VERSION")]
    public async Task MaxVersion12_RefusesTls13OnlyClient_NegotiatesTls12(string variable)
    {
        await using var interceptor = await StartAsync(new() { [variable] = "1.2" });

        Assert.Null(await HandshakeAsync(interceptor, SslProtocols.Tls13));
        Assert.Equal(SslProtocols.Tls12, (await HandshakeAsync(interceptor, SslProtocols.Tls12 | SslProtocols.Tls13))?.Protocol);
    }

    [Fact]
    public async Task CipherSuites_NewName_OnlyTheListedSuiteIsNegotiated()
    {
        await using var interceptor = await StartAsync(new() { ["KEDA_HTTP_TLS_MAX_VERSION"] = "1.2", ["KEDA_HTTP_TLS_CIPHER_SUITES"] = Aes128 });

        // A client that offers only another suite is refused; one that prefers another but also offers it gets it.
        Assert.Null(await HandshakeAsync(interceptor, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]));
        var both = await HandshakeAsync(interceptor, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]);
        Assert.Equal(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, both?.CipherSuite);
    }

    [Fact]
    public async Task BothNamesSet_NewNameWins_AndAWarningNamesBoth()
    {
        await using var interceptor = await StartAsync(new()
        {
            ["KEDA_HTTP_TLS_MAX_VERSION"] = "1.2",
            ["KEDA_HTTP_TLS_CIPHER_SUITES"] = Aes128,
            ["KEDA_HTTP_PROXY_TLS_CIPHER_SUITES"] = Aes256,
            ["KEDA_HTTP_TLS_MIN_VERSION"] = "1.2",
            ["KEDA_HTTP_PROXY_TLS_MIN_VERSION"] = "1.3", // would refuse every handshake with max 1.2 if it were used
        });

        var offered = await HandshakeAsync(interceptor, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256]);
        Assert.Equal(TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, offered?.CipherSuite);
        Assert.Null(await HandshakeAsync(interceptor, SslProtocols.Tls12, [TlsCipherSuite.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384]));

        var warnings = interceptor.Logs.Entries.Where(e => e.Level == LogLevel.Warning).Select(e => e.Message).ToList();
        Assert.Equal(2, warnings.Count);
        Assert.Contains(warnings, w => w.Contains("KEDA_HTTP_TLS_CIPHER_SUITES is used", StringComparison.Ordinal) && w.Contains("KEDA_HTTP_PROXY_TLS_CIPHER_SUITES is ignored", StringComparison.Ordinal));
        Assert.Contains(warnings, w => w.Contains("KEDA_HTTP_TLS_MIN_VERSION is used", StringComparison.Ordinal) && w.Contains("KEDA_HTTP_PROXY_TLS_MIN_VERSION is ignored", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SkipVerify_NewNameWinsOverOldFalse()
    {
        await using var interceptor = await StartAsync(new() { ["KEDA_HTTP_TLS_SKIP_VERIFY"] = "true", ["KEDA_HTTP_PROXY_TLS_SKIP_VERIFY"] = "false" });

        Assert.True(interceptor.Services.GetRequiredService<IOptions<Updraft.Interceptor.Options.InterceptorOptions>>().Value.Tls.SkipVerify);
        Assert.Contains(interceptor.Logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("KEDA_HTTP_PROXY_TLS_SKIP_VERIFY is ignored", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("KEDA_HTTP_TLS_MIN_VERSION", "1.1", "use 1.2 or 1.3")]
    [InlineData("KEDA_HTTP_TLS_MAX_VERSION", "TLS1.3", "use 1.2 or 1.3")]
    [InlineData("KEDA_HTTP_TLS_CIPHER_SUITES", "TLS_NOT_A_SUITE", "is not a cipher suite name")]
    [InlineData("KEDA_HTTP_TLS_SKIP_VERIFY", "yes", "use true or false")]
    [InlineData("KEDA_HTTP_TLS_CURVE_PREFERENCES", "X25519,CurveP256", "OPENSSL_CONF")]
    [InlineData("KEDA_HTTP_PROXY_TLS_CURVE_PREFERENCES", "X25519", "OPENSSL_CONF")]
    public async Task BadValue_StartupFailsNamingTheVariableUsed(string variable, string value, string allowed)
    {
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new() { [variable] = value }));

        var problem = Assert.Single(failure.Failures);
        Assert.StartsWith(variable, problem, StringComparison.Ordinal);
        Assert.Contains(allowed, problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BadValueUnderTheIgnoredOldName_IsNotReported_TheNewNameIsUsed()
    {
        await using var interceptor = await StartAsync(new() { ["KEDA_HTTP_TLS_MIN_VERSION"] = "1.3", ["KEDA_HTTP_PROXY_TLS_MIN_VERSION"] = "1.0" });

        Assert.Null(await HandshakeAsync(interceptor, SslProtocols.Tls12));
    }

    [Fact]
    public async Task MinAboveMax_StartupFailsNamingBothVariablesUsed()
    {
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(new() { ["KEDA_HTTP_TLS_MIN_VERSION"] = "1.3", ["KEDA_HTTP_PROXY_TLS_MAX_VERSION"] = "1.2" }));

        var problem = Assert.Single(failure.Failures);
        Assert.Contains("KEDA_HTTP_TLS_MIN_VERSION is above KEDA_HTTP_PROXY_TLS_MAX_VERSION", problem, StringComparison.Ordinal);
    }

    public void Dispose() => _directory.Dispose();

    private Task<TestInterceptor> StartAsync(Dictionary<string, string?> extra)
    {
        TestCertificates.Write(TestCertificates.Create("default", "default.example.com"), DefaultCertificate, DefaultKey);
        var settings = new Dictionary<string, string?>
        {
            ["KEDA_HTTP_PROXY_TLS_ENABLED"] = "true",
            ["KEDA_HTTP_PROXY_TLS_PORT"] = "0",
            ["KEDA_HTTP_PROXY_TLS_CERT_PATH"] = DefaultCertificate,
            ["KEDA_HTTP_PROXY_TLS_KEY_PATH"] = DefaultKey,
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return TestInterceptor.StartAsync(Routes.InterceptorRoute("app", TestUpstream.FreePort()), settings);
    }

    /// <summary>One TLS handshake on a new loopback connection: what was negotiated, or null when it failed.</summary>
    private static async Task<(SslProtocols Protocol, TlsCipherSuite CipherSuite)?> HandshakeAsync(TestInterceptor interceptor, SslProtocols protocols, TlsCipherSuite[]? suites = null)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", interceptor.TlsPort);
        await using var ssl = new SslStream(tcp.GetStream());
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = "default.example.com",
            EnabledSslProtocols = protocols,
            // The listener serves a self-signed certificate; the handshake's parameters are what is under test.
            RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null,
        };
        if (suites is not null)
        {
            options.CipherSuitesPolicy = new CipherSuitesPolicy(suites);
        }

        try
        {
            await ssl.AuthenticateAsClientAsync(options);
        }
        catch (Exception e) when (e is AuthenticationException or IOException)
        {
            return null;
        }

        return (ssl.SslProtocol, ssl.NegotiatedCipherSuite);
    }
}
