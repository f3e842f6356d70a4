using System.Net.Security;
using System.Security.Authentication;
using Updraft.Shared.Settings;

namespace Updraft.Interceptor.Tls;

/// <summary>The TLS listener's settings: the add-on's <c>KEDA_HTTP_PROXY_TLS_*</c> and (v0.16) <c>KEDA_HTTP_TLS_*</c>
/// variables and defaults.</summary>
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

    /// <summary><c>KEDA_HTTP_TLS_SKIP_VERIFY</c> (or <c>KEDA_HTTP_PROXY_TLS_SKIP_VERIFY</c>): do not verify upstream certificates.</summary>
    public bool SkipVerify { get; set; }

    /// <summary><c>KEDA_HTTP_TLS_MIN_VERSION</c> / <c>MAX_VERSION</c> combined (or the <c>KEDA_HTTP_PROXY_TLS_*</c> names);
    /// None is the platform default.</summary>
    public SslProtocols Protocols { get; set; } = SslProtocols.None;

    /// <summary><c>KEDA_HTTP_TLS_CIPHER_SUITES</c> (or <c>KEDA_HTTP_PROXY_TLS_CIPHER_SUITES</c>); null is the platform default.</summary>
    public IReadOnlyList<TlsCipherSuite>? CipherSuites { get; set; }

    // v0.16's names for the TLS tuning settings, each with the name earlier versions read. Both work; when both are
    // set the new one wins and start-up warns, naming both.
    private static readonly (string Current, string Legacy) MinVersionNames = ("KEDA_HTTP_TLS_MIN_VERSION", "KEDA_HTTP_PROXY_TLS_MIN_VERSION");
    private static readonly (string Current, string Legacy) MaxVersionNames = ("KEDA_HTTP_TLS_MAX_VERSION", "KEDA_HTTP_PROXY_TLS_MAX_VERSION");
    private static readonly (string Current, string Legacy) CipherSuitesNames = ("KEDA_HTTP_TLS_CIPHER_SUITES", "KEDA_HTTP_PROXY_TLS_CIPHER_SUITES");
    private static readonly (string Current, string Legacy) CurvePreferencesNames = ("KEDA_HTTP_TLS_CURVE_PREFERENCES", "KEDA_HTTP_PROXY_TLS_CURVE_PREFERENCES");
    private static readonly (string Current, string Legacy) SkipVerifyNames = ("KEDA_HTTP_TLS_SKIP_VERIFY", "KEDA_HTTP_PROXY_TLS_SKIP_VERIFY");

    /// <param name="overridden">Receives (used, ignored) for each setting given under both its names.</param>
    public static void Bind(SettingReader reader, TlsSettings tls, List<string> problems, List<(string Used, string Ignored)> overridden)
    {
        tls.Enabled = reader.Boolean("KEDA_HTTP_PROXY_TLS_ENABLED", tls.Enabled);
        tls.Port = reader.Port("KEDA_HTTP_PROXY_TLS_PORT", tls.Port);
        tls.CertificatePath = reader.Text("KEDA_HTTP_PROXY_TLS_CERT_PATH") ?? tls.CertificatePath;
        tls.KeyPath = reader.Text("KEDA_HTTP_PROXY_TLS_KEY_PATH") ?? tls.KeyPath;
        tls.StorePaths = reader.Text("KEDA_HTTP_PROXY_TLS_CERT_STORE_PATHS") is { } paths
            ? paths.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            : tls.StorePaths;

        var skipVerify = Name(reader, SkipVerifyNames, overridden);
        tls.SkipVerify = reader.Boolean(skipVerify, tls.SkipVerify);
        var minName = Name(reader, MinVersionNames, overridden);
        var maxName = Name(reader, MaxVersionNames, overridden);
        var min = Version(reader, minName, problems);
        var max = Version(reader, maxName, problems);
        if (min is not null || max is not null)
        {
            var low = min ?? SslProtocols.Tls12;
            var high = max ?? SslProtocols.Tls13;
            if (low > high)
            {
                problems.Add($"{minName} is above {maxName}; use 1.2 and 1.3 in that order");
            }

            tls.Protocols = (low <= SslProtocols.Tls12 && high >= SslProtocols.Tls12 ? SslProtocols.Tls12 : SslProtocols.None)
                | (high >= SslProtocols.Tls13 && low <= SslProtocols.Tls13 ? SslProtocols.Tls13 : SslProtocols.None);
        }

        var suitesName = Name(reader, CipherSuitesNames, overridden);
        if (reader.Text(suitesName) is { } suites)
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
                    problems.Add($"{suitesName}: \"{suite}\" is not a cipher suite name; use IANA names such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, separated by commas");
                }
            }

            tls.CipherSuites = parsed;
        }

        // .NET has no per-listener setting for the key-exchange groups (SslServerAuthenticationOptions and
        // CipherSuitesPolicy cover protocols and cipher suites only), so a value here could only be ignored.
        var curvesName = Name(reader, CurvePreferencesNames, overridden);
        if (reader.Text(curvesName) is { } curves)
        {
            problems.Add($"{curvesName}=\"{curves}\" cannot be applied: .NET offers no way to set the TLS key-exchange groups (curves) of a listener. "
                + "Unset it; to restrict the groups, give the whole process an OpenSSL configuration instead: OPENSSL_CONF pointing at a file whose "
                + "system_default section says e.g. Groups = X25519:P-256 (see the README's TLS section)");
        }
    }

    /// <summary>The name to read: the current one when it is set, else the legacy one.</summary>
    private static string Name(SettingReader reader, (string Current, string Legacy) names, List<(string Used, string Ignored)> overridden)
    {
        var (current, legacy) = names;
        var currentSet = reader.Text(current) is not null;
        if (currentSet && reader.Text(legacy) is not null)
        {
            overridden.Add((current, legacy));
        }

        return currentSet || reader.Text(legacy) is null ? current : legacy;
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
