using System.Diagnostics;
using System.Net.Sockets;
using Microsoft.Extensions.Primitives;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Telemetry;
using Yarp.ReverseProxy.Forwarder;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// The request path: route lookup → count → forward → record. Requests are never retried once sent.
/// </summary>
/// <remarks>
/// Outcomes (the add-on's matrix, §4.3 of the reference): no route → 404 <c>text/plain</c>; the request deadline or
/// the response-header timeout passes → 504, except that a deadline passing while the upstream was refusing
/// connections is 502; reset, EOF, refused connections after the retry limit and unparseable responses → 502; the
/// client going away → 499 (recorded and logged at Debug, never a 5xx); upstream 4xx/5xx pass through untouched.
/// </remarks>
internal sealed class ProxyHandler(
    RouteTableHolder tables,
    IHttpForwarder forwarder,
    ProxyTransformer transformer,
    ConnectionFailures connectionFailures,
    InterceptorMetrics metrics,
    ReadinessState readiness,
    TimeProvider time,
    ILogger<ProxyHandler> logger)
{
    public const int ClientClosedRequest = 499;

    private static readonly byte[] NotFoundBody = "Not Found\n"u8.ToArray();
    private static readonly byte[] BadGatewayBody = "Bad Gateway\n"u8.ToArray();
    private static readonly byte[] GatewayTimeoutBody = "Gateway Timeout\n"u8.ToArray();
    private static readonly byte[] BadRequestBody = "Bad Request\n"u8.ToArray();

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var request = context.Request;
        if (readiness.IsDraining && HttpProtocol.IsHttp11(request.Protocol))
        {
            // Shutting down: finish this request, then let the client reconnect to another replica.
            context.Response.Headers.Connection = "close";
        }

        var route = tables.Current.Match(request.Host.Value, request.Path.Value, request.Headers);
        if (route is null)
        {
            Log.NoRoute(logger, request.Host.Value ?? "", request.Path.Value ?? "");
            await WritePlainAsync(context, StatusCodes.Status404NotFound, NotFoundBody);
            metrics.Unrouted.Record(request.Method, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
            return;
        }

        route.Counter.Begin();
        try
        {
            await ForwardAsync(context, route);
        }
        finally
        {
            route.Counter.End();
            route.Metrics.Record(request.Method, context.Response.StatusCode, Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private async Task ForwardAsync(HttpContext context, Route route)
    {
        var upstream = route.Upstream;
        var clientAborted = context.RequestAborted;
        var sentAt = time.GetTimestamp();
        CancellationTokenSource? deadline = null;
        if (upstream.RequestTimeout > TimeSpan.Zero)
        {
            // YARP links everything to RequestAborted, so the request deadline rides on it.
            deadline = CancellationTokenSource.CreateLinkedTokenSource(clientAborted);
            deadline.CancelAfter(upstream.RequestTimeout);
            context.RequestAborted = deadline.Token;
        }

        try
        {
            var error = await forwarder.SendAsync(context, upstream.DestinationPrefix, upstream.Invoker, upstream.RequestConfig, transformer);
            if (error != ForwarderError.None)
            {
                context.RequestAborted = clientAborted;
                var deadlinePassed = deadline is not null && deadline.IsCancellationRequested && !clientAborted.IsCancellationRequested;
                await ReportErrorAsync(context, route, error, deadlinePassed, sentAt);
            }
        }
        finally
        {
            deadline?.Dispose();
        }
    }

    private async Task ReportErrorAsync(HttpContext context, Route route, ForwarderError error, bool deadlinePassed, long sentAt)
    {
        var exception = context.Features.Get<IForwarderErrorFeature>()?.Exception;
        int status;
        if (context.RequestAborted.IsCancellationRequested)
        {
            status = ClientClosedRequest;
        }
        else if (deadlinePassed)
        {
            status = connectionFailures.RefusedSince(route.Upstream.Endpoint, sentAt) ? StatusCodes.Status502BadGateway : StatusCodes.Status504GatewayTimeout;
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

        Log.UpstreamFailed(logger, route.Upstream.DestinationPrefix, route.Key, error.ToString(), status, exception);
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

    private static Task WritePlainAsync(HttpContext context, int status, byte[] body)
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
