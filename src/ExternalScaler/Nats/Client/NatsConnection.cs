using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

namespace Updraft.ExternalScaler.Nats.Client;

/// <summary>A message received from the server: its subject, reply subject, header status (<c>NATS/1.0 503</c>) and payload.</summary>
internal sealed record NatsMessage(string Subject, string? ReplyTo, int? Status, string? StatusDescription, byte[] Payload)
{
    public string Text => Encoding.UTF8.GetString(Payload);
}

/// <summary>User and password, a token, or an NKey user key (alone or with its JWT), for the CONNECT handshake.</summary>
internal sealed record NatsCredentials(string? User, string? Password, string? Token, NatsUserKey? Key = null);

/// <summary>The server refused or broke the connection (<c>-ERR</c>, a closed socket, a bad handshake).</summary>
internal sealed class NatsConnectionException(string message, bool authorization = false, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The server answered <c>-ERR 'Authorization Violation'</c> (or a similar authentication error).</summary>
    public bool Authorization { get; } = authorization;
}

/// <summary>
/// The part of the NATS client protocol the scaler needs (CONNECT with user/password, a token, or an NKey or user JWT
/// signing the server's nonce; PUB, a one-message inbox subscription per request, PING/PONG, MSG and HMSG), over TCP,
/// upgraded to TLS after the server's INFO as the NATS protocol does it when the server requires TLS or the client asks
/// for it. The scaler uses it only for JetStream's JSON API (<c>$JS.API.CONSUMER.INFO.…</c>); tests use it to create
/// streams, publish and acknowledge.
/// Written here because the maintained .NET client (NATS.Net) cannot be restored from the project's package source.
/// </summary>
internal sealed class NatsConnection : IAsyncDisposable
{
    private const int MaxControlLine = 64 * 1024;

    private readonly Socket _socket;
    private Stream _stream;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<NatsMessage>> _requests = new();
    private readonly TaskCompletionSource _handshake = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _closing = new();
    private readonly string _inboxPrefix = "_INBOX." + Guid.NewGuid().ToString("N") + ".";
    private readonly byte[] _buffer = new byte[64 * 1024];
    private int _start;
    private int _end;
    private long _nextRequest;
    private Task _reader = Task.CompletedTask;
    private volatile Exception? _failure;

    private NatsConnection(Socket socket, string address)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        Address = address;
    }

    /// <summary>The <c>host:port</c> this connection reached.</summary>
    public string Address { get; }

    /// <summary>True until the server closes the connection or it is disposed.</summary>
    public bool IsOpen => _failure is null && !_closing.IsCancellationRequested;

    /// <summary>Why the connection closed (null while open).</summary>
    public Exception? Failure => _failure;

    /// <summary>Connects to <paramref name="host"/>:<paramref name="port"/> (TLS only when the server requires it) and completes the handshake.</summary>
    public static Task<NatsConnection> ConnectAsync(string host, int port, NatsCredentials? credentials, TimeSpan timeout, CancellationToken cancellationToken) =>
        ConnectAsync(new NatsServerAddress(host, port), credentials, tls: null, timeout, cancellationToken);

    /// <summary>
    /// Connects to <paramref name="server"/> and completes the handshake (INFO, TLS when the server requires it or the
    /// client asks for it with a <c>tls://</c> address or <paramref name="tls"/> settings, CONNECT, PING → PONG).
    /// </summary>
    public static async Task<NatsConnection> ConnectAsync(NatsServerAddress server, NatsCredentials? credentials, NatsTls? tls, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var (host, port) = (server.Host, server.Port);
        var address = $"{host}:{port}";
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(host, port, deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new NatsConnectionException($"cannot connect to {address} within {timeout.TotalSeconds:0.###} s");
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new NatsConnectionException($"cannot connect to {address}: {e.Message}", inner: e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        var connection = new NatsConnection(socket, address);
        try
        {
            try
            {
                var info = await connection.ReadLineAsync(deadline.Token);
                if (!info.StartsWith("INFO ", StringComparison.Ordinal))
                {
                    throw new NatsConnectionException($"{connection.Address} is not a NATS server (it sent \"{Shorten(info)}\")");
                }

                await connection.HandshakeAsync(server, ServerInfo.Parse(info[5..]), credentials, tls, deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new NatsConnectionException($"{connection.Address} did not complete the NATS handshake within {timeout.TotalSeconds:0.###} s");
            }
            catch (SocketException e)
            {
                throw new NatsConnectionException($"cannot connect to {connection.Address}: {e.Message}", inner: e);
            }
            catch (IOException e)
            {
                throw new NatsConnectionException($"{connection.Address} closed the connection during the handshake: {e.Message}", inner: e);
            }

            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Publishes <paramref name="payload"/> to <paramref name="subject"/>, optionally with a reply subject.</summary>
    public Task PublishAsync(string subject, string? replyTo, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken) =>
        WriteAsync(Frame(subject, replyTo, payload), cancellationToken);

    /// <summary>Publishes a request and waits for the first reply (a 503 status means no one subscribes to the subject).</summary>
    /// <exception cref="TimeoutException">No reply within <paramref name="timeout"/>.</exception>
    /// <exception cref="NatsConnectionException">The connection closed.</exception>
    public async Task<NatsMessage> RequestAsync(string subject, ReadOnlyMemory<byte> payload, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        // One subscription per request, ended by the server after one message: JetStream delivers fetched messages
        // under their own subject, so replies are told apart by subscription id, not by subject.
        var sid = Interlocked.Increment(ref _nextRequest).ToString(CultureInfo.InvariantCulture);
        var reply = new TaskCompletionSource<NatsMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        _requests[sid] = reply;
        try
        {
            var inbox = _inboxPrefix + sid;
            var subscribe = Encoding.UTF8.GetBytes($"SUB {inbox} {sid}\r\nUNSUB {sid} 1\r\n");
            var publish = Frame(subject, inbox, payload);
            var frame = new byte[subscribe.Length + publish.Length];
            subscribe.CopyTo(frame, 0);
            publish.CopyTo(frame, subscribe.Length);
            await WriteAsync(frame, cancellationToken);
            return await reply.Task.WaitAsync(timeout, cancellationToken);
        }
        catch (TimeoutException)
        {
            await TryWriteAsync($"UNSUB {sid}\r\n");
            throw new TimeoutException($"no reply to {subject} from {Address} within {timeout.TotalSeconds:0.###} s");
        }
        catch (OperationCanceledException)
        {
            await TryWriteAsync($"UNSUB {sid}\r\n");
            throw;
        }
        finally
        {
            _requests.TryRemove(sid, out _);
        }
    }

    /// <summary>A request whose reply is JSON.</summary>
    public async Task<JsonDocument> RequestJsonAsync(string subject, string json, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var reply = await RequestAsync(subject, Encoding.UTF8.GetBytes(json), timeout, cancellationToken);
        if (reply.Status is { } status)
        {
            throw new NatsConnectionException($"{subject}: status {status} {reply.StatusDescription}");
        }

        return JsonDocument.Parse(reply.Payload);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_closing.IsCancellationRequested)
        {
            await _closing.CancelAsync();
        }

        Fail(new NatsConnectionException($"the connection to {Address} was closed"));
        _socket.Close();
        try
        {
            await _reader;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
        }

        await _stream.DisposeAsync();
        _closing.Dispose();
        _writeLock.Dispose();
    }

    private static string ConnectLine(NatsCredentials? credentials, string? nonce, bool tls)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteBoolean("verbose", false);
            json.WriteBoolean("pedantic", false);
            json.WriteBoolean("tls_required", tls);
            json.WriteString("name", "updraft-external-scaler");
            json.WriteString("lang", "dotnet");
            json.WriteString("version", "1.0");
            json.WriteNumber("protocol", 1);
            json.WriteBoolean("headers", true);
            json.WriteBoolean("no_responders", true);
            if (credentials?.Token is { } token)
            {
                json.WriteString("auth_token", token);
            }

            if (credentials?.User is { } user)
            {
                json.WriteString("user", user);
                json.WriteString("pass", credentials.Password ?? "");
            }

            if (credentials?.Key is { } key && nonce is not null)
            {
                // A JWT names its user itself; a bare NKey login names the user by its public key.
                if (key.Jwt is { } jwt)
                {
                    json.WriteString("jwt", jwt);
                }
                else
                {
                    json.WriteString("nkey", key.PublicKey);
                }

                json.WriteString("sig", key.Sign(nonce));
            }

            json.WriteEndObject();
        }

        return "CONNECT " + Encoding.UTF8.GetString(buffer.ToArray()) + "\r\n";
    }

    private static byte[] Frame(string subject, string? replyTo, ReadOnlyMemory<byte> payload)
    {
        var header = replyTo is null
            ? $"PUB {subject} {payload.Length.ToString(CultureInfo.InvariantCulture)}\r\n"
            : $"PUB {subject} {replyTo} {payload.Length.ToString(CultureInfo.InvariantCulture)}\r\n";
        var frame = new byte[Encoding.UTF8.GetByteCount(header) + payload.Length + 2];
        var written = Encoding.UTF8.GetBytes(header, frame);
        payload.Span.CopyTo(frame.AsSpan(written));
        frame[^2] = (byte)'\r';
        frame[^1] = (byte)'\n';
        return frame;
    }

    /// <summary>Why a TLS handshake failed, from what certificate validation saw (certificate details only, never key material).</summary>
    private static string TlsProblem(string address, string targetHost, NatsTls? tls, SslPolicyErrors errors, string? chainStatus, AuthenticationException e)
    {
        var problems = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            problems.Add($"{address} presented no TLS certificate");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            problems.Add($"the TLS certificate of {address} is not issued for \"{targetHost}\" (name mismatch; a {NatsCredentialProfiles.ServerNameFile} file in the credentials profile sets the name to expect)");
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var trust = tls?.Authorities is null
                ? $"the system trust store (put the server's CA in the credentials profile's {NatsCredentialProfiles.CaFile})"
                : $"the credentials profile's {NatsCredentialProfiles.CaFile}";
            problems.Add($"the TLS certificate of {address} is not trusted by {trust}{(chainStatus is null ? "" : $": {chainStatus}")}");
        }

        return problems.Count > 0
            ? string.Join("; ", problems)
            : $"the TLS handshake with {address} failed: {e.Message}{(e.InnerException is { } inner ? $" ({inner.Message})" : "")}";
    }

    private static string Describe(X509ChainStatusFlags status) => status switch
    {
        X509ChainStatusFlags.PartialChain => "its issuer is not among the trusted CAs",
        X509ChainStatusFlags.UntrustedRoot => "its root CA is not trusted",
        X509ChainStatusFlags.NotTimeValid => "it has expired or is not valid yet",
        X509ChainStatusFlags.NotValidForUsage => "it is not issued for server authentication",
        _ => status.ToString(),
    };

    private static bool ClosedByServer(Exception e) =>
        e is IOException or SocketException
        || e is NatsConnectionException { Authorization: false, InnerException: IOException or SocketException };

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "…";

    /// <summary>
    /// What the server's INFO says: TLS required, available (<c>allow_non_tls</c>), client certificates verified; the
    /// nonce an NKey or JWT login signs (sent only by a server with NKey users or an operator).
    /// </summary>
    private readonly record struct ServerInfo(bool Required, bool Available, bool Verify, string? Nonce)
    {
        public static ServerInfo Parse(string info)
        {
            try
            {
                using var document = JsonDocument.Parse(info);
                var root = document.RootElement;
                var nonce = root.TryGetProperty("nonce", out var value) && value.ValueKind == JsonValueKind.String && value.GetString() is { Length: > 0 } text ? text : null;
                return new ServerInfo(IsTrue(root, "tls_required"), IsTrue(root, "tls_available"), IsTrue(root, "tls_verify"), nonce);
            }
            catch (JsonException)
            {
                return default;
            }

            static bool IsTrue(JsonElement root, string name) => root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;
        }
    }

    /// <summary>After the server's INFO: TLS when either side asks for it, then CONNECT and PING until PONG.</summary>
    private async Task HandshakeAsync(NatsServerAddress server, ServerInfo offer, NatsCredentials? credentials, NatsTls? tls, CancellationToken cancellationToken)
    {
        if (credentials?.Key is { } key && offer.Nonce is null)
        {
            var file = key.Jwt is null ? NatsCredentialProfiles.NKeyFile : NatsCredentialProfiles.CredsFile;
            throw new NatsConnectionException(
                $"{Address} sent no nonce in its INFO, so it accepts no NKey or JWT login (it has no nkey users and no operator), and the credentials profile logs in with its {file} file",
                authorization: true);
        }

        var wanted = server.Tls ? $"natsServerUrl says {server}" : tls is not null ? "the credentials profile has TLS files" : null;
        if (wanted is not null && !offer.Required && !offer.Available)
        {
            throw new NatsConnectionException($"{Address} does not offer TLS, which the client requires ({wanted})");
        }

        var useTls = offer.Required || wanted is not null;
        if (useTls && offer.Verify && tls?.Certificate is null)
        {
            throw new NatsConnectionException(
                $"{Address} requires a TLS client certificate (tls verify), and the scaler has none: put {NatsCredentialProfiles.CertificateFile} and {NatsCredentialProfiles.KeyFile} in the credentials profile",
                authorization: true);
        }

        try
        {
            if (useTls)
            {
                await UpgradeAsync(server.Host, tls, cancellationToken);
            }

            _reader = Task.Run(ReadLoopAsync, CancellationToken.None);
            await WriteAsync(Encoding.UTF8.GetBytes(ConnectLine(credentials, offer.Nonce, useTls) + "PING\r\n"), cancellationToken);
            await _handshake.Task.WaitAsync(cancellationToken);
        }
        catch (Exception e) when (useTls && offer.Verify && ClosedByServer(e))
        {
            // With TLS 1.3 the server checks the client certificate after the client has finished its handshake, and
            // answers a rejection by closing the connection.
            throw new NatsConnectionException(
                $"{Address} closed the connection right after the TLS handshake, as a server verifying client certificates does when it rejects one: check that {NatsCredentialProfiles.CertificateFile} is issued for client authentication by a CA in the server's ca_file ({e.Message})",
                authorization: true,
                inner: e);
        }
    }

    /// <summary>Switches the socket to TLS; the server sends nothing between its INFO and the handshake.</summary>
    private async Task UpgradeAsync(string host, NatsTls? tls, CancellationToken cancellationToken)
    {
        if (_start != _end)
        {
            throw new NatsConnectionException($"{Address} sent data after INFO, before the TLS handshake");
        }

        var errors = SslPolicyErrors.None;
        string? chainStatus = null;
        var options = NatsTls.ClientOptions(tls, host, (_, _, chain, policyErrors) =>
        {
            errors = policyErrors;
            chainStatus = chain is null ? null : string.Join(", ", chain.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).Distinct().Select(Describe));
            return policyErrors == SslPolicyErrors.None;
        });
        var ssl = new SslStream(_stream, leaveInnerStreamOpen: false);
        _stream = ssl;
        try
        {
            await ssl.AuthenticateAsClientAsync(options, cancellationToken);
        }
        catch (AuthenticationException e)
        {
            throw new NatsConnectionException(TlsProblem(Address, options.TargetHost!, tls, errors, chainStatus is { Length: > 0 } ? chainStatus : null, e), inner: e);
        }
    }

    private async Task ReadLoopAsync()
    {
        var token = _closing.Token;
        try
        {
            while (!token.IsCancellationRequested)
            {
                var line = await ReadLineAsync(token);
                if (line.StartsWith("MSG ", StringComparison.Ordinal))
                {
                    await ReadMessageAsync(line, headers: false, token);
                }
                else if (line.StartsWith("HMSG ", StringComparison.Ordinal))
                {
                    await ReadMessageAsync(line, headers: true, token);
                }
                else if (line == "PING")
                {
                    await WriteAsync("PONG\r\n"u8.ToArray(), token);
                }
                else if (line == "PONG")
                {
                    _handshake.TrySetResult();
                }
                else if (line.StartsWith("-ERR", StringComparison.Ordinal))
                {
                    var error = line[4..].Trim().Trim('\'');
                    var authorization = error.Contains("Authorization", StringComparison.OrdinalIgnoreCase)
                        || error.Contains("Authentication", StringComparison.OrdinalIgnoreCase);
                    // Every -ERR but a permissions violation closes the connection on the server side.
                    if (!error.StartsWith("Permissions Violation", StringComparison.OrdinalIgnoreCase))
                    {
                        Fail(new NatsConnectionException($"{Address} answered -ERR '{error}'", authorization));
                        return;
                    }
                }

                // +OK and INFO (cluster changes) need nothing.
            }
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or OperationCanceledException or NatsConnectionException or FormatException)
        {
            Fail(e as NatsConnectionException ?? new NatsConnectionException($"the connection to {Address} closed: {e.Message}", inner: e));
        }
    }

    private async Task ReadMessageAsync(string line, bool headers, CancellationToken cancellationToken)
    {
        // MSG <subject> <sid> [reply-to] <#bytes>   |   HMSG <subject> <sid> [reply-to] <#header bytes> <#total bytes>
        var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var sizes = headers ? 2 : 1;
        if (parts.Length < 3 + sizes || parts.Length > 4 + sizes)
        {
            throw new FormatException($"bad message line \"{Shorten(line)}\"");
        }

        var total = int.Parse(parts[^1], NumberStyles.None, CultureInfo.InvariantCulture);
        var headerLength = headers ? int.Parse(parts[^2], NumberStyles.None, CultureInfo.InvariantCulture) : 0;
        var replyTo = parts.Length == 4 + sizes ? parts[3] : null;
        var body = await ReadExactAsync(total + 2, cancellationToken);
        int? status = null;
        string? description = null;
        if (headerLength > 0)
        {
            // "NATS/1.0 503\r\n" or "NATS/1.0 404 No Messages\r\n", then header lines.
            var headerText = Encoding.UTF8.GetString(body, 0, headerLength);
            var firstLine = headerText.Split("\r\n", 2)[0];
            var fields = firstLine.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var code))
            {
                status = code;
                description = fields.Length == 3 ? fields[2] : null;
            }
        }

        if (_requests.TryRemove(parts[2], out var pending))
        {
            pending.TrySetResult(new NatsMessage(parts[1], replyTo, status, description, body[headerLength..total]));
        }
    }

    private async Task WriteAsync(byte[] bytes, CancellationToken cancellationToken)
    {
        ThrowIfClosed();
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _stream.WriteAsync(bytes, cancellationToken);
            await _stream.FlushAsync(cancellationToken);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            Fail(new NatsConnectionException($"the connection to {Address} closed: {e.Message}", inner: e));
            throw _failure!;
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private async Task TryWriteAsync(string line)
    {
        try
        {
            await WriteAsync(Encoding.UTF8.GetBytes(line), _closing.Token);
        }
        catch (Exception e) when (e is NatsConnectionException or OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    private void ThrowIfClosed()
    {
        if (_failure is { } failure)
        {
            throw failure as NatsConnectionException ?? new NatsConnectionException(failure.Message, inner: failure);
        }
    }

    private void Fail(Exception failure)
    {
        _failure ??= failure;
        _handshake.TrySetException(_failure);
        foreach (var pending in _requests.Values)
        {
            pending.TrySetException(_failure);
        }

        _requests.Clear();
    }

    private async Task<string> ReadLineAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var newline = Array.IndexOf(_buffer, (byte)'\n', _start, _end - _start);
            if (newline >= 0)
            {
                var length = newline - _start;
                if (length > 0 && _buffer[newline - 1] == '\r')
                {
                    length--;
                }

                var line = Encoding.UTF8.GetString(_buffer, _start, length);
                _start = newline + 1;
                return line;
            }

            if (_end - _start >= MaxControlLine)
            {
                throw new FormatException("control line too long");
            }

            await FillAsync(cancellationToken);
        }
    }

    private async Task<byte[]> ReadExactAsync(int count, CancellationToken cancellationToken)
    {
        var result = new byte[count];
        var copied = 0;
        while (copied < count)
        {
            if (_start == _end)
            {
                await FillAsync(cancellationToken);
            }

            var take = Math.Min(count - copied, _end - _start);
            Buffer.BlockCopy(_buffer, _start, result, copied, take);
            _start += take;
            copied += take;
        }

        return result;
    }

    private async Task FillAsync(CancellationToken cancellationToken)
    {
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, _end - _start);
            _end -= _start;
            _start = 0;
        }

        if (_end == _buffer.Length)
        {
            throw new FormatException("control line too long");
        }

        var read = await _stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken);
        if (read == 0)
        {
            throw new IOException("the server closed the connection");
        }

        _end += read;
    }
}
