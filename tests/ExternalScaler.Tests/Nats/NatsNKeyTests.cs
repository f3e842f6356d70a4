using System.Buffers.Text;
using System.Text;
using Grpc.Core;
using NATS.NKeys;
using Updraft.ExternalScaler.Tests.Infrastructure;
using static Updraft.ExternalScaler.Tests.Nats.NatsTesting;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// Key pairs made here: an NKey user; an operator with a JetStream account and its user (JWTs by <see cref="TestJwt"/>);
/// strangers the servers do not know. Three nats-servers with JetStream: one with the NKey user (TLS offered, not
/// required), one in operator mode (memory resolver), one without authentication; and the profiles the tests name.
/// </summary>
public sealed class NatsNKeyFixture : IAsyncLifetime
{
    private NatsProfilesDirectory _directory = null!;

    internal NatsServer NKey { get; private set; } = null!;

    internal NatsServer Operator { get; private set; } = null!;

    internal NatsServer Plain { get; private set; } = null!;

    internal string Profiles => _directory.Profiles;

    /// <summary>Every seed written to a profile: none may appear in an error.</summary>
    internal List<string> Seeds { get; } = [];

    public async Task InitializeAsync()
    {
        _directory = new NatsProfilesDirectory("updraft-nats-nkey-");

        using var user = KeyPair.CreatePair(PrefixByte.User);
        using var otherUser = KeyPair.CreatePair(PrefixByte.User);
        using var @operator = KeyPair.CreatePair(PrefixByte.Operator);
        using var system = KeyPair.CreatePair(PrefixByte.Account);
        using var account = KeyPair.CreatePair(PrefixByte.Account);
        using var strangerAccount = KeyPair.CreatePair(PrefixByte.Account);
        using var jwtUser = KeyPair.CreatePair(PrefixByte.User);
        Seeds.AddRange([user.GetSeed(), otherUser.GetSeed(), jwtUser.GetSeed()]);

        var ca = _directory.Path("ca.crt");
        var otherCa = _directory.Path("other-ca.crt");
        var serverCertificate = _directory.Path("server.crt");
        var serverKey = _directory.Path("server.key");
        using (var authority = TestAuthority.Create("Updraft NKey test CA"))
        using (var other = TestAuthority.Create("Updraft untrusted CA"))
        using (var server = authority.IssueServer("nats", "127.0.0.1"))
        {
            authority.WriteCertificate(ca);
            other.WriteCertificate(otherCa);
            TestAuthority.WritePair(server, serverCertificate, serverKey);
        }

        _directory.WriteProfile("nkey", ("nkey", user.GetSeed() + "\n"));
        _directory.WriteProfile("nkey-tls", ("nkey", user.GetSeed()), ("ca.crt", File.ReadAllText(ca)));
        _directory.WriteProfile("nkey-other-ca", ("nkey", user.GetSeed()), ("ca.crt", File.ReadAllText(otherCa)));
        _directory.WriteProfile("other-nkey", ("nkey", otherUser.GetSeed()));

        var userJwt = TestJwt.User(account, jwtUser.GetPublicKey(), "scaler");
        _directory.WriteProfile("creds", ("creds", TestJwt.Creds(userJwt, jwtUser.GetSeed())));
        // The same user vouched for by an account the server does not know, and by a key posing as the right account.
        _directory.WriteProfile("stranger-account", ("creds", TestJwt.Creds(TestJwt.User(strangerAccount, jwtUser.GetPublicKey(), "scaler"), jwtUser.GetSeed())));
        _directory.WriteProfile("forged", ("creds", TestJwt.Creds(Forge(userJwt, account.GetPublicKey(), strangerAccount), jwtUser.GetSeed())));

        var operatorJwt = _directory.Path("operator.jwt");
        File.WriteAllText(operatorJwt, TestJwt.Operator(@operator, "updraft-test"));
        var accounts = new Dictionary<string, string>
        {
            [system.GetPublicKey()] = TestJwt.Account(@operator, system.GetPublicKey(), "SYS", jetStream: false),
            [account.GetPublicKey()] = TestJwt.Account(@operator, account.GetPublicKey(), "APP", jetStream: true),
        };

        // A generous TLS handshake timeout (nats-server's default is 0.5 s): the first .NET handshake on a loaded machine is slow.
        NKey = await NatsServer.StartAsync(config: $$"""
            authorization { users = [ { nkey: {{user.GetPublicKey()}} } ] }
            tls { cert_file: "{{serverCertificate}}", key_file: "{{serverKey}}", timeout: 5 }
            allow_non_tls: true
            """);
        Operator = await NatsServer.StartAsync(config: $$"""
            operator: "{{operatorJwt}}"
            system_account: {{system.GetPublicKey()}}
            resolver: MEMORY
            resolver_preload: {
            {{string.Join("\n", accounts.Select(a => $"  {a.Key}: \"{a.Value}\""))}}
            }
            """);
        Plain = await NatsServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        foreach (var server in new[] { NKey, Operator, Plain })
        {
            if (server is not null)
            {
                await server.DisposeAsync();
            }
        }

        _directory.Dispose();
    }

    /// <summary><paramref name="jwt"/>'s header and claims (naming <paramref name="issuer"/>), signed by <paramref name="signer"/> instead.</summary>
    private static string Forge(string jwt, string issuer, KeyPair signer)
    {
        var signed = jwt[..jwt.LastIndexOf('.')];
        Assert.Contains(issuer, Encoding.UTF8.GetString(Base64Url.DecodeFromChars(signed.Split('.')[1])), StringComparison.Ordinal);
        var signature = new byte[64];
        signer.Sign(Encoding.ASCII.GetBytes(signed), signature);
        return signed + "." + Base64Url.EncodeToString(signature);
    }
}

/// <summary>
/// <c>source: nats-jetstream</c> in API mode logging in with an NKey or a <c>.creds</c> file, through KEDA's gRPC
/// contract against real nats-servers on loopback.
/// </summary>
public sealed class NatsNKeyTests(NatsNKeyFixture fixture) : IClassFixture<NatsNKeyFixture>
{
    [Theory]
    [InlineData("nkey")]
    [InlineData("nkey-tls")] // the profile's ca.crt asks for TLS, which the server offers
    public async Task GetMetrics_NKeySeedInTheProfile_ReadsTheLag(string profile)
    {
        var stream = await CreateStreamAsync(fixture.NKey, profile, messages: 7, acknowledged: 2);
        await using var harness = await StartAsync();

        await WaitForMetricAsync(harness, ProfileTrigger(fixture.NKey.Url, stream, profile), 5);
    }

    [Fact]
    public async Task GetMetrics_NKeyWithAnUntrustedCa_TlsIsUsedAndFailsNamingWhy()
    {
        var stream = await CreateStreamAsync(fixture.NKey, "nkey", messages: 2, acknowledged: 0);
        await using var harness = await StartAsync();

        var error = await WaitForErrorAsync(harness, ProfileTrigger(fixture.NKey.Url, stream, "nkey-other-ca"), StatusCode.Unavailable);

        Assert.True(error.Status.Detail.Contains("is not trusted by the credentials profile's ca.crt", StringComparison.Ordinal), error.Status.Detail);
        AssertNoSeed(error);
    }

    [Fact]
    public async Task GetMetrics_SeedOfAUserTheServerDoesNotKnow_UnauthenticatedNeverZero()
    {
        var stream = await CreateStreamAsync(fixture.NKey, "nkey", messages: 3, acknowledged: 0);
        await using var harness = await StartAsync();
        var reference = ProfileTrigger(fixture.NKey.Url, stream, "other-nkey");

        var error = await WaitForErrorAsync(harness, reference, StatusCode.Unauthenticated);

        Assert.True(error.Status.Detail.Contains("Authorization Violation", StringComparison.Ordinal), error.Status.Detail);
        Assert.Contains($"127.0.0.1:{fixture.NKey.ClientPort}", error.Status.Detail, StringComparison.Ordinal);
        AssertNoSeed(error);
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(reference));
        Assert.Equal(StatusCode.Unauthenticated, active.StatusCode);
    }

    [Fact]
    public async Task GetMetrics_CredsFileInTheProfile_ReadsTheLagFromTheOperatorModeServer()
    {
        var stream = await CreateStreamAsync(fixture.Operator, "creds", messages: 6, acknowledged: 1);
        await using var harness = await StartAsync();

        await WaitForMetricAsync(harness, ProfileTrigger(fixture.Operator.Url, stream, "creds"), 5);
    }

    [Theory]
    [InlineData("stranger-account")]
    [InlineData("forged")]
    public async Task GetMetrics_UserJwtNotSignedByTheAccount_UnauthenticatedNeverZero(string profile)
    {
        var stream = await CreateStreamAsync(fixture.Operator, "creds", messages: 4, acknowledged: 0);
        await using var harness = await StartAsync();
        var reference = ProfileTrigger(fixture.Operator.Url, stream, profile);

        var error = await WaitForErrorAsync(harness, reference, StatusCode.Unauthenticated);

        Assert.True(error.Status.Detail.Contains("Authorization Violation", StringComparison.Ordinal), error.Status.Detail);
        AssertNoSeed(error);
        Assert.DoesNotContain("eyJ", error.Status.Detail, StringComparison.Ordinal); // no JWT either
    }

    [Theory]
    [InlineData("nkey", "its nkey file")]
    [InlineData("creds", "its creds file")]
    public async Task GetMetrics_KeyLoginToAServerThatSendsNoNonce_UnauthenticatedSayingSo(string profile, string says)
    {
        var stream = StreamName();
        await using (var admin = await JetStreamAdmin.ConnectAsync(fixture.Plain))
        {
            await admin.CreateStreamAsync(stream);
            await admin.CreateConsumerAsync(stream, "worker");
            await admin.PublishAsync(stream, 2);
        }

        await using var harness = await StartAsync();
        await WaitForMetricAsync(harness, ProfileTrigger(fixture.Plain.Url, stream, null), 2);

        var error = await WaitForErrorAsync(harness, ProfileTrigger(fixture.Plain.Url, stream, profile), StatusCode.Unauthenticated);

        Assert.True(error.Status.Detail.Contains("sent no nonce in its INFO", StringComparison.Ordinal), error.Status.Detail);
        Assert.Contains(says, error.Status.Detail, StringComparison.Ordinal);
        AssertNoSeed(error);
    }


    private void AssertNoSeed(RpcException error)
    {
        foreach (var seed in fixture.Seeds)
        {
            Assert.DoesNotContain(seed, error.Status.Detail, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("SEED", error.Status.Detail, StringComparison.Ordinal);
    }

    private Task<ScalerHarness> StartAsync() =>
        StartScalerAsync(new Dictionary<string, string?> { ["UPDRAFT_NATS_CREDENTIALS_DIR"] = fixture.Profiles });

    private Task<string> CreateStreamAsync(NatsServer server, string profile, int messages, int acknowledged) =>
        NatsTesting.CreateStreamAsync(server, fixture.Profiles, profile, messages, acknowledged);
}
