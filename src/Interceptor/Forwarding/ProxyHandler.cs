using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Forwarding.Http1;
using Updraft.Interceptor.Forwarding.Pooling;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Telemetry;
using Updraft.Shared.Routes;
using Yarp.ReverseProxy.Forwarder;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// The request path: route lookup → static route? → count → (not ready: cold start) → forward → record. Requests are
/// never retried once sent; one whose connect was refused (nothing sent) goes back to wait for readiness.
/// </summary>
/// <remarks>
/// Outcomes (the add-on's matrix, §4.3 of the reference): no route → 404 <c>text/plain</c>; the request deadline or
/// the response-header timeout passes → 504, except that a deadline passing while the connector was still dialling a
/// refusing upstream is 502 (only where the readiness source keeps dialling; in standalone mode a refusal sends the
/// request to wait, see <see cref="RetryingConnector"/>); reset, EOF, refused connections after the retry limit and unparseable responses → 502; the
/// client going away → 499 (recorded and logged at Debug, never a 5xx); the client's request body breaking off or
/// arriving malformed → 400 (logged at Debug); upstream 4xx/5xx pass through untouched.
/// Before routing, a Host that cannot be forwarded as it is (<see cref="HostHeader"/>) → 400, and <c>CONNECT</c> → 501
/// (this is not a forward proxy; only an h2 extended CONNECT for a WebSocket is forwarded): both are the client's
/// doing, recorded as unrouted and logged at Debug.
/// A target that is not ready sends the request through <see cref="ColdStartGate"/> (placeholder, hold queue,
/// fallback, 504 on timeout). Static routes are answered before counting and are never counted.
/// </remarks>
internal sealed class ProxyHandler(
    RouteTableHolder tables,
    IHttpForwarder forwarder,
    LeanForwarding lean,
    ProxyTransformers transformers,
    ColdStartGate coldStarts,
    ConnectionFailures connectionFailures,
    InterceptorMetrics metrics,
    ReadinessState readiness,
    ProxyTracing tracing,
    TimeProvider time,
    ILogger<ProxyHandler> logger)
{
    public const int ClientClosedRequest = 499;

    private const string WebSocketProtocol = "websocket";

    private static readonly byte[] NotFoundBody = "Not Found\n"u8.ToArray();
    internal static readonly byte[] BadGatewayBody = "Bad Gateway\n"u8.ToArray();
    private static readonly byte[] GatewayTimeoutBody = "Gateway Timeout\n"u8.ToArray();
    private static readonly byte[] RequestTimeoutBody = "Request Timeout\n"u8.ToArray();
    private static readonly byte[] BadRequestBody = "Bad Request\n"u8.ToArray();
    private static readonly byte[] NotImplementedBody = "Not Implemented\n"u8.ToArray();

    private readonly CancellationSourcePool _deadlines = new();

    // Only the async methods below allocate a state machine, and a forwarded request passes through exactly one
    // (two with tracing on: the proxy span's).
    public Task InvokeAsync(HttpContext context) => tracing.Enabled ? InvokeTracedAsync(context) : InvokeCoreAsync(context);

    private async Task InvokeTracedAsync(HttpContext context)
    {
        using var span = ProxyTracing.StartProxySpan(context);
        try
        {
            await InvokeCoreAsync(context);
        }
        catch (Exception e) when (span is not null)
        {
            span.SetStatus(ActivityStatusCode.Error, e.GetType().Name);
            throw;
        }

        if (span is not null)
        {
            ProxyTracing.EndProxySpan(span, context);
        }
    }

    private Task InvokeCoreAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var request = context.Request;
        if (readiness.IsDraining && HttpProtocol.IsHttp11(request.Protocol))
        {
            // Shutting down: finish this request, then let the client reconnect to another replica.
            context.Response.Headers.Connection = "close";
        }

        // Requests that cannot be forwarded faithfully are answered here, before routing, and recorded as unrouted.
        if (!HostHeader.IsValid(request.Host.Value) || (!request.Host.HasValue && request.Headers.ContainsKey(HeaderNames.Host)))
        {
            // An empty Host would reach the upstream next to the one .NET's client writes for the target: two Host lines.
            return RejectAsync(context, started, StatusCodes.Status400BadRequest, BadRequestBody, "invalid Host");
        }

        if (!string.Equals(HttpMethods.GetCanonicalizedValue(request.Method), request.Method, StringComparison.Ordinal))
        {
            // 'get' is not GET (methods are case-sensitive, RFC 9110 §9.1), but YARP and .NET's client would both send
            // it as GET; refuse it rather than forward a method the client did not send, as nginx does.
            return RejectAsync(context, started, StatusCodes.Status400BadRequest, BadRequestBody, "a standard method in the wrong case");
        }

        if (request.Headers.ContainsKey(HeaderNames.TransferEncoding) && !IsChunkedOnly(request.Headers.TransferEncoding))
        {
            // Kestrel removes the chunking and leaves any other coding (gzip, chunked) unapplied: the upstream would read
            // compressed bytes as the content. RFC 9112 §6.1: a server that does not understand a coding answers 501.
            return RejectAsync(context, started, StatusCodes.Status501NotImplemented, NotImplementedBody, "Transfer-Encoding other than chunked");
        }

        if (HttpMethods.IsConnect(request.Method) && !IsWebSocketConnect(context))
        {
            return RejectAsync(context, started, StatusCodes.Status501NotImplemented, NotImplementedBody, "CONNECT");
        }

        var route = tables.Current.Match(request.Host.Value, request.Path.Value, request.Headers);
        if (route is null)
        {
            return AnswerUnroutedAsync(context, started);
        }

        if (tracing.CurrentProxySpan is { } span)
        {
            ProxyTracing.SetRoute(span, route.Key);
        }

        var staticRoutes = route.ColdStart.StaticRoutes;
        if (staticRoutes.Length > 0 && StaticRoute.FirstMatch(staticRoutes, request) is { } staticRoute)
        {
            // Not counted either way: WhenUnavailable forwards to a ready target directly, as the add-on does.
            if (staticRoute.Mode == StaticResponseMode.WhenUnavailable && route.Upstream.Readiness.IsReady)
            {
                return ForwardAsync(context, route, staticRoute, started);
            }

            return ServeStaticRouteAsync(context, route, staticRoute, started);
        }

        return ForwardAsync(context, route, null, started);
    }

    private async Task AnswerUnroutedAsync(HttpContext context, long started)
    {
        var request = context.Request;
        Log.NoRoute(logger, request.Host.Value ?? "", request.Path.Value ?? "");
        await WritePlainAsync(context, StatusCodes.Status404NotFound, NotFoundBody);
        metrics.Unrouted.Record(request.Method, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    /// <summary>A request the interceptor does not forward: the client's doing, so logged at Debug only.</summary>
    private async Task RejectAsync(HttpContext context, long started, int status, byte[] body, string reason)
    {
        var request = context.Request;
        Log.RequestRejected(logger, request.Method, request.Host.Value ?? "", reason, status);
        await WritePlainAsync(context, status, body);
        metrics.Unrouted.Record(request.Method, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private static bool IsChunkedOnly(StringValues transferEncoding) =>
        transferEncoding.Count == 1 && string.Equals(transferEncoding[0]?.Trim(), "chunked", StringComparison.OrdinalIgnoreCase);

    /// <summary>An HTTP/2 extended CONNECT for a WebSocket (RFC 8441): the only CONNECT that is forwarded.</summary>
    internal static bool IsWebSocketConnect(HttpContext context) =>
        context.Features.Get<IHttpExtendedConnectFeature>() is { IsExtendedConnect: true } connect
        && string.Equals(connect.Protocol, WebSocketProtocol, StringComparison.OrdinalIgnoreCase);

    private static async Task ServeStaticRouteAsync(HttpContext context, Route route, StaticRoute staticRoute, long started)
    {
        try
        {
            if (staticRoute.Mode == StaticResponseMode.WhenUnavailable)
            {
                route.Upstream.Readiness.Want();
            }

            await staticRoute.Response.WriteAsync(context);
        }
        finally
        {
            route.Metrics.Record(context.Request.Method, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <param name="context">The request.</param>
    /// <param name="route">Its route.</param>
    /// <param name="whenUnavailable">A <c>WhenUnavailable</c> static route: answered instead of waiting if the target
    /// turns out not to be ready. Such requests are not counted.</param>
    /// <param name="started">When the request arrived, for the duration metric.</param>
    private Task ForwardAsync(HttpContext context, Route route, StaticRoute? whenUnavailable, long started)
    {
        // Kestrel wants a Task: a request still in flight gets one small task over the pooled box, not a whole box.
        var forwarding = ForwardPooledAsync(context, route, whenUnavailable, started);
        if (forwarding.IsCompletedSuccessfully)
        {
            forwarding.GetAwaiter().GetResult();
            return Task.CompletedTask;
        }

        return forwarding.AsTask();
    }

    [AsyncMethodBuilder(typeof(SharedPoolValueTaskMethodBuilder))]
    private async ValueTask ForwardPooledAsync(HttpContext context, Route route, StaticRoute? whenUnavailable, long started)
    {
        var counted = whenUnavailable is null;
        if (counted)
        {
            route.Counter.Begin();
        }

        var upstream = route.Upstream;
        var clientAborted = context.RequestAborted;
        var sentAt = time.GetTimestamp();
        CancellationTokenSource? deadline = null;
        CancellationTokenRegistration clientLink = default;
        try
        {
            // The request's token: the client leaving or, when the route has one, the request deadline passing.
            var requestAborted = clientAborted;
            if (upstream.RequestTimeout > TimeSpan.Zero)
            {
                deadline = _deadlines.Rent();
                clientLink = clientAborted.UnsafeRegister(static source => ((CancellationTokenSource)source!).Cancel(), deadline);
                deadline.CancelAfter(upstream.RequestTimeout);
                requestAborted = deadline.Token;
            }

            var target = upstream;
            var transformer = transformers.Warm;
            var holdStartedAt = 0L;
            while (true)
            {
                if (target == upstream && !upstream.Readiness.IsReady)
                {
                    if (whenUnavailable is not null)
                    {
                        upstream.Readiness.Want();
                        await whenUnavailable.Response.WriteAsync(context);
                        return;
                    }

                    if (holdStartedAt == 0)
                    {
                        holdStartedAt = time.GetTimestamp();
                    }

                    var outcome = await coldStarts.HoldAsync(context, route, holdStartedAt, requestAborted);
                    if (outcome == HoldOutcome.Answered)
                    {
                        return;
                    }

                    (target, transformer) = outcome == HoldOutcome.Fallback
                        ? (route.ColdStart.Fallback!, transformers.Fallback)
                        : (upstream, transformers.Cold);
                }

                var tls = H2cPriorKnowledge.TransportScheme(context) == "https";
                var prefix = target.Destination(tls);
                if (prefix is null)
                {
                    if (target == upstream)
                    {
                        // The picker's set just emptied; the same update makes the target not ready: go back and wait.
                        await Task.Yield();
                        continue;
                    }

                    prefix = target.FixedDestination(tls);
                }

                var error = lean.Forwarder is { } http1 && Http1Forwarder.CanForward(context, target, prefix)
                    ? await http1.SendAsync(context, prefix, target, transformer, requestAborted)
                    : await forwarder.SendAsync(context, prefix, target.Invoker, target.Config, transformer, requestAborted);
                if (error == ForwarderError.None)
                {
                    return;
                }

                if (target == upstream && !context.Response.HasStarted && !requestAborted.IsCancellationRequested && IsNotReady(context))
                {
                    // The connect was refused and nothing was sent: wait for readiness and try again.
                    context.Response.Clear();
                    continue;
                }

                var deadlinePassed = deadline is not null && deadline.IsCancellationRequested && !clientAborted.IsCancellationRequested;
                await ReportErrorAsync(context, route, target, error, deadlinePassed, sentAt);
                return;
            }
        }
        finally
        {
            if (deadline is not null)
            {
                clientLink.Dispose();
                _deadlines.Return(deadline);
            }

            if (counted)
            {
                route.Counter.End();
            }

            route.Metrics.Record(context.Request.Method, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private static bool IsNotReady(HttpContext context)
    {
        for (var e = context.Features.Get<IForwarderErrorFeature>()?.Exception; e is not null; e = e.InnerException)
        {
            if (e is EndpointNotReadyException)
            {
                return true;
            }
        }

        return false;
    }

    private async Task ReportErrorAsync(HttpContext context, Route route, UpstreamTarget target, ForwarderError error, bool deadlinePassed, long sentAt)
    {
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        int status;
        if (context.RequestAborted.IsCancellationRequested)
        {
            status = ClientClosedRequest;
        }
        else if (deadlinePassed)
        {
            status = connectionFailures.RefusedSince(target.Endpoint, sentAt) ? StatusCodes.Status502BadGateway : StatusCodes.Status504GatewayTimeout;
        }
        else if (IsCanceled(exception))
        {
            // Neither the client nor the deadline: YARP's activity timer, the idle timeout, ended it. A stalled upload
            // is the client's (408, as a web server answers a body that stops arriving); anything else is a 504.
            status = error is ForwarderError.RequestBodyClient or ForwarderError.RequestBodyCanceled
                ? StatusCodes.Status408RequestTimeout
                : StatusCodes.Status504GatewayTimeout;
            Log.IdleTimeout(logger, route.Key, target.Config.ActivityTimeout ?? TimeSpan.Zero, error, status);
            if (status == StatusCodes.Status408RequestTimeout)
            {
                await AnswerStalledUploadAsync(context);
            }
            else if (!context.Response.HasStarted)
            {
                await WritePlainAsync(context, status, GatewayTimeoutBody);
            }

            return;
        }
        else if (error is ForwarderError.RequestBodyClient)
        {
            status = StatusCodes.Status400BadRequest;
        }
        else if (error is ForwarderError.RequestTimedOut || IsTimeout(exception))
        {
            status = StatusCodes.Status504GatewayTimeout;
        }
        else
        {
            status = StatusCodes.Status502BadGateway;
        }

        if (status == ClientClosedRequest)
        {
            Log.ClientClosedRequest(logger, route.Key);
            if (!context.Response.HasStarted)
            {
                context.Response.StatusCode = ClientClosedRequest;
            }

            return;
        }

        if (status == StatusCodes.Status400BadRequest)
        {
            // The client's own request body broke off or was malformed: its doing, so no warning and no stack trace.
            Log.ClientRequestBodyFailed(logger, route.Key, error, exception);
        }
        else
        {
            Log.UpstreamFailed(logger, target.DestinationPrefix, route.Key, error.ToString(), status, exception);
        }

        if (!context.Response.HasStarted)
        {
            await WritePlainAsync(context, status, status switch
            {
                StatusCodes.Status504GatewayTimeout => GatewayTimeoutBody,
                StatusCodes.Status400BadRequest => BadRequestBody,
                _ => BadGatewayBody,
            });
        }
    }

    /// <summary>
    /// 408, then the connection is closed: the rest of the body is never coming, and Kestrel cannot drain it anyway
    /// while the abandoned read of the forwarder is still pending on it (it would log an error per request).
    /// </summary>
    private static async Task AnswerStalledUploadAsync(HttpContext context)
    {
        if (!context.Response.HasStarted)
        {
            context.Response.Headers.Connection = "close";
            await WritePlainAsync(context, StatusCodes.Status408RequestTimeout, RequestTimeoutBody);
            await context.Response.CompleteAsync();
        }

        context.Abort();
    }

    private static bool IsCanceled(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is OperationCanceledException)
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsTimeout(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is TimeoutException || (e is SocketException socket && socket.SocketErrorCode == SocketError.TimedOut))
            {
                return true;
            }
        }

        return false;
    }

    public static Task WritePlainAsync(HttpContext context, int status, byte[] body)
    {
        var response = context.Response;
        var connection = response.Headers.Connection;
        response.Clear();
        if (!StringValues.IsNullOrEmpty(connection))
        {
            response.Headers.Connection = connection;
        }
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        response.Headers.XContentTypeOptions = "nosniff";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }
}
