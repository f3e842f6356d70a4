using System.Collections.Concurrent;

namespace Updraft.ExternalScaler.Nats.Client;

/// <summary>
/// One NATS.Client connection per (server list, credentials profile), shared by every trigger that names them (500
/// ScaledObjects on one cluster: one connection). Created on first use and kept; the client reconnects by itself.
/// </summary>
internal sealed class NatsConnections(NatsOptions options, NatsCredentialProfiles profiles, ILoggerFactory loggerFactory) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(string Servers, string? Profile), SharedNatsConnection> _shared = new();
    private readonly Lock _creating = new();

    /// <summary>The connection to <paramref name="servers"/> with the credentials of <paramref name="profile"/>.</summary>
    /// <exception cref="NatsProfileException">The profile does not exist or cannot be read (nothing is kept: the next call tries again).</exception>
    public SharedNatsConnection Get(IReadOnlyList<NatsServerAddress> servers, string? profile)
    {
        var key = (string.Join(",", servers), profile);
        if (_shared.TryGetValue(key, out var existing))
        {
            return existing;
        }

        // Not GetOrAdd: a losing race would create a client that is never disposed.
        lock (_creating)
        {
            if (!_shared.TryGetValue(key, out existing))
            {
                existing = new SharedNatsConnection(servers, profile, profiles, options.Timeout, loggerFactory);
                _shared[key] = existing;
            }

            return existing;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var shared in _shared.Values)
        {
            await shared.DisposeAsync();
        }

        _shared.Clear();
    }
}

/// <summary>
/// A NATS server address from <c>natsServerUrl</c>: <c>nats://host:port</c>, <c>tls://host:port</c> (TLS required by the
/// client) or <c>host:port</c> (port 4222 by default).
/// </summary>
internal readonly record struct NatsServerAddress(string Host, int Port, bool Tls = false)
{
    public const int DefaultPort = 4222;

    public override string ToString() => $"{(Tls ? "tls" : "nats")}://{(Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host)}:{Port}";

    /// <summary>Parses a comma-separated list; null when any entry is not a <c>nats://</c> or <c>tls://</c> address.</summary>
    public static IReadOnlyList<NatsServerAddress>? ParseList(string text)
    {
        var addresses = new List<NatsServerAddress>();
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var withScheme = entry.Contains("://", StringComparison.Ordinal) ? entry : "nats://" + entry;
            if (!Uri.TryCreate(withScheme, UriKind.Absolute, out var uri)
                || uri.Scheme is not ("nats" or "tls")
                || string.IsNullOrEmpty(uri.Host)
                || uri.AbsolutePath is not ("" or "/")
                || !string.IsNullOrEmpty(uri.UserInfo))
            {
                return null;
            }

            string host;
            try
            {
                host = uri.IdnHost;
            }
            catch (UriFormatException)
            {
                return null; // a host that is not valid IDN: TryCreate takes it, IdnHost throws (found by fuzzing)
            }

            addresses.Add(new NatsServerAddress(host.Trim('[', ']'), uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port, uri.Scheme == "tls"));
        }

        return addresses.Count == 0 ? null : addresses;
    }
}
