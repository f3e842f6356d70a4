using System.Net;
using System.Net.Sockets;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Telemetry;
using Updraft.Interceptor.Transport;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// The outbound TCP connect, as the add-on dials: each attempt is bounded by <c>KEDA_HTTP_CONNECT_TIMEOUT</c> and a
/// failed attempt is retried every 50 ms, so a workload whose socket is not open yet (or whose address is still being
/// programmed) is reached as soon as it accepts. Attempts stop after <see cref="RetryLimit"/>; the request itself
/// stops waiting at its own deadline.
/// </summary>
/// <remarks>
/// A refused connect is reported to <see cref="IEndpointReadiness"/>. When the readiness source then says the target
/// is not ready (standalone mode: a refusal is the definition of not ready) the connector stops at once with
/// <see cref="EndpointNotReadyException"/>: nothing has been sent, so the request goes back to wait in the route's hold
/// queue and is forwarded when the target is ready. A successful connect marks the target ready.
/// </remarks>
internal sealed class RetryingConnector(TimeSpan attemptTimeout, ConnectionFailures failures, IEndpointReadiness readiness, TimeProvider time, ILogger logger)
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>The add-on's safety cap for requests without a deadline.</summary>
    public static readonly TimeSpan RetryLimit = TimeSpan.FromMinutes(1);

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken) =>
        new NetworkStream(await ConnectSocketAsync(context.DnsEndPoint, cancellationToken), ownsSocket: true);

    internal async ValueTask<Stream> ConnectAsync(System.Net.DnsEndPoint endpoint, CancellationToken cancellationToken) =>
        new NetworkStream(await ConnectSocketAsync(endpoint, cancellationToken), ownsSocket: true);

    /// <summary>A connected socket (no delay), after as many attempts as it takes within <see cref="RetryLimit"/>.</summary>
    internal ValueTask<Socket> ConnectSocketAsync(System.Net.DnsEndPoint endpoint, CancellationToken cancellationToken) =>
        ConnectWithRetriesAsync(endpoint, static async (endpoint, token) =>
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(endpoint, token);
                return socket;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }, cancellationToken);

    /// <summary>A connected socket served by the epoll transport, with the same retries as <see cref="ConnectSocketAsync"/>.</summary>
    internal ValueTask<EpollSocket> ConnectEpollAsync(System.Net.DnsEndPoint endpoint, CancellationToken cancellationToken) =>
        ConnectWithRetriesAsync(endpoint, static async (endpoint, token) =>
        {
            if (IPAddress.TryParse(endpoint.Host.Trim('[', ']'), out var address))
            {
                return await EpollSocket.ConnectAsync(new IPEndPoint(address, endpoint.Port), token);
            }

            // As Socket.ConnectAsync(DnsEndPoint): each address in the resolver's order until one accepts.
            var addresses = await Dns.GetHostAddressesAsync(endpoint.Host, token);
            SocketException? last = null;
            foreach (var candidate in addresses)
            {
                try
                {
                    return await EpollSocket.ConnectAsync(new IPEndPoint(candidate, endpoint.Port), token);
                }
                catch (SocketException e)
                {
                    last = e;
                }
            }

            throw last ?? new SocketException((int)SocketError.HostNotFound);
        }, cancellationToken);

    private async ValueTask<T> ConnectWithRetriesAsync<T>(System.Net.DnsEndPoint endpoint, Func<System.Net.DnsEndPoint, CancellationToken, ValueTask<T>> connect, CancellationToken cancellationToken)
    {
        var key = endpoint.Host.Trim('[', ']') + ":" + endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var started = time.GetTimestamp();
        while (true)
        {
            Exception failure;
            using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (attemptTimeout > TimeSpan.Zero)
                {
                    attempt.CancelAfter(attemptTimeout);
                }

                try
                {
                    var connected = await connect(endpoint, attempt.Token);
                    failures.Connected(key);
                    readiness.Connected(key);
                    return connected;
                }
                catch (SocketException e)
                {
                    if (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
                    {
                        if (readiness.ConnectionRefused(key))
                        {
                            throw new EndpointNotReadyException(key, e);
                        }

                        // Recorded only while the connector keeps dialling: a refusal that sends requests back to
                        // wait is a cold start, so a request still queued for a connection when its deadline passes
                        // gets 504 like the held ones, not the 502 of an upstream that is down.
                        failures.Refused(key);
                    }

                    failure = e;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    failure = new TimeoutException($"Connecting to {key} took longer than {attemptTimeout.TotalMilliseconds} ms.");
                }
            }

            if (time.GetElapsedTime(started) + RetryDelay >= RetryLimit)
            {
                throw failure;
            }

            Log.ConnectRetry(logger, key, failure.Message, RetryDelay);
            await Task.Delay(RetryDelay, time, cancellationToken);
        }
    }
}

/// <summary>A connect was refused and the target is not ready; nothing was sent, so the request may wait and retry.</summary>
internal sealed class EndpointNotReadyException(string endpoint, Exception inner)
    : Exception($"{endpoint} refused the connection and is not ready.", inner)
{
    public string Endpoint { get; } = endpoint;
}
