using System.Net.Security;
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

    /// <summary>The options of a TLS handshake with <paramref name="host"/>; <paramref name="validation"/> sees every verdict.</summary>
    public static SslClientAuthenticationOptions ClientOptions(NatsTls? tls, string host, RemoteCertificateValidationCallback validation)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = tls?.ServerName ?? host,
            RemoteCertificateValidationCallback = validation,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        };
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

        return options;
    }

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
}
