using System.Collections.Concurrent;

namespace Updraft.ExternalScaler.Nats.Client;

/// <summary>
/// One NATS connection per (server list, credentials profile), shared by every trigger that names them. A connection
/// is opened on first use and opened again on the next use after the server closed it, trying the servers in order.
/// </summary>
internal sealed class NatsConnections(NatsOptions options, NatsCredentialProfiles profiles) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<(string Servers, string? Profile), Shared> _shared = new();

    /// <summary>An open connection to one of <paramref name="servers"/>, with the credentials of <paramref name="profile"/>.</summary>
    /// <exception cref="NatsConnectionException">No server could be reached, or one refused the credentials.</exception>
    /// <exception cref="NatsProfileException">The profile does not exist or cannot be read.</exception>
    public Task<NatsConnection> GetAsync(IReadOnlyList<NatsServerAddress> servers, string? profile, CancellationToken cancellationToken)
    {
        var key = (string.Join(",", servers), profile);
        var shared = _shared.GetOrAdd(key, static _ => new Shared());
        return shared.GetAsync(servers, () => profiles.Load(profile), options.Timeout, cancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var shared in _shared.Values)
        {
            await shared.DisposeAsync();
        }

        _shared.Clear();
    }

    private sealed class Shared : IAsyncDisposable
    {
        private readonly SemaphoreSlim _lock = new(1, 1);
        private NatsConnection? _current;

        // The profile's certificates live as long as the connection that uses them.
        private NatsProfile? _profile;

        public async Task<NatsConnection> GetAsync(IReadOnlyList<NatsServerAddress> servers, Func<NatsProfile?> load, TimeSpan timeout, CancellationToken cancellationToken)
        {
            if (Volatile.Read(ref _current) is { IsOpen: true } open)
            {
                return open;
            }

            await _lock.WaitAsync(cancellationToken);
            try
            {
                if (_current is { IsOpen: true } raced)
                {
                    return raced;
                }

                await CloseAsync();
                var profile = load();
                var failures = new List<string>();
                try
                {
                    foreach (var server in servers)
                    {
                        try
                        {
                            var connection = await NatsConnection.ConnectAsync(server, profile?.Credentials, profile?.Tls, timeout, cancellationToken);
                            _profile = profile;
                            Volatile.Write(ref _current, connection);
                            return connection;
                        }
                        catch (NatsConnectionException e) when (e.Authorization)
                        {
                            throw;
                        }
                        catch (NatsConnectionException e)
                        {
                            failures.Add(e.Message);
                        }
                    }
                }
                finally
                {
                    if (!ReferenceEquals(_profile, profile))
                    {
                        profile?.Dispose();
                    }
                }

                throw new NatsConnectionException(string.Join("; ", failures));
            }
            finally
            {
                _lock.Release();
            }
        }

        public async ValueTask DisposeAsync() => await CloseAsync();

        private async Task CloseAsync()
        {
            if (_current is { } current)
            {
                await current.DisposeAsync();
                _current = null;
            }

            _profile?.Dispose();
            _profile = null;
        }
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
