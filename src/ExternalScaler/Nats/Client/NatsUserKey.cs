using System.Buffers.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using NATS.Client.Core;
using NATS.NKeys;
using Updraft.Shared.Hosting;

namespace Updraft.ExternalScaler.Nats.Client;

/// <summary>A seed, JWT or <c>.creds</c> file that cannot be used; the message never quotes it.</summary>
internal sealed class NatsKeyException(string message) : Exception(message);

/// <summary>
/// An NKey user seed, alone or with the user JWT it proves (a <c>.creds</c> file), checked when the profile is read so
/// that a broken file is named precisely (the NATS client would only fail at login). The client signs the server's nonce
/// with it (<see cref="ToAuthCred"/>); otherwise the seed never leaves this type: not in <see cref="ToString"/>, not in
/// an error.
/// </summary>
internal sealed partial class NatsUserKey
{
    private readonly string _seed;

    private NatsUserKey(string seed, string publicKey, string? jwt)
    {
        _seed = seed;
        PublicKey = publicKey;
        Jwt = jwt;
    }

    /// <summary>The user's public key (<c>U…</c>).</summary>
    public string PublicKey { get; }

    /// <summary>The user JWT of a <c>.creds</c> file, or null for a bare NKey.</summary>
    public string? Jwt { get; }

    /// <summary>A user seed (<c>SU…</c>).</summary>
    /// <exception cref="NatsKeyException">It is not a user seed.</exception>
    public static NatsUserKey FromSeed(string seed) => FromSeed(seed.Trim(), jwt: null);

    /// <summary>
    /// A <c>.creds</c> file: the user JWT in the first <c>-----BEGIN … JWT-----</c> block, the seed in the first
    /// <c>-----BEGIN … SEED-----</c> block (as <c>nsc</c> writes them), the seed belonging to the JWT's subject.
    /// </summary>
    /// <exception cref="NatsKeyException">Either block is missing or unusable, or they do not belong together.</exception>
    public static NatsUserKey FromCreds(string creds)
    {
        var jwt = Block(creds, "JWT") ?? throw new NatsKeyException("has no -----BEGIN NATS USER JWT----- block");
        var seed = Block(creds, "SEED") ?? throw new NatsKeyException("has no -----BEGIN USER NKEY SEED----- block");
        var subject = JwtSubject(jwt) ?? throw new NatsKeyException("holds a user JWT that cannot be read (not three base64url parts with a JSON claim \"sub\")");
        var key = FromSeed(seed, jwt);
        if (!string.Equals(key.PublicKey, subject, StringComparison.Ordinal))
        {
            throw new NatsKeyException($"holds a seed that does not belong to its JWT (the seed's public key is {key.PublicKey}, the JWT's subject {OneLine.Escape(subject)})");
        }

        return key;
    }

    /// <summary>The login the NATS client performs: a bare NKey, or the JWT with its seed.</summary>
    public NatsAuthCred ToAuthCred() => Jwt is null ? NatsAuthCred.FromNkey(_seed) : NatsAuthCred.FromJwt(Jwt, _seed);

    public override string ToString() => Jwt is null ? $"NKey {PublicKey}" : $"user JWT for {PublicKey}";

    private static NatsUserKey FromSeed(string seed, string? jwt)
    {
        // An encoded seed: 2 prefix bytes, 32 seed bytes and a 2-byte CRC in base32, 58 characters.
        if (seed.Length != 58 || !Base32().IsMatch(seed))
        {
            throw new NatsKeyException("is not an NKey seed (58 base32 characters starting with SU)");
        }

        KeyPair pair;
        try
        {
            pair = KeyPair.FromSeed(seed);
        }
        catch (Exception e) when (e is NKeysException or ArgumentException or IndexOutOfRangeException)
        {
            // The library's messages say nothing of the seed, but ours need not depend on that.
            throw new NatsKeyException("is not an NKey seed (its checksum or prefix is wrong)");
        }

        using (pair)
        {
            if (pair.Prefix != PrefixByte.User)
            {
                throw new NatsKeyException($"holds an NKey seed of an {pair.Prefix.ToString().ToLowerInvariant()}, not of a user (a user seed starts with SU)");
            }

            return new NatsUserKey(seed, pair.GetPublicKey(), jwt);
        }
    }

    private static string? Block(string text, string kind)
    {
        foreach (Match match in DecoratedBlock().Matches(text))
        {
            if (match.Groups["title"].Value.Contains("BEGIN", StringComparison.Ordinal)
                && match.Groups["title"].Value.Contains(kind, StringComparison.Ordinal))
            {
                return match.Groups["body"].Value;
            }
        }

        return null;
    }

    private static string? JwtSubject(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length != 3 || !Base64Url.IsValid(parts[1]))
        {
            return null;
        }

        try
        {
            using var claims = JsonDocument.Parse(Base64Url.DecodeFromChars(parts[1]));
            return claims.RootElement.ValueKind == JsonValueKind.Object
                && claims.RootElement.TryGetProperty("sub", out var subject)
                && subject.ValueKind == JsonValueKind.String
                    ? subject.GetString()
                    : null;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // InvalidOperationException: a "sub" string that is not valid UTF-8 (found by fuzzing).
            return null;
        }
    }

    [GeneratedRegex("^[A-Z2-7]+$")]
    private static partial Regex Base32();

    // "-----BEGIN NATS USER JWT-----", the value on its own line, "------END NATS USER JWT------". Without
    // backtracking: long runs of dashes took the backtracking engine time quadratic in their length (found by fuzzing).
    [GeneratedRegex(@"(?<title>-{3,}[^\r\n]*?-{3,})\r?\n\s*(?<body>[\w\-.=]+)\s*\r?\n-{3,}[^\r\n]*END[^\r\n]*-{3,}", RegexOptions.NonBacktracking)]
    private static partial Regex DecoratedBlock();
}
