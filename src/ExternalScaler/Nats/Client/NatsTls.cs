using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Updraft.ExternalScaler.Nats.Client;

/// <summary>
/// Whom a TLS connection to NATS trusts and what it presents, from a credentials profile's files. With
/// <see cref="Authorities"/> only they are trusted (custom root trust); without, the system trust store.
/// Owned by whoever opened the connections that use it, and disposed after them.
/// </summary>
internal sealed class NatsTls : IDisposable
{
    public NatsTls(X509Certificate2Collection? authorities, X509Certificate2? certificate, X509Certificate2Collection? intermediates, string? serverName)
    {
        Authorities = authorities;
        Certificate = certificate;
        Intermediates = intermediates;
        ServerName = serverName;
    }

    /// <summary>The CA bundle to trust instead of the system store (<c>ca.crt</c>), or null.</summary>
    public X509Certificate2Collection? Authorities { get; }

    /// <summary>The client certificate with its private key (<c>tls.crt</c> + <c>tls.key</c>), or null.</summary>
    public X509Certificate2? Certificate { get; }

    /// <summary>Certificates after the first in <c>tls.crt</c>, sent with it as its chain.</summary>
    public X509Certificate2Collection? Intermediates { get; }

    /// <summary>The name sent as SNI and checked against the server's certificate (<c>server-name</c>), or null for the URL's host.</summary>
    public string? ServerName { get; }

    /// <summary>
    /// Applies <paramref name="tls"/> to the handshake options the NATS client prepared (its target host is the URL's
    /// host); <paramref name="validation"/> sees every verdict on the server's certificate.
    /// </summary>
    public static void Configure(SslClientAuthenticationOptions options, NatsTls? tls, RemoteCertificateValidationCallback validation)
    {
        options.TargetHost = tls?.ServerName ?? options.TargetHost;
        options.RemoteCertificateValidationCallback = validation;
        options.CertificateRevocationCheckMode = X509RevocationMode.NoCheck;
        if (tls?.Authorities is { } authorities)
        {
            var policy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
            };
            foreach (var authority in authorities)
            {
                // Self-signed certificates are roots; others in the bundle can only be intermediates.
                (authority.SubjectName.RawData.AsSpan().SequenceEqual(authority.IssuerName.RawData) ? policy.CustomTrustStore : policy.ExtraStore).Add(authority);
            }

            options.CertificateChainPolicy = policy;
        }

        if (tls?.Certificate is { } certificate)
        {
            options.ClientCertificateContext = SslStreamCertificateContext.Create(certificate, tls.Intermediates, offline: true);
        }
    }

    /// <summary>Why certificate validation rejected the server of <paramref name="address"/> (certificate details only, never key material).</summary>
    public static string Problem(string address, string? targetHost, NatsTls? tls, SslPolicyErrors errors, X509Chain? chain)
    {
        var problems = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            problems.Add($"{address} presented no TLS certificate");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            problems.Add($"the TLS certificate of {address} is not issued for \"{targetHost}\" (name mismatch; a {NatsCredentialProfiles.ServerNameFile} file in the credentials profile sets the name to expect)");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var trust = tls?.Authorities is null
                ? $"the system trust store (put the server's CA in the credentials profile's {NatsCredentialProfiles.CaFile})"
                : $"the credentials profile's {NatsCredentialProfiles.CaFile}";
            var status = chain is null ? "" : string.Join(", ", chain.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).Distinct().Select(Describe));
            problems.Add($"the TLS certificate of {address} is not trusted by {trust}{(status.Length == 0 ? "" : ": " + status)}");
        }

        return string.Join("; ", problems);
    }

    /// <summary>A failed handshake that certificate validation did not explain.</summary>
    public static string Problem(string address, AuthenticationException e) =>
        $"the TLS handshake with {address} failed: {e.Message}{(e.InnerException is { } inner ? $" ({inner.Message})" : "")}";

    public void Dispose()
    {
        Certificate?.Dispose();
        foreach (var certificate in (IEnumerable<X509Certificate2>?)Authorities ?? [])
        {
            certificate.Dispose();
        }

        foreach (var certificate in (IEnumerable<X509Certificate2>?)Intermediates ?? [])
        {
            certificate.Dispose();
        }
    }

    private static string Describe(X509ChainStatusFlags status) => status switch
    {
        X509ChainStatusFlags.PartialChain => "its issuer is not among the trusted CAs",
        X509ChainStatusFlags.UntrustedRoot => "its root CA is not trusted",
        X509ChainStatusFlags.NotTimeValid => "it has expired or is not valid yet",
        X509ChainStatusFlags.NotValidForUsage => "it is not issued for server authentication",
        _ => status.ToString(),
    };
}
