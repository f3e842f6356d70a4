using System.Collections.Frozen;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Telemetry;

namespace Updraft.Interceptor.Tls;

/// <summary>
/// The certificates the TLS listener serves: the default pair and the pairs found in the store directories, chosen per
/// connection by SNI against every certificate's DNS and IP SANs (exact names first, then wildcards such as
/// <c>*.example.com</c>, which the add-on cannot match), else the default. The files are re-read when they change
/// (a Kubernetes Secret rotation); a pair that does not parse yet (half written) keeps its previous certificate, so a
/// rotation never breaks the listener. New connections get the new certificate; open ones are not touched.
/// </summary>
internal sealed class CertificateStore : IDisposable
{
    public static readonly TimeSpan PollInterval = TimeSpan.FromSeconds(2);

    private readonly TlsSettings _settings;
    private readonly ILogger<CertificateStore> _logger;
    private readonly Dictionary<string, LoadedPair> _pairs = new(StringComparer.Ordinal);
    private readonly Lock _reloadGate = new();
    private readonly List<FileSystemWatcher> _watchers = [];
    private readonly Timer _poll;
    private Selection _current = Selection.Empty;

    public CertificateStore(IOptions<InterceptorOptions> options, ILogger<CertificateStore> logger)
    {
        _settings = options.Value.Tls;
        _logger = logger;
        _poll = new Timer(_ => Reload(), null, Timeout.Infinite, Timeout.Infinite);
    }

    /// <summary>Every certificate served now (the upstream hop trusts them, as the add-on does).</summary>
    public IReadOnlyCollection<X509Certificate2> All => Volatile.Read(ref _current).All;

    /// <summary>Loads every pair; the default pair must load, or start-up fails naming the variable.</summary>
    public IReadOnlyList<string> Load()
    {
        var problems = new List<string>();
        lock (_reloadGate)
        {
            Read(problems);
        }

        if (!_pairs.ContainsKey(_settings.CertificatePath))
        {
            var why = problems.FirstOrDefault(p => p.StartsWith(_settings.CertificatePath + ":", StringComparison.Ordinal)) ?? "not found";
            return [$"KEDA_HTTP_PROXY_TLS_CERT_PATH=\"{_settings.CertificatePath}\", KEDA_HTTP_PROXY_TLS_KEY_PATH=\"{_settings.KeyPath}\": the TLS listener needs a readable PEM certificate and key there ({why})"];
        }

        foreach (var problem in problems)
        {
            Log.CertificateProblem(_logger, problem);
        }

        Watch();
        return [];
    }

    /// <summary>The certificate for a ClientHello's server name (none or unknown: the default).</summary>
    public X509Certificate2? Select(string? serverName)
    {
        var current = Volatile.Read(ref _current);
        if (!string.IsNullOrEmpty(serverName))
        {
            var name = serverName.TrimEnd('.').ToLowerInvariant();
            if (current.Exact.TryGetValue(name, out var exact))
            {
                return exact;
            }

            var dot = name.IndexOf('.', StringComparison.Ordinal);
            if (dot > 0 && current.Wildcards.TryGetValue(name[(dot + 1)..], out var wildcard))
            {
                return wildcard;
            }
        }

        return current.Default;
    }

    /// <summary>Re-reads the files; called on file events and by the poll. Public for tests.</summary>
    public void Reload()
    {
        var problems = new List<string>();
        lock (_reloadGate)
        {
            Read(problems);
        }

        foreach (var problem in problems)
        {
            Log.CertificateProblem(_logger, problem);
        }
    }

    private void Read(List<string> problems)
    {
        var changed = false;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (certificatePath, keyPath) in PairPaths(problems))
        {
            seen.Add(certificatePath);
            var stamp = Stamp(certificatePath, keyPath);
            if (_pairs.TryGetValue(certificatePath, out var loaded) && loaded.Stamp == stamp)
            {
                continue;
            }

            try
            {
                var certificate = X509Certificate2.CreateFromPemFile(certificatePath, keyPath);
                _pairs[certificatePath] = new LoadedPair(certificate, stamp);
                changed = true;
                if (loaded is not null)
                {
                    Log.CertificateReloaded(_logger, certificatePath, certificate.Subject, certificate.NotAfter);
                }
            }
            catch (Exception e) when (e is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
            {
                // Half-written or bad: keep serving what we had for this pair.
                problems.Add($"{certificatePath}: cannot load the certificate and key{(loaded is null ? "" : "; keeping the previous one")}: {e.Message}");
            }
        }

        foreach (var gone in _pairs.Keys.Where(path => !seen.Contains(path) && path != _settings.CertificatePath).ToList())
        {
            _pairs.Remove(gone);
            changed = true;
        }

        if (changed)
        {
            Volatile.Write(ref _current, Selection.Build(_pairs.TryGetValue(_settings.CertificatePath, out var fallback) ? fallback.Certificate : null, _pairs.Values.Select(p => p.Certificate)));
        }
    }

    /// <summary>The default pair, then <c>X.crt</c>+<c>X.key</c> and <c>X.pem</c>+<c>X-key.pem</c> under every store directory.</summary>
    private IEnumerable<(string Certificate, string Key)> PairPaths(List<string> problems)
    {
        yield return (_settings.CertificatePath, _settings.KeyPath);
        foreach (var directory in _settings.StorePaths)
        {
            string[] files;
            try
            {
                files = Directory.GetFiles(directory, "*", SearchOption.AllDirectories);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problems.Add($"KEDA_HTTP_PROXY_TLS_CERT_STORE_PATHS: cannot read {directory}: {e.Message}");
                continue;
            }

            Array.Sort(files, StringComparer.Ordinal);
            foreach (var file in files)
            {
                var key = file.EndsWith(".crt", StringComparison.Ordinal) ? file[..^4] + ".key"
                    : file.EndsWith(".pem", StringComparison.Ordinal) && !file.EndsWith("-key.pem", StringComparison.Ordinal) ? file[..^4] + "-key.pem"
                    : null;
                if (key is not null && File.Exists(key) && file != _settings.CertificatePath)
                {
                    yield return (file, key);
                }
            }
        }
    }

    private static (DateTime, long, DateTime, long) Stamp(string certificatePath, string keyPath)
    {
        var certificate = new FileInfo(certificatePath);
        var key = new FileInfo(keyPath);
        return (certificate.Exists ? certificate.LastWriteTimeUtc : default, certificate.Exists ? certificate.Length : -1,
            key.Exists ? key.LastWriteTimeUtc : default, key.Exists ? key.Length : -1);
    }

    private void Watch()
    {
        var directories = new HashSet<string>(StringComparer.Ordinal) { Path.GetDirectoryName(Path.GetFullPath(_settings.CertificatePath))! };
        foreach (var directory in _settings.StorePaths)
        {
            directories.Add(Path.GetFullPath(directory));
        }

        foreach (var directory in directories.Where(Directory.Exists))
        {
            try
            {
                var watcher = new FileSystemWatcher(directory) { IncludeSubdirectories = true };
                watcher.Changed += (_, _) => Reload();
                watcher.Created += (_, _) => Reload();
                watcher.Renamed += (_, _) => Reload();
                watcher.Deleted += (_, _) => Reload();
                watcher.EnableRaisingEvents = true;
                _watchers.Add(watcher);
            }
            catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
            {
                Log.CertificateProblem(_logger, $"{directory}: file events unavailable, polling every {PollInterval.TotalSeconds} s: {e.Message}");
            }
        }

        // Events miss a Secret volume's symlink swap; the poll catches it.
        _poll.Change(PollInterval, PollInterval);
    }

    public void Dispose()
    {
        _poll.Dispose();
        foreach (var watcher in _watchers)
        {
            watcher.Dispose();
        }
    }

    private sealed record LoadedPair(X509Certificate2 Certificate, (DateTime, long, DateTime, long) Stamp);

    /// <summary>An immutable lookup built after each change; connections read it without a lock.</summary>
    private sealed class Selection
    {
        public static readonly Selection Empty = new(null, FrozenDictionary<string, X509Certificate2>.Empty, FrozenDictionary<string, X509Certificate2>.Empty, []);

        private Selection(X509Certificate2? fallback, FrozenDictionary<string, X509Certificate2> exact, FrozenDictionary<string, X509Certificate2> wildcards, IReadOnlyCollection<X509Certificate2> all)
        {
            Default = fallback;
            Exact = exact;
            Wildcards = wildcards;
            All = all;
        }

        public X509Certificate2? Default { get; }

        public FrozenDictionary<string, X509Certificate2> Exact { get; }

        /// <summary>By the suffix after <c>*.</c>.</summary>
        public FrozenDictionary<string, X509Certificate2> Wildcards { get; }

        public IReadOnlyCollection<X509Certificate2> All { get; }

        public static Selection Build(X509Certificate2? fallback, IEnumerable<X509Certificate2> certificates)
        {
            var exact = new Dictionary<string, X509Certificate2>(StringComparer.Ordinal);
            var wildcards = new Dictionary<string, X509Certificate2>(StringComparer.Ordinal);
            var all = new List<X509Certificate2>();
            foreach (var certificate in certificates)
            {
                all.Add(certificate);
                foreach (var name in Names(certificate))
                {
                    if (name.StartsWith("*.", StringComparison.Ordinal))
                    {
                        wildcards.TryAdd(name[2..], certificate);
                    }
                    else
                    {
                        exact.TryAdd(name, certificate);
                    }
                }
            }

            return new Selection(fallback, exact.ToFrozenDictionary(StringComparer.Ordinal), wildcards.ToFrozenDictionary(StringComparer.Ordinal), all);
        }

        private static IEnumerable<string> Names(X509Certificate2 certificate)
        {
            foreach (var extension in certificate.Extensions.OfType<X509SubjectAlternativeNameExtension>())
            {
                foreach (var dns in extension.EnumerateDnsNames())
                {
                    yield return dns.TrimEnd('.').ToLowerInvariant();
                }

                foreach (var ip in extension.EnumerateIPAddresses())
                {
                    yield return ip.ToString();
                }
            }
        }
    }
}
