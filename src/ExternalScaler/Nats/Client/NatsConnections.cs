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

        public async Task<NatsConnection> GetAsync(IReadOnlyList<NatsServerAddress> servers, Func<NatsCredentials?> credentials, TimeSpan timeout, CancellationToken cancellationToken)
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

                if (_current is { } closed)
                {
                    await closed.DisposeAsync();
                    _current = null;
                }

                var login = credentials();
                var failures = new List<string>();
                foreach (var server in servers)
                {
                    try
                    {
                        var connection = await NatsConnection.ConnectAsync(server.Host, server.Port, login, timeout, cancellationToken);
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

                throw new NatsConnectionException(string.Join("; ", failures));
            }
            finally
            {
                _lock.Release();
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (_current is { } current)
            {
                await current.DisposeAsync();
            }
        }
    }
}

/// <summary>A NATS server address from <c>natsServerUrl</c>: <c>nats://host:port</c> or <c>host:port</c> (port 4222 by default).</summary>
internal readonly record struct NatsServerAddress(string Host, int Port)
{
    public const int DefaultPort = 4222;

    public override string ToString() => $"nats://{(Host.Contains(':', StringComparison.Ordinal) ? "[" + Host + "]" : Host)}:{Port}";

    /// <summary>Parses a comma-separated list; null when any entry is not a <c>nats://</c> address.</summary>
    public static IReadOnlyList<NatsServerAddress>? ParseList(string text)
    {
        var addresses = new List<NatsServerAddress>();
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var withScheme = entry.Contains("://", StringComparison.Ordinal) ? entry : "nats://" + entry;
            if (!Uri.TryCreate(withScheme, UriKind.Absolute, out var uri)
                || uri.Scheme != "nats"
                || string.IsNullOrEmpty(uri.Host)
                || uri.AbsolutePath is not ("" or "/")
                || !string.IsNullOrEmpty(uri.UserInfo))
            {
                return null;
            }

            addresses.Add(new NatsServerAddress(uri.IdnHost.Trim('[', ']'), uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port));
        }

        return addresses.Count == 0 ? null : addresses;
    }
}
