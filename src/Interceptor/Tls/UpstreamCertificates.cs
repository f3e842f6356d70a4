using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Updraft.Interceptor.Tls;

/// <summary>
/// Which upstream certificates the TLS hop accepts, as the add-on decides: anything when
/// <c>KEDA_HTTP_PROXY_TLS_SKIP_VERIFY</c> is set; otherwise a certificate the system trusts for the host, or one of
/// the certificates this interceptor serves itself (a workload that shares the interceptor's certificate).
/// </summary>
internal static class UpstreamCertificates
{
    public static bool Accept(X509Certificate? certificate, SslPolicyErrors errors, bool skipVerify, CertificateStore served)
    {
        if (skipVerify || errors == SslPolicyErrors.None)
        {
            return true;
        }

        if (certificate is null || (errors & SslPolicyErrors.RemoteCertificateNotAvailable) != 0)
        {
            return false;
        }

        var hash = certificate.GetCertHashString();
        foreach (var own in served.All)
        {
            if (string.Equals(own.Thumbprint, hash, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}
