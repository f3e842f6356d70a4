using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>
/// A loopback upstream over a plain TCP socket that records each request exactly as it arrived (request line, every
/// header line in order, duplicates included, and the decoded body), answers with fixed bytes and closes the connection.
/// Unlike a Kestrel upstream it rejects nothing, so a test sees what the interceptor really sent.
/// </summary>
internal sealed class RecordingUpstream : IAsyncDisposable
{
    public const string DefaultReply = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";

    private readonly TcpListener _listener;
    private readonly byte[] _reply;
    private readonly X509Certificate2? _certificate;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<RecordedRequest> _requests = [];
    private readonly Task _loop;

    private RecordingUpstream(TcpListener listener, byte[] reply, X509Certificate2? certificate)
    {
        _listener = listener;
        _reply = reply;
        _certificate = certificate;
        _loop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    /// <param name="reply">The whole response, written as is after each request (default: 200 <c>ok</c>, then close).</param>
    /// <param name="certificate">Serve TLS (HTTP/1.1) with this certificate instead of cleartext.</param>
    public static RecordingUpstream Start(string reply = DefaultReply, X509Certificate2? certificate = null)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return new RecordingUpstream(listener, Encoding.ASCII.GetBytes(reply), certificate);
    }

    /// <summary>The one request received so far (fails if there were none or several).</summary>
    public RecordedRequest Single() => Assert.Single(Requests);

    private async Task AcceptLoopAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                connections.Add(ServeAsync(client));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                Stream stream = client.GetStream();
                if (_certificate is not null)
                {
                    var tls = new SslStream(stream, leaveInnerStreamOpen: false);
                    await tls.AuthenticateAsServerAsync(
                        new SslServerAuthenticationOptions { ServerCertificate = _certificate, ApplicationProtocols = [SslApplicationProtocol.Http11] },
                        _stop.Token);
                    stream = tls;
                }

                await using var disposeStream = stream;
                var reader = new ByteReader(stream, _stop.Token);
                var head = Encoding.ASCII.GetString(await reader.ReadUntilAsync("\r\n\r\n"u8.ToArray())).Split("\r\n");
                var requestLine = head[0].Split(' ');
                var headers = new List<KeyValuePair<string, string>>();
                foreach (var line in head.Skip(1))
                {
                    var colon = line.IndexOf(':', StringComparison.Ordinal);
                    headers.Add(new(line[..colon], line[(colon + 1)..].Trim()));
                }

                var request = new RecordedRequest(requestLine[0], requestLine[1], requestLine[2], headers, []);
                byte[] body = [];
                if (request.Values("Transfer-Encoding").Any(v => v.Contains("chunked", StringComparison.OrdinalIgnoreCase)))
                {
                    body = await reader.ReadChunkedAsync();
                }
                else if (request.Values("Content-Length") is [var length])
                {
                    body = await reader.ReadExactlyAsync(int.Parse(length, CultureInfo.InvariantCulture));
                }

                lock (_requests)
                {
                    _requests.Add(request with { Body = body });
                }

                await stream.WriteAsync(_reply, _stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or EndOfStreamException or AuthenticationException)
            {
                // A readiness probe (connect, then close) or the interceptor giving up: nothing to record.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}

/// <summary>A request as it arrived on the wire.</summary>
/// <param name="Method">The method in the request line.</param>
/// <param name="Target">The request target in the request line, unchanged.</param>
/// <param name="Version">The protocol in the request line.</param>
/// <param name="Headers">Every header line in order.</param>
/// <param name="Body">The body, de-chunked.</param>
internal sealed record RecordedRequest(string Method, string Target, string Version, IReadOnlyList<KeyValuePair<string, string>> Headers, byte[] Body)
{
    /// <summary>The values of every line named <paramref name="name"/> (ignoring case), in order.</summary>
    public string[] Values(string name) => [.. Headers.Where(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value)];

    public bool Has(string name) => Values(name).Length > 0;

    public string BodyText => Encoding.UTF8.GetString(Body);
}
