namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// Bounds the time from having sent a request to receiving its response headers (<c>KEDA_HTTP_RESPONSE_HEADER_TIMEOUT</c>
/// or a route's <c>timeouts.responseHeader</c>). As Go's <c>ResponseHeaderTimeout</c>, the clock starts once the request
/// body has been sent: an upload of any length is never cut by it. One instance per distinct timeout wraps the single
/// shared <see cref="SocketsHttpHandler"/>, so every route shares one connection pool.
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
        var withoutBody = request.Content is null;
        var timeout = withoutBody ? _sources.Rent() : new CancellationTokenSource();
        var link = cancellationToken.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), timeout);
        BodySentClock? clock = null;
        if (withoutBody)
        {
            timeout.CancelAfter(_timeout);
        }
        else
        {
            clock = new BodySentClock(timeout, _timeout);
            request.Content = new FlushingRequestContent(request.Content!, clock);
        }

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
            if (withoutBody)
            {
                _sources.Return(timeout);
            }
            else
            {
                clock!.Stop();
                timeout.Dispose();
            }
        }
    }
}

/// <summary>Starts a request's response-header clock when its body has been sent, unless the response came first.</summary>
internal sealed class BodySentClock(CancellationTokenSource timeout, TimeSpan limit)
{
    private readonly Lock _gate = new();
    private bool _stopped;

    public void BodySent()
    {
        lock (_gate)
        {
            if (!_stopped)
            {
                timeout.CancelAfter(limit);
            }
        }
    }

    /// <summary>The response headers are in (or the send failed): the source is about to be disposed.</summary>
    public void Stop()
    {
        lock (_gate)
        {
            _stopped = true;
        }
    }
}

internal sealed class ResponseHeaderTimeoutException(TimeSpan timeout)
    : TimeoutException($"No response headers within {timeout.TotalMilliseconds} ms.");
