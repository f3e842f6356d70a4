using System.Net;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Grpc.Core;

namespace Updraft.ExternalScaler.Nats.Polling;

/// <summary>A monitoring request that gave no document: why, as the gRPC code <c>Read</c> reports.</summary>
internal sealed class MonitoringException(StatusCode code, string message, HttpStatusCode? httpStatus = null, Exception? inner = null) : Exception(message, inner)
{
    public StatusCode Code { get; } = code;

    /// <summary>The HTTP status, when the server answered.</summary>
    public HttpStatusCode? HttpStatus { get; } = httpStatus;
}

/// <summary>
/// GETs of NATS HTTP monitoring documents (<c>/jsz</c>, <c>/varz</c>, <c>/streaming/channelsz</c>), each bounded by
/// <c>UPDRAFT_NATS_TIMEOUT</c>. Unlike KEDA, the status code is checked: only a 2xx JSON answer is a document.
/// </summary>
internal sealed class MonitoringClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly TimeSpan _timeout;

    public MonitoringClient(NatsOptions options)
    {
        _timeout = options.Timeout;
        _http = new HttpClient(new SocketsHttpHandler
        {
            UseProxy = false,
            ConnectTimeout = options.Timeout,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            AutomaticDecompression = DecompressionMethods.GZip,
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
    }

    /// <exception cref="MonitoringException">The server could not be reached, answered a non-2xx status or not the expected JSON.</exception>
    public async Task<T> GetAsync<T>(Uri url, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(_timeout);
        try
        {
            using var response = await _http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            if (!response.IsSuccessStatusCode)
            {
                var code = response.StatusCode == HttpStatusCode.NotFound ? StatusCode.NotFound : StatusCode.Unavailable;
                throw new MonitoringException(code, $"GET {url} answered {(int)response.StatusCode} {response.ReasonPhrase}", response.StatusCode);
            }

            await using var body = await response.Content.ReadAsStreamAsync(deadline.Token);
            return await JsonSerializer.DeserializeAsync(body, type, deadline.Token)
                ?? throw new MonitoringException(StatusCode.Unavailable, $"GET {url} answered null, not a document");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new MonitoringException(StatusCode.Unavailable, $"GET {url} did not answer within {_timeout.TotalSeconds:0.###} s");
        }
        catch (HttpRequestException e)
        {
            throw new MonitoringException(StatusCode.Unavailable, $"GET {url} failed: {e.Message}", inner: e);
        }
        catch (JsonException e)
        {
            throw new MonitoringException(StatusCode.Unavailable, $"GET {url} answered something that is not the expected JSON: {e.Message}", inner: e);
        }
    }

    public void Dispose() => _http.Dispose();
}
