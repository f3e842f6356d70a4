using System.Globalization;
using System.Net.Security;
using System.Security.Authentication;
using Grpc.Core;
using NATS.Client.Core;
using NATS.Client.JetStream;

namespace Updraft.ExternalScaler.Nats.Client;

/// <summary>The shared connection cannot answer now: why, as the gRPC code a trigger reports.</summary>
internal sealed class NatsConnectionException(string message, StatusCode code = StatusCode.Unavailable, Exception? inner = null) : Exception(message, inner)
{
    public StatusCode Code { get; } = code;
}

/// <summary>
/// One NATS.Client connection to a server set with a credentials profile, shared by every trigger that names them.
/// The client connects on first use and, once connected, reconnects by itself (to any server of the set or of the
/// cluster); until it is connected again every use fails at once. The profile's files are read at every connection
/// attempt (a rotated Secret applies at the next one) by the client's login and TLS callbacks, which also keep what
/// went wrong so that errors can say it precisely (wrong login, untrusted CA, name mismatch, ...).
/// </summary>
internal sealed class SharedNatsConnection : IAsyncDisposable
{
    private readonly NatsConnection _connection;
    private readonly NatsJSContext _jetStream;
    private readonly NatsCredentialProfiles _profiles;
    private readonly string? _profile;
    private readonly string _servers;
    private readonly TimeSpan _timeout;

    // Why the client must use TLS (a tls:// URL, TLS files in the profile), or null when TLS is the server's choice.
    private readonly string? _tlsWanted;

    private volatile string _target;
    private volatile NatsConnectionException? _problem;
    private NatsTls? _tls;
    private bool _presentedCertificate;

    /// <exception cref="NatsProfileException">The profile does not exist or cannot be read.</exception>
    public SharedNatsConnection(IReadOnlyList<NatsServerAddress> servers, string? profile, NatsCredentialProfiles profiles, TimeSpan timeout, ILoggerFactory loggerFactory)
    {
        _profiles = profiles;
        _profile = profile;
        _servers = string.Join(",", servers);
        _target = _servers;
        _timeout = timeout;
        bool hasLogin;
        using (var loaded = profiles.Load(profile))
        {
            hasLogin = loaded?.Credentials is not null;
            _tlsWanted = servers.FirstOrDefault(s => s.Tls) is { Tls: true } secure
                ? $"natsServerUrl says {secure}"
                : loaded?.Tls is not null ? "the credentials profile has TLS files" : null;
        }

        var options = new NatsOpts
        {
            Url = _servers,
            Name = "updraft-external-scaler",
            LoggerFactory = loggerFactory,
            ConnectTimeout = timeout,
            RequestTimeout = timeout,
            CommandTimeout = timeout,
            // The login may be fixed by rotating the profile's files: keep trying, as the scaler keeps polling.
            IgnoreAuthErrorAbort = true,
            MaxReconnectRetry = -1,
            AuthOpts = hasLogin ? new NatsAuthOpts { AuthCredCallback = LoginAsync } : NatsAuthOpts.Default,
            TlsOpts = new NatsTlsOpts
            {
                // Prefer: TLS when the server offers it (the validation callback decides how strictly).
                Mode = _tlsWanted is null ? TlsMode.Prefer : TlsMode.Require,
                ConfigureClientAuthentication = ConfigureTlsAsync,
            },
        };
        _connection = new NatsConnection(options) { OnConnectingAsync = OnConnectingAsync };
        _connection.ConnectionOpened += (_, _) =>
        {
            _problem = null;
            return ValueTask.CompletedTask;
        };
        _jetStream = new NatsJSContext(_connection, new NatsJSOpts(options, requestTimeout: timeout));
    }

    /// <summary>The comma-separated servers, for messages.</summary>
    public string Servers => _servers;

    /// <summary>The JetStream context of the connection, connecting first when the client has never been connected.</summary>
    /// <exception cref="NatsConnectionException">Not connected, and connecting failed or the client is reconnecting.</exception>
    /// <exception cref="NatsProfileException">The profile cannot be read at connection time.</exception>
    public async Task<INatsJSContext> JetStreamAsync(CancellationToken cancellationToken)
    {
        switch (_connection.ConnectionState)
        {
            case NatsConnectionState.Open:
                return _jetStream;
            case NatsConnectionState.Reconnecting:
                // A request now would wait for the reconnection; the answer is unknown, so say so at once.
                var problem = _problem;
                throw new NatsConnectionException(
                    $"the connection to {_servers} is lost and the client is reconnecting{(problem is null ? "" : "; the last attempt failed: " + problem.Message)}",
                    problem?.Code ?? StatusCode.Unavailable);
        }

        try
        {
            // The client bounds each step of a connection attempt; this bounds them all, and the caller may stop waiting.
            await _connection.ConnectAsync().AsTask().WaitAsync(_timeout * 3, cancellationToken);
            return _jetStream;
        }
        catch (TimeoutException)
        {
            throw new NatsConnectionException($"connecting to {_servers} did not finish within {(_timeout * 3).TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s");
        }
        catch (NatsException e)
        {
            throw Explain(e);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync();
        _tls?.Dispose();
    }

    private static T? Find<T>(Exception e)
        where T : Exception
    {
        return e as T ?? (e.InnerException is { } inner ? Find<T>(inner) : null);
    }

    /// <summary>Why a connection attempt failed, from what the callbacks saw and what the client threw.</summary>
    private Exception Explain(NatsException e)
    {
        if (Find<NatsProfileException>(e) is { } profile)
        {
            return profile;
        }

        if ((Find<NatsConnectionException>(e) ?? _problem) is { } known)
        {
            return known;
        }

        var target = _target;
        if (e.InnerException is null)
        {
            // The client found no server to open a socket to.
            return new NatsConnectionException($"cannot connect to {_servers}: {e.Message}", inner: e);
        }

        if (Find<NatsServerException>(e) is { IsAuthError: true } refused)
        {
            // Error is lower-cased by the client; the message keeps the server's words.
            const string Prefix = "Server error: ";
            var said = refused.Message.StartsWith(Prefix, StringComparison.Ordinal) ? refused.Message[Prefix.Length..] : refused.Message;
            return new NatsConnectionException($"{target} refused the login: -ERR '{said}'", StatusCode.Unauthenticated, e);
        }

        if (Find<AuthenticationException>(e) is { } handshake)
        {
            return new NatsConnectionException(NatsTls.Problem(target, handshake), inner: e);
        }

        var info = _connection.ServerInfo;
        if (_tlsWanted is not null && info is { TlsRequired: false, TlsAvailable: false })
        {
            return new NatsConnectionException($"{target} does not offer TLS, which the client requires ({_tlsWanted})", inner: e);
        }

        if (info is { TlsVerify: true } && _presentedCertificate)
        {
            // With TLS 1.3 the server checks the client certificate after the client has finished its handshake, and
            // answers a rejection by closing the connection.
            return new NatsConnectionException(
                $"{target} closed the connection right after the TLS handshake, as a server verifying client certificates does when it rejects one: check that {NatsCredentialProfiles.CertificateFile} is issued for client authentication by a CA in the server's ca_file ({Innermost(e).Message})",
                StatusCode.Unauthenticated,
                e);
        }

        return new NatsConnectionException($"cannot connect to {target}: {Innermost(e).Message}", inner: e);

        static Exception Innermost(Exception e) => e.InnerException is { } inner ? Innermost(inner) : e;
    }

    private ValueTask<(string Host, int Port)> OnConnectingAsync((string Host, int Port) target)
    {
        _target = $"{(target.Host.Contains(':', StringComparison.Ordinal) ? "[" + target.Host + "]" : target.Host)}:{target.Port.ToString(CultureInfo.InvariantCulture)}";
        _problem = null;
        _presentedCertificate = false;
        return ValueTask.FromResult(target);
    }

    /// <summary>The client's login callback: the profile's login, read now.</summary>
    private ValueTask<NatsAuthCred> LoginAsync(Uri server, CancellationToken cancellationToken)
    {
        using var profile = Load();
        var credentials = profile?.Credentials ?? throw Fail(new NatsProfileException(
            $"credentials profile \"{_profile}\" has none of the login files {NatsCredentialProfiles.UserFile}, {NatsCredentialProfiles.TokenFile}, {NatsCredentialProfiles.NKeyFile}, {NatsCredentialProfiles.CredsFile} any more"));
        if (credentials.Key is { } key && _connection.ServerInfo?.Nonce is not { Length: > 0 })
        {
            // Without a nonce the client would send the key unsigned and the server would take the connection as anonymous.
            var file = key.Jwt is null ? NatsCredentialProfiles.NKeyFile : NatsCredentialProfiles.CredsFile;
            throw Fail(new NatsConnectionException(
                $"{_target} sent no nonce in its INFO, so it accepts no NKey or JWT login (it has no nkey users and no operator), and the credentials profile logs in with its {file} file",
                StatusCode.Unauthenticated));
        }

        return ValueTask.FromResult(credentials.ToAuthCred());
    }

    /// <summary>The client's TLS callback, before each handshake: the profile's TLS files, read now, and a validation that keeps its verdict.</summary>
    private ValueTask ConfigureTlsAsync(SslClientAuthenticationOptions options)
    {
        var profile = Load();
        var tls = profile?.Tls;
        var info = _connection.ServerInfo;
        if (info is { TlsVerify: true } && tls?.Certificate is null)
        {
            tls?.Dispose();
            throw Fail(new NatsConnectionException(
                $"{_target} requires a TLS client certificate (tls verify), and the scaler has none: put {NatsCredentialProfiles.CertificateFile} and {NatsCredentialProfiles.KeyFile} in the credentials profile",
                StatusCode.Unauthenticated));
        }

        // The certificates live until the next handshake replaces them, or the connection is disposed.
        var previous = Interlocked.Exchange(ref _tls, tls);
        previous?.Dispose();
        _presentedCertificate = tls?.Certificate is not null;
        var targetHost = tls?.ServerName ?? options.TargetHost;
        var target = _target;
        var optional = _tlsWanted is null && info is { TlsRequired: false };
        NatsTls.Configure(options, tls, (_, _, chain, errors) =>
        {
            // A server that also takes plaintext, which this client would use without TLS, is not checked harder over
            // TLS than it would be over plaintext: NATS.Client upgrades whenever the server offers TLS.
            if (errors == SslPolicyErrors.None || optional)
            {
                return true;
            }

            _problem = new NatsConnectionException(NatsTls.Problem(target, targetHost, tls, errors, chain));
            return false;
        });
        return ValueTask.CompletedTask;
    }

    private NatsProfile? Load()
    {
        try
        {
            return _profiles.Load(_profile);
        }
        catch (NatsProfileException e)
        {
            throw Fail(e);
        }
    }

    /// <summary>Keeps <paramref name="problem"/> as the reason of this attempt, for errors while the client reconnects.</summary>
    private Exception Fail(Exception problem)
    {
        _problem = problem as NatsConnectionException ?? new NatsConnectionException(problem.Message, StatusCode.FailedPrecondition, problem);
        return problem;
    }
}
