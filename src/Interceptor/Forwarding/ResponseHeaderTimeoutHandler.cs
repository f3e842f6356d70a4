namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// Bounds the time from sending a request to receiving its response headers (<c>KEDA_HTTP_RESPONSE_HEADER_TIMEOUT</c>
/// or a route's <c>timeouts.responseHeader</c>). One instance per distinct timeout wraps the single shared
/// <see cref="SocketsHttpHandler"/>, so every route shares one connection pool.
/// </summary>
internal sealed class ResponseHeaderTimeoutHandler : DelegatingHandler
{
    private readonly TimeSpan _timeout;
    private readonly CancellationSourcePool _sources = new();

    public ResponseHeaderTimeoutHandler(TimeSpan timeout, HttpMessageHandler inner)
        : base(inner)
    {
        _timeout = timeout;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        // Once the response headers are in, SocketsHttpHandler holds nothing on the token of a request without a
        // body, so that token's source can serve the next request. A request body may still be sending with it.
        var reusable = request.Content is null;
        var timeout = reusable ? _sources.Rent() : new CancellationTokenSource();
        var link = cancellationToken.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), timeout);
        timeout.CancelAfter(_timeout);
        try
        {
            return await base.SendAsync(request, timeout.Token);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ResponseHeaderTimeoutException(_timeout);
        }
        finally
        {
            // Waits for a cancellation callback already running, so nothing cancels the source after this.
            link.Dispose();
            if (reusable)
            {
                _sources.Return(timeout);
            }
            else
            {
                timeout.Dispose();
            }
        }
    }
}

internal sealed class ResponseHeaderTimeoutException(TimeSpan timeout)
    : TimeoutException($"No response headers within {timeout.TotalMilliseconds} ms.");
