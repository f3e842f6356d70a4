using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using NATS.Client.Core;

namespace Updraft.ExternalScaler.Nats.Client;

/// <summary>A credentials profile that does not exist or cannot be used.</summary>
internal sealed class NatsProfileException(string message) : Exception(message);

/// <summary>User and password, a token, or an NKey user key (alone or with its JWT): how the NATS client logs in.</summary>
internal sealed record NatsCredentials(string? User, string? Password, string? Token, NatsUserKey? Key = null)
{
    public NatsAuthCred ToAuthCred() =>
        Key?.ToAuthCred() ?? (User is not null ? NatsAuthCred.FromUserInfo(User, Password ?? "") : NatsAuthCred.FromToken(Token ?? ""));

    // A record prints every member: not the password or token.
    public override string ToString() => Key?.ToString() ?? (User is not null ? $"user {User}" : "token");
}

/// <summary>What a profile holds: a login for the NATS client and TLS settings, either or both.</summary>
internal sealed record NatsProfile(NatsCredentials? Credentials, NatsTls? Tls) : IDisposable
{
    public void Dispose() => Tls?.Dispose();
}

/// <summary>
/// NATS credentials kept in the scaler's own configuration, never in trigger metadata (KEDA passes no
/// TriggerAuthentication secrets to external scalers): profile <c>p</c> is the directory
/// <c>UPDRAFT_NATS_CREDENTIALS_DIR/p</c> (a mounted Secret) holding <c>user</c> and <c>password</c>, or <c>token</c>, or
/// <c>nkey</c> (an NKey user seed), or <c>creds</c> (a <c>.creds</c> file: user JWT and seed), and for TLS <c>ca.crt</c>
/// (the CAs to trust instead of the system store), <c>tls.crt</c> + <c>tls.key</c> (a client certificate) and
/// <c>server-name</c> (the name to expect on the server's certificate). The files are read at every (re)connection, so
/// a rotated Secret applies at the next one. Their contents are never logged or reported.
/// </summary>
internal sealed class NatsCredentialProfiles(NatsOptions options)
{
    public const string UserFile = "user";
    public const string PasswordFile = "password";
    public const string TokenFile = "token";
    public const string NKeyFile = "nkey";
    public const string CredsFile = "creds";
    public const string CaFile = "ca.crt";
    public const string CertificateFile = "tls.crt";
    public const string KeyFile = "tls.key";
    public const string ServerNameFile = "server-name";

    /// <summary>Whether <paramref name="name"/> is usable as a profile name (letters, digits, <c>-</c>, <c>_</c>, <c>.</c>; not <c>.</c>/<c>..</c>).</summary>
    public static bool IsValidName(string name) =>
        name.Length is > 0 and <= 253
        && name is not ("." or "..")
        && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>What <paramref name="profile"/> holds, or null for no profile. The caller disposes it.</summary>
    /// <exception cref="NatsProfileException">The profile's directory or files are missing or unusable.</exception>
    public NatsProfile? Load(string? profile)
    {
        if (profile is null)
        {
            return null;
        }

        var directory = Path.Combine(options.CredentialsDirectory, profile);
        if (!Directory.Exists(directory))
        {
            throw new NatsProfileException($"credentials profile \"{profile}\" does not exist (no directory {profile} under {NatsOptions.CredentialsDirectoryVariable})");
        }

        try
        {
            var token = ReadFile(directory, TokenFile);
            var user = ReadFile(directory, UserFile);
            var password = ReadFile(directory, PasswordFile);
            var key = LoadKey(profile, directory, login: user is not null ? UserFile : token is not null ? TokenFile : null);
            var tls = LoadTls(profile, directory);
            if (token is null && user is null && key is null && tls is null)
            {
                throw new NatsProfileException($"credentials profile \"{profile}\" has none of the files {UserFile}, {TokenFile}, {NKeyFile}, {CredsFile}, {CaFile}, {CertificateFile}");
            }

            return new NatsProfile(token is null && user is null && key is null ? null : new NatsCredentials(user, password, token, key), tls);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new NatsProfileException($"credentials profile \"{profile}\" cannot be read: {e.Message}");
        }
    }

    /// <summary>The profile's <c>nkey</c> or <c>creds</c> file, or null; <paramref name="login"/> names another login file it has.</summary>
    private static NatsUserKey? LoadKey(string profile, string directory, string? login)
    {
        var seed = ReadFile(directory, NKeyFile);
        var creds = ReadFile(directory, CredsFile);
        if (seed is null && creds is null)
        {
            return null;
        }

        var file = seed is null ? CredsFile : NKeyFile;
        if (seed is not null && creds is not null)
        {
            throw new NatsProfileException($"credentials profile \"{profile}\" has both {NKeyFile} and {CredsFile}: keep the one the server expects");
        }

        if (login is not null)
        {
            throw new NatsProfileException($"credentials profile \"{profile}\" has both {file} and {login}: a profile logs in one way");
        }

        try
        {
            return seed is not null ? NatsUserKey.FromSeed(seed) : NatsUserKey.FromCreds(creds!);
        }
        catch (NatsKeyException e)
        {
            throw new NatsProfileException($"credentials profile \"{profile}\": {file} {e.Message}");
        }
    }

    private static NatsTls? LoadTls(string profile, string directory)
    {
        var ca = Path.Combine(directory, CaFile);
        var certificate = Path.Combine(directory, CertificateFile);
        var key = Path.Combine(directory, KeyFile);
        var serverName = ReadFile(directory, ServerNameFile)?.Trim();
        var hasCertificate = File.Exists(certificate);
        var hasKey = File.Exists(key);
        if (!File.Exists(ca) && !hasCertificate && !hasKey && serverName is null)
        {
            return null;
        }

        if (hasCertificate != hasKey)
        {
            throw new NatsProfileException(hasCertificate
                ? $"credentials profile \"{profile}\" has {CertificateFile} but no {KeyFile} (the client certificate's private key)"
                : $"credentials profile \"{profile}\" has {KeyFile} but no {CertificateFile} (the client certificate)");
        }

        if (serverName is { Length: 0 } || (serverName is not null && Uri.CheckHostName(serverName) == UriHostNameType.Unknown))
        {
            throw new NatsProfileException($"credentials profile \"{profile}\": {ServerNameFile} is not a host name");
        }

        X509Certificate2Collection? authorities = null;
        X509Certificate2? client = null;
        X509Certificate2Collection? intermediates = null;
        try
        {
            if (File.Exists(ca))
            {
                authorities = ReadCertificates(profile, ca, CaFile);
            }

            if (hasCertificate)
            {
                var chain = ReadCertificates(profile, certificate, CertificateFile);
                try
                {
                    client = X509Certificate2.CreateFromPemFile(certificate, key);
                }
                catch (Exception e) when (e is CryptographicException or ArgumentException)
                {
                    // ArgumentException: a key that does not match the certificate.
                    DisposeAll(chain);
                    throw new NatsProfileException($"credentials profile \"{profile}\": {KeyFile} is not a PEM private key matching the first certificate in {CertificateFile}");
                }

                chain[0].Dispose();
                chain.RemoveAt(0);
                intermediates = chain.Count == 0 ? null : chain;
            }

            return new NatsTls(authorities, client, intermediates, serverName);
        }
        catch
        {
            DisposeAll(authorities);
            client?.Dispose();
            throw;
        }
    }

    private static X509Certificate2Collection ReadCertificates(string profile, string path, string name)
    {
        var certificates = new X509Certificate2Collection();
        try
        {
            certificates.ImportFromPemFile(path);
        }
        catch (CryptographicException)
        {
            DisposeAll(certificates);
            throw new NatsProfileException($"credentials profile \"{profile}\": {name} is not a PEM certificate file");
        }

        if (certificates.Count == 0)
        {
            throw new NatsProfileException($"credentials profile \"{profile}\": {name} holds no PEM certificate");
        }

        return certificates;
    }

    private static void DisposeAll(X509Certificate2Collection? certificates)
    {
        foreach (var certificate in (IEnumerable<X509Certificate2>?)certificates ?? [])
        {
            certificate.Dispose();
        }
    }

    private static string? ReadFile(string directory, string name)
    {
        var path = Path.Combine(directory, name);
        return File.Exists(path) ? File.ReadAllText(path).TrimEnd('\r', '\n') : null;
    }
}
