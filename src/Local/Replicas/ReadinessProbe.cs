using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Updraft.Shared.Workloads;

namespace Updraft.Local.Replicas;

/// <summary>
/// One readiness check of a replica on 127.0.0.1: a TCP connect, or <c>GET path</c> answered 2xx or 3xx (redirects
/// not followed). Each attempt is bounded by <see cref="AttemptTimeout"/>; one HTTP client per workload.
/// </summary>
internal sealed class ReadinessProbe : IDisposable
{
    public static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(1);

    private readonly ReadinessCheck _check;
    private readonly HttpClient? _client;

    public ReadinessProbe(ReadinessCheck check)
    {
        _check = check;
        if (check.Kind == ReadinessKind.Http)
        {
            _client = new HttpClient(new SocketsHttpHandler
            {
                UseProxy = false,
                AllowAutoRedirect = false,
                UseCookies = false,
                ConnectTimeout = AttemptTimeout,
            })
            {
                Timeout = Timeout.InfiniteTimeSpan,
            };
        }
    }

    /// <summary>True when the replica on <paramref name="port"/> passes the check now; false on any failure of the attempt.</summary>
    public async Task<bool> IsReadyAsync(int port, CancellationToken cancellationToken)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        attempt.CancelAfter(AttemptTimeout);
        try
        {
            return _client is null ? await ConnectsAsync(port, attempt.Token) : await AnswersAsync(_client, port, attempt.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    public void Dispose() => _client?.Dispose();

    private static async Task<bool> ConnectsAsync(int port, CancellationToken cancellationToken)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), cancellationToken);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private async Task<bool> AnswersAsync(HttpClient client, int port, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri("http://127.0.0.1:" + port.ToString(CultureInfo.InvariantCulture) + _check.Path));
        // Checks stop once the replica is ready: keep no connection to it in the pool.
        request.Headers.ConnectionClose = true;
        try
        {
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            var status = (int)response.StatusCode;
            return status is >= 200 and < 400;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }
}
