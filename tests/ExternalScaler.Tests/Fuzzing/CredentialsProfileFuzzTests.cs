using System.Text;
using CsCheck;
using NATS.NKeys;
using Updraft.ExternalScaler.Kafka;
using Updraft.ExternalScaler.Nats;
using Updraft.ExternalScaler.Nats.Client;
using Updraft.ExternalScaler.Tests.Nats;
using Updraft.Tests.Common.Fuzzing;

namespace Updraft.ExternalScaler.Tests.Fuzzing;

/// <summary>
/// Credentials profiles (Kafka SASL/TLS settings, NATS logins and TLS files): whatever a profile's files hold, loading
/// gives a profile or the documented problem (<see cref="NatsProfileException"/>, <see cref="NatsKeyException"/>), one
/// line that never quotes a secret, in bounded time (the <c>.creds</c> block pattern must not backtrack without bound);
/// <c>.creds</c> files written every way <c>nsc</c> and hand edits write them give the key and JWT they hold; Kafka
/// profiles hold exactly their security files; a valid profile name never leaves the profiles directory.
/// </summary>
public sealed class CredentialsProfileFuzzTests
{
    private const string Parser = "nats-creds";
    private const string SecretMarker = "S3CR3T";

    private static readonly KeyPair User = KeyPair.CreatePair(PrefixByte.User);
    private static readonly KeyPair Account = KeyPair.CreatePair(PrefixByte.Account);
    private static readonly string Jwt = TestJwt.User(Account, User.GetPublicKey(), "fuzz");

    [Fact]
    public void FromCredsAndFromSeed_AnyText_KeyOrOneLineProblemWithoutTheSecret()
    {
        Corpus.Run(Parser, file => KeyOrProblem(file.Text));
        var texts = Gen.Frequency(
            (3, Hostile.Mutated([.. Corpus.Texts(Parser), TestJwt.Creds(Jwt, User.GetSeed()), User.GetSeed()])),
            (1, Hostile.Text),
            (1, Gen.Select(Gen.Int[1, 5_000], Gen.OneOf("-", "-----BEGIN", "--- ", "-\r"), (count, piece) => string.Concat(Enumerable.Repeat(piece, count)))),
            (1, Gen.Int[1, 5_000].Select(count => "-----BEGIN NATS USER JWT-----\n" + new string('a', count) + " " + new string('-', count))));
        Fuzz.Check(texts, KeyOrProblem, iterations: 500);
    }

    // Found by fuzzing: the block pattern backtracked quadratically over a run of dashes (minutes for this one).
    [Fact]
    public void FromCreds_AHundredThousandDashes_OneLineProblem()
    {
        var refused = Assert.Throws<NatsKeyException>(() => NatsUserKey.FromCreds(new string('-', 100_000)));

        Assert.DoesNotContain('\n', refused.Message);
    }

    [Fact]
    public void FromCreds_FileFromModel_IsItsKeyAndJwt()
    {
        var layout = Gen.Select(Gen.Int[3, 8], Gen.Bool, Gen.OneOf("", " ", "\t", "  "), Gen.Bool, Gen.OneOf("", "junk\n", "# comment\n\n"), (dashes, crlf, indent, seedFirst, extra) => (dashes, crlf, indent, seedFirst, extra));
        Fuzz.Check(layout, l =>
        {
            var d = new string('-', l.dashes);
            var jwtBlock = $"{d}BEGIN NATS USER JWT{d}\n{l.indent}{Jwt}{l.indent}\n{d}-END NATS USER JWT-{d}\n";
            var seedBlock = $"{d}BEGIN USER NKEY SEED{d}\n{l.indent}{User.GetSeed()}{l.indent}\n{d}-END USER NKEY SEED-{d}\n";
            var creds = l.extra + (l.seedFirst ? seedBlock + "\n" + jwtBlock : jwtBlock + "\n" + seedBlock) + l.extra;
            var key = NatsUserKey.FromCreds(l.crlf ? creds.ReplaceLineEndings("\r\n") : creds);
            if (key.PublicKey != User.GetPublicKey() || key.Jwt != Jwt)
            {
                throw new FuzzFailure($"read {key}");
            }
        }, iterations: 300, print: l => l.ToString());
    }

    [Fact]
    public void NatsProfileLoad_AnyFiles_ProfileOrOneLineProblemWithoutTheSecret()
    {
        var pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        var content = Gen.Frequency(
            (3, Hostile.Text.Select(text => SecretMarker + text)),
            (1, Gen.OneOf(User.GetSeed(), TestJwt.Creds(Jwt, User.GetSeed()), pem, "", "\n", "localhost", "bad host name", "::1")));
        var files = Gen.Select(
            Gen.OneOf(NatsCredentialProfiles.UserFile, NatsCredentialProfiles.PasswordFile, NatsCredentialProfiles.TokenFile, NatsCredentialProfiles.NKeyFile,
                NatsCredentialProfiles.CredsFile, NatsCredentialProfiles.CaFile, NatsCredentialProfiles.CertificateFile, NatsCredentialProfiles.KeyFile, NatsCredentialProfiles.ServerNameFile, "other"),
            content,
            (name, text) => (name, text)).Array[0, 5].Select(list => list.DistinctBy(f => f.name).ToArray());
        Fuzz.Check(files, profileFiles => InProfileDirectory(profileFiles, root =>
        {
            var profiles = new NatsCredentialProfiles(new NatsOptions { CredentialsDirectory = root });
            try
            {
                using var profile = Fuzz.Bounded(() => profiles.Load("p"), maxBytes: 32_000_000, "Load");
            }
            catch (NatsProfileException e)
            {
                Fuzz.AssertOneLine(e.Message, "a NATS profile problem");
                foreach (var (name, text) in profileFiles)
                {
                    var secret = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text)).Trim();
                    if (name is NatsCredentialProfiles.PasswordFile or NatsCredentialProfiles.TokenFile or NatsCredentialProfiles.NKeyFile && secret.Length >= 6 && e.Message.Contains(secret, StringComparison.Ordinal))
                    {
                        throw new FuzzFailure($"the problem quotes the {name} file: {e.Message}");
                    }
                }

                if (e.Message.Contains(User.GetSeed(), StringComparison.Ordinal))
                {
                    throw new FuzzFailure($"the problem quotes a seed: {e.Message}");
                }
            }
        }), iterations: 300, print: f => string.Join(", ", f.Select(x => $"{x.name}={Fuzz.Show(x.text)}")));
    }

    [Fact]
    public void KafkaProfileGet_AnyFiles_HoldsExactlyItsSecuritySettings()
    {
        var names = Gen.Frequency(
            (3, Gen.Select(Gen.OneOf("security.", "sasl.", "ssl.", "enable.ssl.", "bootstrap.", "", "."), Gen.String[Gen.Char["abcdefghijklmnopqrstuvwxyz._-"], 1, 12], (prefix, rest) => prefix + rest)),
            (1, Gen.OneOf("security.protocol", "sasl.mechanism", "sasl.username", "sasl.password", "ssl.ca.pem", "enable.ssl.certificate.verification")));
        var files = Gen.Select(names, Hostile.Text, (name, text) => (name, text)).Array[0, 6].Select(list => list.DistinctBy(f => f.name).Where(f => f.name is not ("." or "..")).ToArray());
        Fuzz.Check(files, profileFiles => InProfileDirectory(profileFiles, root =>
        {
            var (profile, problem) = new KafkaProfiles(new KafkaOptions { ProfilesDirectory = root }).Get("p");
            var expected = profileFiles
                .Where(f => f.name.StartsWith("security.", StringComparison.Ordinal) || f.name.StartsWith("sasl.", StringComparison.Ordinal) || f.name.StartsWith("ssl.", StringComparison.Ordinal) || f.name.StartsWith("enable.ssl.", StringComparison.Ordinal))
                .ToDictionary(f => f.name, f => AsRead(f.text).TrimEnd('\r', '\n'), StringComparer.Ordinal);
            if (problem is not null || profile is null || profile.Settings.Count != expected.Count || expected.Any(e => !profile.Settings.TryGetValue(e.Key, out var value) || value != e.Value))
            {
                throw new FuzzFailure($"profile {problem ?? string.Join(", ", profile!.Settings.Keys)}; expected {string.Join(", ", expected.Keys)}");
            }
        }), iterations: 200, print: f => string.Join(", ", f.Select(x => $"{x.name}={Fuzz.Show(x.text)}")));
    }

    [Fact]
    public void IsValidName_AnyName_AValidNameStaysInTheProfilesDirectory()
    {
        var names = Gen.Frequency((2, Hostile.Text), (1, Gen.String[Gen.Char["ab.-_/\\~ "], 0, 6]), (1, Gen.OneOf(".", "..", "...", ".a", "a/..", "~", "%2e%2e")));
        const string root = "/profiles";
        Fuzz.Check(names, name =>
        {
            foreach (var (valid, source) in new[] { (KafkaProfiles.IsValidName(name), "Kafka"), (NatsCredentialProfiles.IsValidName(name), "NATS") })
            {
                if (valid && Path.GetDirectoryName(Path.GetFullPath(Path.Combine(root, name))) != root)
                {
                    throw new FuzzFailure($"{source} takes {Fuzz.Show(name)} as a profile name, which leads to {Path.GetFullPath(Path.Combine(root, name))}");
                }
            }
        }, iterations: 3_000);
    }

    /// <summary>The text as a file reader gets it back: lone surrogates replaced, a leading byte order mark dropped.</summary>
    private static string AsRead(string text)
    {
        var read = Encoding.UTF8.GetString(Encoding.UTF8.GetBytes(text));
        return read.StartsWith('\ufeff') ? read[1..] : read;
    }

    private static void KeyOrProblem(string text)
    {
        foreach (var read in new Func<string, NatsUserKey>[] { NatsUserKey.FromCreds, NatsUserKey.FromSeed })
        {
            try
            {
                var key = Fuzz.Bounded(() => read(text), maxBytes: 16_000_000 + (64L * text.Length), "reading a key");
                if (!key.PublicKey.StartsWith('U'))
                {
                    throw new FuzzFailure("a key that is not a user's: " + key.PublicKey);
                }
            }
            catch (NatsKeyException e)
            {
                Fuzz.AssertOneLine(e.Message, "a key problem");
                if (e.Message.Contains(User.GetSeed(), StringComparison.Ordinal))
                {
                    throw new FuzzFailure("the problem quotes the seed: " + e.Message);
                }
            }
        }
    }

    private static void InProfileDirectory((string Name, string Text)[] files, Action<string> test)
    {
        var root = Directory.CreateTempSubdirectory("updraft-fuzz-");
        try
        {
            var profile = Directory.CreateDirectory(Path.Combine(root.FullName, "p"));
            foreach (var (name, text) in files)
            {
                // As UTF-8 with lone surrogates replaced, as any file on disk is text the profile loader can read.
                File.WriteAllBytes(Path.Combine(profile.FullName, name), Encoding.UTF8.GetBytes(text));
            }

            test(root.FullName);
        }
        finally
        {
            root.Delete(recursive: true);
        }
    }
}
