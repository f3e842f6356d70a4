using NATS.NKeys;
using Updraft.ExternalScaler.Nats;
using Updraft.ExternalScaler.Nats.Client;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>How a credentials profile's files are read: logins, TLS files, and the problems they can have.</summary>
public sealed class NatsCredentialProfilesTests : IDisposable
{
    private const string Secret = "SECRET-CONTENT-7f3a";

    private readonly string _directory = Directory.CreateTempSubdirectory("updraft-nats-profiles-").FullName;

    [Fact]
    public void Load_TlsFilesOnly_TlsWithoutALogin()
    {
        using var authority = TestAuthority.Create("Profile test CA");
        using var client = authority.IssueClient("scaler");
        var directory = Profile("tls-only");
        authority.WriteCertificate(Path.Combine(directory, "ca.crt"));
        TestAuthority.WritePair(client, Path.Combine(directory, "tls.crt"), Path.Combine(directory, "tls.key"));
        File.WriteAllText(Path.Combine(directory, "server-name"), "nats.internal\n");

        using var profile = Profiles().Load("tls-only")!;

        Assert.Null(profile.Credentials);
        Assert.NotNull(profile.Tls);
        Assert.Equal(authority.Certificate.Thumbprint, Assert.Single(profile.Tls.Authorities!).Thumbprint);
        Assert.Equal(client.Thumbprint, profile.Tls.Certificate!.Thumbprint);
        Assert.True(profile.Tls.Certificate.HasPrivateKey);
        Assert.Equal("nats.internal", profile.Tls.ServerName);
    }

    [Fact]
    public void Load_LoginOnly_NoTls()
    {
        var directory = Profile("login");
        File.WriteAllText(Path.Combine(directory, "token"), "t0ken\n");

        using var profile = Profiles().Load("login")!;

        Assert.Equal("t0ken", profile.Credentials!.Token);
        Assert.Null(profile.Tls);
    }

    [Theory]
    [InlineData(new string[0], "has none of the files user, token, nkey, creds, ca.crt, tls.crt")]
    [InlineData(new[] { "tls.key" }, "has tls.key but no tls.crt")]
    [InlineData(new[] { "tls.crt" }, "has tls.crt but no tls.key")]
    [InlineData(new[] { "ca.crt:garbage" }, "ca.crt holds no PEM certificate")]
    [InlineData(new[] { "ca.crt:broken" }, "ca.crt holds no PEM certificate")]
    [InlineData(new[] { "ca.crt:notder" }, "ca.crt is not a PEM certificate file")]
    [InlineData(new[] { "tls.crt", "tls.key:other" }, "tls.key is not a PEM private key matching the first certificate in tls.crt")]
    [InlineData(new[] { "ca.crt", "server-name:not a host!" }, "server-name is not a host name")]
    public void Load_UnusableFiles_ProblemNamesTheFileNeverItsContents(string[] files, string says)
    {
        using var authority = TestAuthority.Create("Profile test CA");
        using var client = authority.IssueClient("scaler");
        using var other = authority.IssueClient("other");
        var directory = Profile("p");
        foreach (var entry in files)
        {
            var (file, kind) = entry.Contains(':', StringComparison.Ordinal) ? (entry.Split(':')[0], entry.Split(':')[1]) : (entry, "");
            var path = Path.Combine(directory, file);
            switch (file, kind)
            {
                case (_, "garbage"):
                    File.WriteAllText(path, Secret);
                    break;
                case (_, "notder"):
                    File.WriteAllText(path, $"-----BEGIN CERTIFICATE-----\n{Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(Secret))}\n-----END CERTIFICATE-----\n");
                    break;
                case (_, "broken"):
                    File.WriteAllText(path, $"-----BEGIN CERTIFICATE-----\n{Secret}\n-----END CERTIFICATE-----\n");
                    break;
                case ("ca.crt", _):
                    authority.WriteCertificate(path);
                    break;
                case ("tls.crt", _):
                    File.WriteAllText(path, client.ExportCertificatePem());
                    break;
                case ("tls.key", "other"):
                    TestAuthority.WritePair(other, path + ".crt", path);
                    break;
                case ("tls.key", _):
                    TestAuthority.WritePair(client, path + ".crt", path);
                    break;
                default:
                    File.WriteAllText(path, kind);
                    break;
            }
        }

        var error = Assert.Throws<NatsProfileException>(() => Profiles().Load("p"));

        Assert.True(error.Message.Contains(says, StringComparison.Ordinal), error.Message);
        Assert.Contains("profile \"p\"", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("BEGIN", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_NKeyOnly_UserKeyOfTheSeedThatNeverShowsIt()
    {
        using var user = KeyPair.CreatePair(PrefixByte.User);
        File.WriteAllText(Path.Combine(Profile("nkey"), "nkey"), user.GetSeed() + "\n");

        using var profile = Profiles().Load("nkey")!;

        var key = profile.Credentials!.Key!;
        Assert.Equal(user.GetPublicKey(), key.PublicKey);
        Assert.Null(key.Jwt);
        Assert.Null(profile.Credentials.User);
        Assert.Null(profile.Tls);
        Assert.DoesNotContain(user.GetSeed(), key.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(user.GetSeed(), profile.Credentials.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Load_CredsWithTls_JwtAndKeyAndTls()
    {
        using var account = KeyPair.CreatePair(PrefixByte.Account);
        using var user = KeyPair.CreatePair(PrefixByte.User);
        using var authority = TestAuthority.Create("Profile test CA");
        var jwt = TestJwt.User(account, user.GetPublicKey(), "scaler");
        var directory = Profile("creds");
        File.WriteAllText(Path.Combine(directory, "creds"), TestJwt.Creds(jwt, user.GetSeed()).ReplaceLineEndings("\r\n"));
        authority.WriteCertificate(Path.Combine(directory, "ca.crt"));

        using var profile = Profiles().Load("creds")!;

        Assert.Equal(jwt, profile.Credentials!.Key!.Jwt);
        Assert.Equal(user.GetPublicKey(), profile.Credentials.Key.PublicKey);
        Assert.NotNull(profile.Tls!.Authorities);
    }

    [Theory]
    [InlineData("nkey:garbage", "nkey is not an NKey seed (58 base32 characters")]
    [InlineData("nkey:checksum", "nkey is not an NKey seed (its checksum or prefix is wrong)")]
    [InlineData("nkey:account", "nkey holds an NKey seed of an account, not of a user")]
    [InlineData("nkey:public", "nkey is not an NKey seed")]
    [InlineData("creds:no-jwt", "creds has no -----BEGIN NATS USER JWT----- block")]
    [InlineData("creds:no-seed", "creds has no -----BEGIN USER NKEY SEED----- block")]
    [InlineData("creds:other-seed", "creds holds a seed that does not belong to its JWT")]
    [InlineData("creds:bad-jwt", "creds holds a user JWT that cannot be read")]
    [InlineData("nkey,creds", "has both nkey and creds")]
    [InlineData("nkey,user", "has both nkey and user: a profile logs in one way")]
    [InlineData("creds,token", "has both creds and token: a profile logs in one way")]
    public void Load_UnusableKeyFiles_ProblemNamesTheFileNeverTheSeed(string files, string says)
    {
        using var account = KeyPair.CreatePair(PrefixByte.Account);
        using var user = KeyPair.CreatePair(PrefixByte.User);
        using var other = KeyPair.CreatePair(PrefixByte.User);
        var seed = user.GetSeed();
        var jwt = TestJwt.User(account, user.GetPublicKey(), "scaler");
        var directory = Profile("p");
        foreach (var entry in files.Split(','))
        {
            var (file, kind) = entry.Contains(':', StringComparison.Ordinal) ? (entry.Split(':')[0], entry.Split(':')[1]) : (entry, "");
            var content = (file, kind) switch
            {
                ("nkey", "garbage") => Secret,
                // One character changed: still base32, but the CRC no longer matches.
                ("nkey", "checksum") => seed[..20] + (seed[20] == 'A' ? 'B' : 'A') + seed[21..],
                ("nkey", "account") => account.GetSeed(),
                ("nkey", "public") => user.GetPublicKey(),
                ("nkey", _) => seed,
                ("creds", "no-jwt") => TestJwt.Creds(jwt, seed).Replace("NATS USER JWT", "SOMETHING ELSE", StringComparison.Ordinal),
                ("creds", "no-seed") => TestJwt.Creds(jwt, seed).Replace("USER NKEY SEED", "SOMETHING ELSE", StringComparison.Ordinal),
                ("creds", "other-seed") => TestJwt.Creds(jwt, other.GetSeed()),
                ("creds", "bad-jwt") => TestJwt.Creds("not.a-jwt." + Secret, seed),
                ("creds", _) => TestJwt.Creds(jwt, seed),
                _ => "value\n",
            };
            File.WriteAllText(Path.Combine(directory, file), content);
        }

        var error = Assert.Throws<NatsProfileException>(() => Profiles().Load("p"));

        Assert.True(error.Message.Contains(says, StringComparison.Ordinal), error.Message);
        Assert.Contains("profile \"p\"", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(Secret, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(seed[2..], error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(other.GetSeed()[2..], error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(account.GetSeed()[2..], error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(jwt.Split('.')[1], error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private NatsCredentialProfiles Profiles() => new(new NatsOptions { CredentialsDirectory = _directory });

    private string Profile(string name) => Directory.CreateDirectory(Path.Combine(_directory, name)).FullName;
}
