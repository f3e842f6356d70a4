using System.Net;
using System.Net.Security;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Updraft.Shared.Hosting;

namespace Updraft.Interceptor.Tls;

/// <summary>
/// The optional TLS listener (<c>KEDA_HTTP_PROXY_TLS_ENABLED</c>, port <c>KEDA_HTTP_PROXY_TLS_PORT</c>): HTTP/1.1 and
/// HTTP/2 by ALPN, the certificate chosen per connection by <see cref="CertificateStore"/>.
/// </summary>
internal static class TlsListener
{
    public static void Add(KestrelServerOptions kestrel, IPAddress? address, TlsSettings settings, CertificateStore certificates)
    {
        var problems = certificates.Load();
        if (problems.Count > 0)
        {
            throw new StartupProblemsException(problems);
        }

        // .NET applies cipher-suite policies on Linux and macOS only (Windows takes them from the OS).
        var cipherSuites = settings.CipherSuites is { Count: > 0 } suites && (OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())
            ? new CipherSuitesPolicy(suites)
            : null;
        var https = new HttpsConnectionAdapterOptions
        {
            ServerCertificateSelector = (_, serverName) => certificates.Select(serverName),
            SslProtocols = settings.Protocols,
            ClientCertificateMode = ClientCertificateMode.NoCertificate,
        };
        if (cipherSuites is not null)
        {
            https.OnAuthenticate = (_, ssl) => ssl.CipherSuitesPolicy = cipherSuites;
        }

        void Configure(ListenOptions listen)
        {
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseHttps(https);
        }

        if (address is null)
        {
            kestrel.ListenAnyIP(settings.Port, Configure);
        }
        else
        {
            kestrel.Listen(address, settings.Port, Configure);
        }
    }
}
