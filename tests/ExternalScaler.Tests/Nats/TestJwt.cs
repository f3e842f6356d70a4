using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using NATS.NKeys;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// NATS JWTs (v2) for an operator-mode nats-server, as <c>nsc</c> writes them: header
/// <c>{"typ":"JWT","alg":"ed25519-nkey"}</c>, claims with <c>nats.type</c> and <c>nats.version: 2</c>, signed with Ed25519
/// by the issuer's NKey over <c>base64url(header).base64url(claims)</c>, all base64url without padding.
/// </summary>
internal static class TestJwt
{
    private const string Header = """{"typ":"JWT","alg":"ed25519-nkey"}""";

    /// <summary>The operator's self-signed JWT.</summary>
    public static string Operator(KeyPair @operator, string name) =>
        Encode(@operator, @operator.GetPublicKey(), name, new JsonObject { ["type"] = "operator", ["version"] = 2 });

    /// <summary>An account JWT signed by <paramref name="issuer"/> (the operator); with JetStream unlimited, or without it.</summary>
    public static string Account(KeyPair issuer, string account, string name, bool jetStream)
    {
        // Every limit spelled out: a missing one decodes as 0, and conn: 0 admits no client at all.
        var limits = new JsonObject
        {
            ["subs"] = -1,
            ["data"] = -1,
            ["payload"] = -1,
            ["imports"] = -1,
            ["exports"] = -1,
            ["wildcards"] = true,
            ["conn"] = -1,
            ["leaf"] = -1,
        };
        if (jetStream)
        {
            limits["mem_storage"] = -1;
            limits["disk_storage"] = -1;
            limits["streams"] = -1;
            limits["consumer"] = -1;
        }

        return Encode(issuer, account, name, new JsonObject { ["limits"] = limits, ["type"] = "account", ["version"] = 2 });
    }

    /// <summary>A user JWT signed by <paramref name="issuer"/> (the account), with no limits.</summary>
    public static string User(KeyPair issuer, string user, string name) =>
        Encode(issuer, user, name, new JsonObject
        {
            ["pub"] = new JsonObject(),
            ["sub"] = new JsonObject(),
            ["subs"] = -1,
            ["data"] = -1,
            ["payload"] = -1,
            ["type"] = "user",
            ["version"] = 2,
        });

    /// <summary>A <c>.creds</c> file as <c>nsc generate creds</c> writes it.</summary>
    public static string Creds(string jwt, string seed) => $"""
        -----BEGIN NATS USER JWT-----
        {jwt}
        ------END NATS USER JWT------

        ************************* IMPORTANT *************************
        NKEY Seed printed below can be used to sign and prove identity.
        NKEYs are sensitive and should be treated as secrets.

        -----BEGIN USER NKEY SEED-----
        {seed}
        ------END USER NKEY SEED------

        *************************************************************

        """;

    private static string Encode(KeyPair issuer, string subject, string name, JsonObject nats)
    {
        var claims = new JsonObject
        {
            ["iat"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
            ["iss"] = issuer.GetPublicKey(),
            ["name"] = name,
            ["sub"] = subject,
            ["nats"] = nats,
        };

        // jti only has to be unique: nats-server does not recompute it (nsc hashes the standard claims with SHA-512/256,
        // which .NET lacks; SHA-256 of the claims serves as well).
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var jti = new char[Base32.GetEncodedLength(hash)];
        Base32.ToBase32(hash, jti);
        claims["jti"] = new string(jti);

        var signed = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(Header)) + "." + Base64Url.EncodeToString(Encoding.UTF8.GetBytes(claims.ToJsonString()));
        var signature = new byte[64];
        issuer.Sign(Encoding.ASCII.GetBytes(signed), signature);
        return signed + "." + Base64Url.EncodeToString(signature);
    }
}
