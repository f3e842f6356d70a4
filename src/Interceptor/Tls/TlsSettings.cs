using System.Net.Security;
using System.Security.Authentication;
using Updraft.Shared.Settings;

namespace Updraft.Interceptor.Tls;

/// <summary>The TLS listener's settings: the add-on's <c>KEDA_HTTP_PROXY_TLS_*</c> variables and defaults.</summary>
internal sealed class TlsSettings
{
    /// <summary><c>KEDA_HTTP_PROXY_TLS_ENABLED</c>: start the TLS listener (the plain one keeps running).</summary>
    public bool Enabled { get; set; }

    /// <summary><c>KEDA_HTTP_PROXY_TLS_PORT</c>.</summary>
    public int Port { get; set; } = 8443;

    /// <summary><c>KEDA_HTTP_PROXY_TLS_CERT_PATH</c>: the default certificate (PEM).</summary>
    public string CertificatePath { get; set; } = "/certs/tls.crt";

    /// <summary><c>KEDA_HTTP_PROXY_TLS_KEY_PATH</c>: its private key (PEM).</summary>
    public string KeyPath { get; set; } = "/certs/tls.key";

    /// <summary><c>KEDA_HTTP_PROXY_TLS_CERT_STORE_PATHS</c>: directories of more pairs, chosen by SNI.</summary>
    public IReadOnlyList<string> StorePaths { get; set; } = [];

    /// <summary><c>KEDA_HTTP_PROXY_TLS_SKIP_VERIFY</c>: do not verify upstream certificates.</summary>
    public bool SkipVerify { get; set; }

    /// <summary><c>KEDA_HTTP_PROXY_TLS_MIN_VERSION</c> / <c>MAX_VERSION</c> combined; None is the platform default.</summary>
    public SslProtocols Protocols { get; set; } = SslProtocols.None;

    /// <summary><c>KEDA_HTTP_PROXY_TLS_CIPHER_SUITES</c>; null is the platform default.</summary>
    public IReadOnlyList<TlsCipherSuite>? CipherSuites { get; set; }

    /// <summary><c>KEDA_HTTP_PROXY_TLS_CURVE_PREFERENCES</c>: accepted, but .NET offers no way to apply it.</summary>
    public string? CurvePreferences { get; set; }

    public static void Bind(SettingReader reader, TlsSettings tls, List<string> problems)
    {
        tls.Enabled = reader.Boolean("KEDA_HTTP_PROXY_TLS_ENABLED", tls.Enabled);
        tls.Port = reader.Port("KEDA_HTTP_PROXY_TLS_PORT", tls.Port);
        tls.CertificatePath = reader.Text("KEDA_HTTP_PROXY_TLS_CERT_PATH") ?? tls.CertificatePath;
        tls.KeyPath = reader.Text("KEDA_HTTP_PROXY_TLS_KEY_PATH") ?? tls.KeyPath;
        tls.StorePaths = reader.Text("KEDA_HTTP_PROXY_TLS_CERT_STORE_PATHS") is { } paths
            ? paths.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : tls.StorePaths;
        tls.SkipVerify = reader.Boolean("KEDA_HTTP_PROXY_TLS_SKIP_VERIFY", tls.SkipVerify);
        var min = Version(reader, "KEDA_HTTP_PROXY_TLS_MIN_VERSION", problems);
        var max = Version(reader, "KEDA_HTTP_PROXY_TLS_MAX_VERSION", problems);
        if (min is not null || max is not null)
        {
            var low = min ?? SslProtocols.Tls12;
            var high = max ?? SslProtocols.Tls13;
            if (low > high)
            {
                problems.Add("KEDA_HTTP_PROXY_TLS_MIN_VERSION is above KEDA_HTTP_PROXY_TLS_MAX_VERSION; use 1.2 and 1.3 in that order");
            }

            tls.Protocols = (low <= SslProtocols.Tls12 && high >= SslProtocols.Tls12 ? SslProtocols.Tls12 : SslProtocols.None)
                | (high >= SslProtocols.Tls13 && low <= SslProtocols.Tls13 ? SslProtocols.Tls13 : SslProtocols.None);
        }

        if (reader.Text("KEDA_HTTP_PROXY_TLS_CIPHER_SUITES") is { } suites)
        {
            var parsed = new List<TlsCipherSuite>();
            foreach (var suite in suites.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (Enum.TryParse<TlsCipherSuite>(suite, ignoreCase: false, out var value) && !int.TryParse(suite, out _))
                {
                    parsed.Add(value);
                }
                else
                {
                    problems.Add($"KEDA_HTTP_PROXY_TLS_CIPHER_SUITES: \"{suite}\" is not a cipher suite name; use IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, separated by commas");
                }
            }

            tls.CipherSuites = parsed;
        }

        tls.CurvePreferences = reader.Text("KEDA_HTTP_PROXY_TLS_CURVE_PREFERENCES");
    }

    private static SslProtocols? Version(SettingReader reader, string name, List<string> problems)
    {
        var text = reader.Text(name);
        switch (text)
        {
            case null:
                return null;
            case "1.2":
                return SslProtocols.Tls12;
            case "1.3":
                return SslProtocols.Tls13;
            default:
                problems.Add($"{name}=\"{text}\" is not valid; use 1.2 or 1.3");
                return null;
        }
    }
}
