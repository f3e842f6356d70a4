using System.Net.Sockets;
using Updraft.Interceptor.Telemetry;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// The outbound TCP connect, as the add-on dials: each attempt is bounded by <c>KEDA_HTTP_CONNECT_TIMEOUT</c> and a
/// failed attempt is retried every 50 ms, so a workload whose socket is not open yet (or whose address is still being
/// programmed) is reached as soon as it accepts. Attempts stop after <see cref="RetryLimit"/>; the request itself
/// stops waiting at its own deadline.
/// </summary>
internal sealed class RetryingConnector(TimeSpan attemptTimeout, ConnectionFailures failures, TimeProvider time, ILogger logger)
{
    public static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(50);

    /// <summary>The add-on's safety cap for requests without a deadline.</summary>
    public static readonly TimeSpan RetryLimit = TimeSpan.FromMinutes(1);

    public async ValueTask<Stream> ConnectAsync(SocketsHttpConnectionContext context, CancellationToken cancellationToken)
    {
        var endpoint = context.DnsEndPoint;
        var key = endpoint.Host.Trim('[', ']') + ":" + endpoint.Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var started = time.GetTimestamp();
        while (true)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            Exception failure;
            using (var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                if (attemptTimeout > TimeSpan.Zero)
                {
                    attempt.CancelAfter(attemptTimeout);
                }

                try
                {
                    await socket.ConnectAsync(endpoint, attempt.Token);
                    failures.Connected(key);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch (SocketException e)
                {
                    socket.Dispose();
                    if (e.SocketErrorCode is SocketError.ConnectionRefused or SocketError.ConnectionReset)
                    {
                        failures.Refused(key);
                    }

                    failure = e;
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                    socket.Dispose();
                    failure = new TimeoutException($"Connecting to {key} took longer than {attemptTimeout.TotalMilliseconds} ms.");
                }
                catch
                {
                    socket.Dispose();
                    throw;
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
