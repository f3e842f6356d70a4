using Grpc.Core;
using Updraft.ExternalScaler.Tests.Infrastructure;
using static Updraft.ExternalScaler.Tests.Nats.NatsTesting;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// A test CA with a server certificate for 127.0.0.1 and localhost and a client certificate; another CA nobody trusts;
/// nats-servers requiring TLS (with a user login), requiring TLS with client certificates, and without TLS; and the
/// credentials profiles the tests name.
/// </summary>
public sealed class NatsTlsFixture : IAsyncLifetime
{
    public const string User = "scaler";
    public const string Password = "tls-Pa55word";

    private NatsProfilesDirectory _directory = null!;

    internal NatsServer Tls { get; private set; } = null!;

    internal NatsServer Mutual { get; private set; } = null!;

    internal NatsServer Plain { get; private set; } = null!;

    internal string Profiles => _directory.Profiles;

    public async Task InitializeAsync()
    {
        _directory = new NatsProfilesDirectory("updraft-nats-tls-");
        var ca = _directory.Path("ca.crt");
        var serverCertificate = _directory.Path("server.crt");
        var serverKey = _directory.Path("server.key");
        var clientCertificate = _directory.Path("client.crt");
        var clientKey = _directory.Path("client.key");
        var otherCa = _directory.Path("other-ca.crt");
        var strangerCertificate = _directory.Path("stranger.crt");
        var strangerKey = _directory.Path("stranger.key");
        using (var authority = TestAuthority.Create("Updraft test CA"))
        using (var other = TestAuthority.Create("Updraft untrusted CA"))
        using (var server = authority.IssueServer("nats", "127.0.0.1", "localhost"))
        using (var client = authority.IssueClient("updraft-scaler"))
        using (var stranger = other.IssueClient("stranger"))
        {
            authority.WriteCertificate(ca);
            other.WriteCertificate(otherCa);
            TestAuthority.WritePair(server, serverCertificate, serverKey);
            TestAuthority.WritePair(client, clientCertificate, clientKey);
            TestAuthority.WritePair(stranger, strangerCertificate, strangerKey);
        }

        var login = new[] { ("user", User + "\n"), ("password", Password + "\n") };
        _directory.WriteProfile("trusted", [.. login, ("ca.crt", File.ReadAllText(ca))]);
        _directory.WriteProfile("by-name", [.. login, ("ca.crt", File.ReadAllText(ca)), ("server-name", "localhost\n")]);
        _directory.WriteProfile("wrong-name", [.. login, ("ca.crt", File.ReadAllText(ca)), ("server-name", "nats.example.com")]);
        _directory.WriteProfile("other-ca", [.. login, ("ca.crt", File.ReadAllText(otherCa))]);
        _directory.WriteProfile("login-only", login);
        _directory.WriteProfile("mtls", ("ca.crt", File.ReadAllText(ca)), ("tls.crt", File.ReadAllText(clientCertificate)), ("tls.key", File.ReadAllText(clientKey)));
        _directory.WriteProfile("ca-only", ("ca.crt", File.ReadAllText(ca)));
        _directory.WriteProfile("no-key", ("ca.crt", File.ReadAllText(ca)), ("tls.crt", File.ReadAllText(clientCertificate)));
        _directory.WriteProfile("stranger", ("ca.crt", File.ReadAllText(ca)), ("tls.crt", File.ReadAllText(strangerCertificate)), ("tls.key", File.ReadAllText(strangerKey)));

        // A generous handshake timeout (nats-server's default is 0.5 s): the first .NET handshake on a loaded machine is slow.
        Tls = await NatsServer.StartAsync(User, Password, config: $$"""
            tls { cert_file: "{{serverCertificate}}", key_file: "{{serverKey}}", timeout: 5 }
            """);
        Mutual = await NatsServer.StartAsync(config: $$"""
            tls { cert_file: "{{serverCertificate}}", key_file: "{{serverKey}}", ca_file: "{{ca}}", verify: true, timeout: 5 }
            """);
        Plain = await NatsServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var server in new[] { Tls, Mutual, Plain })
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }

        _directory.Dispose();
    }
}

/// <summary>
/// <c>source: nats-jetstream</c> in API mode over TLS, through KEDA's gRPC contract against real nats-servers on
/// loopback: trust from the profile's <c>ca.crt</c>, client certificates, the expected server name, <c>tls://</c>.
/// </summary>
public sealed class NatsTlsTests(NatsTlsFixture fixture) : IClassFixture<NatsTlsFixture>
{
    [Theory]
    [InlineData("tls", "trusted")]
    [InlineData("nats", "trusted")] // the profile's TLS files ask for TLS
    [InlineData("tls", "by-name")]
    public async Task GetMetrics_TlsServerTrustedThroughTheProfilesCa_ReadsTheLagOverTls(string scheme, string profile)
    {
        var stream = await CreateStreamAsync(fixture.Tls, "trusted", messages: 6, acknowledged: 2);
        await using var harness = await StartAsync();
        var reference = ProfileTrigger($"{scheme}://127.0.0.1:{fixture.Tls.ClientPort}", stream, profile);

        await WaitForMetricAsync(harness, reference, 4);
    }

    [Theory]
    [InlineData("tls", "other-ca", "is not trusted by the credentials profile's ca.crt: its issuer is not among the trusted CAs")]
    [InlineData("nats", "login-only", "is not trusted by the system trust store")] // the server requires TLS: upgraded all the same
    [InlineData("tls", null, "is not trusted by the system trust store")]
    [InlineData("tls", "wrong-name", "is not issued for \"nats.example.com\"")]
    public async Task GetMetrics_ServerCertificateNotAccepted_UnavailableNamingWhyNeverZero(string scheme, string? profile, string says)
    {
        var stream = await CreateStreamAsync(fixture.Tls, "trusted", messages: 3, acknowledged: 0);
        await using var harness = await StartAsync();
        var reference = ProfileTrigger($"{scheme}://127.0.0.1:{fixture.Tls.ClientPort}", stream, profile);

        var error = await WaitForErrorAsync(harness, reference, StatusCode.Unavailable);

        Assert.True(error.Status.Detail.Contains(says, StringComparison.Ordinal), error.Status.Detail);
        Assert.Contains($"127.0.0.1:{fixture.Tls.ClientPort}", error.Status.Detail, StringComparison.Ordinal);
        Assert.DoesNotContain(NatsTlsFixture.Password, error.Status.Detail, StringComparison.Ordinal);
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(reference));
        Assert.Equal(StatusCode.Unavailable, active.StatusCode);
    }

    [Fact]
    public async Task GetMetrics_MutualTls_ClientCertificateFromTheProfileIsAccepted()
    {
        var stream = await CreateStreamAsync(fixture.Mutual, "mtls", messages: 5, acknowledged: 1);
        await using var harness = await StartAsync();

        // A profile with TLS files only, no user or token.
        await WaitForMetricAsync(harness, ProfileTrigger($"tls://127.0.0.1:{fixture.Mutual.ClientPort}", stream, "mtls"), 4);
    }

    [Fact]
    public async Task GetMetrics_MutualTlsWithoutAUsableClientCertificate_ErrorNamingTheProblem()
    {
        var stream = await CreateStreamAsync(fixture.Mutual, "mtls", messages: 2, acknowledged: 0);
        await using var harness = await StartAsync();
        var url = $"tls://127.0.0.1:{fixture.Mutual.ClientPort}";

        var none = await WaitForErrorAsync(harness, ProfileTrigger(url, stream, "ca-only"), StatusCode.Unauthenticated);
        var noKey = await WaitForErrorAsync(harness, ProfileTrigger(url, stream, "no-key"), StatusCode.FailedPrecondition);
        var stranger = await WaitForErrorAsync(harness, ProfileTrigger(url, stream, "stranger"), StatusCode.Unauthenticated);

        Assert.True(none.Status.Detail.Contains("requires a TLS client certificate", StringComparison.Ordinal), none.Status.Detail);
        Assert.True(noKey.Status.Detail.Contains("has tls.crt but no tls.key", StringComparison.Ordinal), noKey.Status.Detail);
        Assert.Contains("profile \"no-key\"", noKey.Status.Detail, StringComparison.Ordinal);
        Assert.True(stranger.Status.Detail.Contains("issued for client authentication by a CA in the server's ca_file", StringComparison.Ordinal), stranger.Status.Detail);
        Assert.DoesNotContain("PRIVATE KEY", none.Status.Detail + noKey.Status.Detail + stranger.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetMetrics_TlsSchemeAgainstAServerWithoutTls_UnavailableSayingSo()
    {
        var stream = StreamName();
        await using (var admin = await JetStreamAdmin.ConnectAsync(fixture.Plain))
        {
            await admin.CreateStreamAsync(stream);
            await admin.CreateConsumerAsync(stream, "worker");
            await admin.PublishAsync(stream, 2);
        }

        await using var harness = await StartAsync();
        var plain = ProfileTrigger($"nats://127.0.0.1:{fixture.Plain.ClientPort}", stream, null);
        await WaitForMetricAsync(harness, plain, 2);

        var error = await WaitForErrorAsync(harness, ProfileTrigger($"tls://127.0.0.1:{fixture.Plain.ClientPort}", stream, null), StatusCode.Unavailable);
        var profileAsks = await WaitForErrorAsync(harness, ProfileTrigger($"nats://127.0.0.1:{fixture.Plain.ClientPort}", stream, "ca-only"), StatusCode.Unavailable);

        Assert.True(error.Status.Detail.Contains("does not offer TLS", StringComparison.Ordinal), error.Status.Detail);
        Assert.Contains("tls://127.0.0.1", error.Status.Detail, StringComparison.Ordinal);
        Assert.True(profileAsks.Status.Detail.Contains("does not offer TLS", StringComparison.Ordinal), profileAsks.Status.Detail);
        Assert.Contains("credentials profile has TLS files", profileAsks.Status.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task GetMetrics_ProfileFilesRotatedToAnUntrustedCa_FailsAtTheNextConnection()
    {
        var stream = await CreateStreamAsync(fixture.Tls, "trusted", messages: 3, acknowledged: 0);
        var profiles = Directory.CreateTempSubdirectory("updraft-nats-profiles-").FullName;
        try
        {
            var copy = Directory.CreateDirectory(Path.Combine(profiles, "rotating")).FullName;
            foreach (var file in Directory.EnumerateFiles(Path.Combine(fixture.Profiles, "trusted")))
            {
                File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
            }

            await using var harness = await StartScalerAsync(new Dictionary<string, string?> { ["UPDRAFT_NATS_CREDENTIALS_DIR"] = profiles });
            var reference = ProfileTrigger($"tls://127.0.0.1:{fixture.Tls.ClientPort}", stream, "rotating");
            await WaitForMetricAsync(harness, reference, 3);

            File.Copy(Path.Combine(fixture.Profiles, "other-ca", "ca.crt"), Path.Combine(copy, "ca.crt"), overwrite: true);
            await KickScalerConnectionsAsync(fixture.Tls);

            // While the server restarts the error is "cannot connect"; then the new ca.crt applies.
            RpcException? error = null;
            await ScalerHarness.WaitUntilAsync(async () =>
            {
                try
                {
                    Assert.Equal(3, await MetricAsync(harness, reference));
                    return false;
                }
                catch (RpcException e)
                {
                    error = e;
                    return e.Status.Detail.Contains("is not trusted by the credentials profile's ca.crt", StringComparison.Ordinal);
                }
            }, "the rotated ca.crt applies");
            Assert.Equal(StatusCode.Unavailable, error!.StatusCode);
        }
        finally
        {
            Directory.Delete(profiles, recursive: true);
        }
    }


    /// <summary>Closes the scaler's connections to <paramref name="server"/> by restarting it, so that the next poll reconnects.</summary>
    private static async Task KickScalerConnectionsAsync(NatsServer server)
    {
        await server.StopAsync();
        await server.StartAgainAsync();
    }

    private Task<ScalerHarness> StartAsync() =>
        StartScalerAsync(new Dictionary<string, string?> { ["UPDRAFT_NATS_CREDENTIALS_DIR"] = fixture.Profiles });

    private Task<string> CreateStreamAsync(NatsServer server, string profile, int messages, int acknowledged) =>
        NatsTesting.CreateStreamAsync(server, fixture.Profiles, profile, messages, acknowledged);
}
