namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// Bounds the time from sending a request to receiving its response headers (<c>KEDA_HTTP_RESPONSE_HEADER_TIMEOUT</c>
/// or a route's <c>timeouts.responseHeader</c>). One instance per distinct timeout wraps the single shared
/// <see cref="SocketsHttpHandler"/>, so every route shares one connection pool.
/// </summary>
internal sealed class ResponseHeaderTimeoutHandler : DelegatingHandler
{
    private readonly TimeSpan _timeout;

    public ResponseHeaderTimeoutHandler(TimeSpan timeout, HttpMessageHandler inner)
        : base(inner)
    {
        _timeout = timeout;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_timeout);
        try
        {
            return await base.SendAsync(request, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ResponseHeaderTimeoutException(_timeout);
        }
    }
}

internal sealed class ResponseHeaderTimeoutException(TimeSpan timeout)
    : TimeoutException($"No response headers within {timeout.TotalMilliseconds} ms.");
