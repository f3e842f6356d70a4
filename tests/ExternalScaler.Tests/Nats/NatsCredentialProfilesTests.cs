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
    [InlineData(new string[0], "has none of the files user, token, ca.crt, tls.crt")]
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

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private NatsCredentialProfiles Profiles() => new(new NatsOptions { CredentialsDirectory = _directory });

    private string Profile(string name) => Directory.CreateDirectory(Path.Combine(_directory, name)).FullName;
}
