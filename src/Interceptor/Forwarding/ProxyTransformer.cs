using System.Net;
using System.Net.Http.Headers;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Telemetry;
using Yarp.ReverseProxy.Forwarder;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// Header handling on the way through, as the add-on's <c>httputil.ReverseProxy</c> does it: the original
/// <c>Host</c> is kept; <c>X-Forwarded-For</c> gets the client address appended; <c>X-Forwarded-Host</c> and
/// <c>X-Forwarded-Proto</c> are kept when the client sent them, else set from this hop. YARP's base transformer
/// already drops the standard hop-by-hop headers; this one also drops those a <c>Connection</c> header names
/// (RFC 9110 §7.6.1), in both directions, content headers included, as Go's ReverseProxy does. Three names are never
/// dropped that way: <c>Host</c>, and <c>Content-Length</c> and <c>Transfer-Encoding</c>, which frame the body and are
/// the transport's to set (Go's transport, too, frames a request body from its length, not from the header).
/// <c>X-KEDA-HTTP-Cold-Start</c> says whether the request had to wait for its target (<c>true</c>) or not
/// (<c>false</c>); it is absent on responses from a cold-start fallback, as in the add-on.
/// </summary>
/// <remarks>
/// The request target goes out as the client sent it (<see cref="RequestTarget"/>). On the way back, a 204 or 205 loses
/// any <c>Content-Length</c> the upstream gave it (it has no body, RFC 9110 §8.6); and when an HTTP/1.1 upstream answers
/// an HTTP/2 client's WebSocket request (extended CONNECT, forwarded as an Upgrade) with a 2xx instead of 101, the
/// client gets 502: a 2xx would tell it that the tunnel is open.
/// </remarks>
internal sealed class ProxyTransformer : HttpTransformer
{
    public const string ColdStartHeader = "X-KEDA-HTTP-Cold-Start";
    private const string XForwardedFor = "X-Forwarded-For";
    private const string XForwardedHost = "X-Forwarded-Host";
    private const string XForwardedProto = "X-Forwarded-Proto";

    private static readonly System.Buffers.SearchValues<char> TokenChars =
        System.Buffers.SearchValues.Create("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

    private readonly string? _coldStartHeader;
    private readonly ProxyTracing _tracing;
    private readonly ILogger _logger;

    /// <param name="coldStartHeader">The <c>X-KEDA-HTTP-Cold-Start</c> value to set on responses, or null for none.</param>
    /// <param name="tracing">With tracing on, the proxy span's trace context replaces the client's trace headers.</param>
    /// <param name="logger">For the Debug line on a WebSocket upgrade the upstream refused.</param>
    public ProxyTransformer(string? coldStartHeader, ProxyTracing tracing, ILogger logger)
    {
        _coldStartHeader = coldStartHeader;
        _tracing = tracing;
        _logger = logger;
    }

    /// <summary>The <c>X-KEDA-HTTP-Cold-Start</c> value this transformer sets, or null.</summary>
    public string? ColdStartHeaderValue => _coldStartHeader;

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        var request = httpContext.Request;
        var headers = proxyRequest.Headers;

        RemoveConnectionListed(request.Headers[HeaderNames.Connection], headers, proxyRequest.Content?.Headers);
        if (RequestTarget.AsSent(httpContext, destinationPrefix) is { } uri)
        {
            // YARP only builds the URI from the decoded path when none is set.
            proxyRequest.RequestUri = uri;
        }

        var clientAddress = httpContext.Connection.RemoteIpAddress;
        if (clientAddress is not null)
        {
            var client = (clientAddress.IsIPv4MappedToIPv6 ? clientAddress.MapToIPv4() : clientAddress).ToString();
            var prior = request.Headers[XForwardedFor];
            headers.Remove(XForwardedFor);
            // Several incoming lines are joined with ", " as Go's ReverseProxy does (StringValues.ToString() uses ",").
            headers.TryAddWithoutValidation(XForwardedFor, StringValues.IsNullOrEmpty(prior) ? client : string.Join(", ", [.. prior, client]));
        }

        if (!request.Headers.ContainsKey(XForwardedHost) && request.Host.HasValue)
        {
            headers.TryAddWithoutValidation(XForwardedHost, request.Host.Value);
        }

        if (!request.Headers.ContainsKey(XForwardedProto))
        {
            headers.TryAddWithoutValidation(XForwardedProto, H2cPriorKnowledge.TransportScheme(httpContext));
        }

        // The client's trace headers were copied above; the handler's own propagation is off (ForwarderClients), so
        // these are the only ones the upstream gets.
        if (_tracing.CurrentProxySpan is { } span)
        {
            ProxyTracing.Inject(span, headers);
        }
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        if (proxyResponse is not null && IsRefusedWebSocketUpgrade(httpContext, proxyResponse))
        {
            var status = (int)proxyResponse.StatusCode;
            Log.WebSocketNotUpgraded(_logger, proxyResponse.RequestMessage?.RequestUri?.Authority ?? "", status, StatusCodes.Status502BadGateway);

            await ProxyHandler.WritePlainAsync(httpContext, StatusCodes.Status502BadGateway, ProxyHandler.BadGatewayBody);
            return false;
        }

        var proxied = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
        if (proxyResponse is { StatusCode: HttpStatusCode.NoContent or HttpStatusCode.ResetContent })
        {
            // These have no body whatever length the upstream claimed (.NET's client still reads one for a 205), and
            // Kestrel refuses a length or a body with them.
            httpContext.Response.Headers.ContentLength = null;
            proxied = false;
        }

        if (proxyResponse is not null && proxyResponse.Headers.NonValidated.TryGetValues(HeaderNames.Connection, out var connection))
        {
            foreach (var value in connection)
            {
                foreach (var token in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    httpContext.Response.Headers.Remove(token);
                }
            }
        }

        if (_coldStartHeader is not null)
        {
            httpContext.Response.Headers[ColdStartHeader] = _coldStartHeader;
        }

        return proxied;
    }

    /// <summary>
    /// An HTTP/2 client's WebSocket request went to an HTTP/1.1 upstream as an Upgrade, and the upstream answered 2xx
    /// without switching protocols (it does not speak WebSocket there).
    /// </summary>
    private static bool IsRefusedWebSocketUpgrade(HttpContext httpContext, HttpResponseMessage proxyResponse) =>
        (int)proxyResponse.StatusCode is >= 200 and < 300
        && proxyResponse.Version.Major == 1
        && HttpMethods.IsConnect(httpContext.Request.Method)
        && ProxyHandler.IsWebSocketConnect(httpContext);

    private static void RemoveConnectionListed(StringValues connection, HttpRequestHeaders headers, HttpContentHeaders? contentHeaders)
    {
        if (StringValues.IsNullOrEmpty(connection)
            || (connection.Count == 1 && (string.Equals(connection[0], "keep-alive", StringComparison.OrdinalIgnoreCase) || string.Equals(connection[0], "close", StringComparison.OrdinalIgnoreCase))))
        {
            return;
        }

        foreach (var value in connection)
        {
            if (value is null)
            {
                continue;
            }

            foreach (var token in value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                if (token.AsSpan().IndexOfAnyExcept(TokenChars) >= 0 || IsNeverConnectionListed(token))
                {
                    continue;
                }

                // Each collection throws on names that belong to the other (Content-Type on the request headers,
                // Accept on the content headers), so only the one that holds the name is asked to remove it.
                if (headers.NonValidated.Contains(token))
                {
                    headers.Remove(token);
                }

                if (contentHeaders is not null && contentHeaders.NonValidated.Contains(token))
                {
                    contentHeaders.Remove(token);
                }
            }
        }
    }

    /// <summary>
    /// Names a client's <c>Connection</c> header cannot remove: keep-alive, close and upgrade are the transports' own;
    /// Host must reach the upstream; Content-Length and Transfer-Encoding frame the body being forwarded.
    /// </summary>
    private static bool IsNeverConnectionListed(string token) =>
        token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
        || token.Equals("close", StringComparison.OrdinalIgnoreCase)
        || token.Equals("upgrade", StringComparison.OrdinalIgnoreCase)
        || token.Equals(HeaderNames.Host, StringComparison.OrdinalIgnoreCase)
        || token.Equals(HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase)
        || token.Equals(HeaderNames.TransferEncoding, StringComparison.OrdinalIgnoreCase);
}

/// <summary>One transformer per kind of forward, so choosing the cold-start header costs nothing per request.</summary>
/// <param name="coldStartHeader"><c>KEDA_HTTP_ENABLE_COLD_START_HEADER</c>.</param>
/// <param name="tracing">Shared by the three.</param>
/// <param name="logger">Shared by the three.</param>
internal sealed class ProxyTransformers(bool coldStartHeader, ProxyTracing tracing, ILogger<ProxyTransformer> logger)
{
    /// <summary>The target was ready on arrival.</summary>
    public ProxyTransformer Warm { get; } = new(coldStartHeader ? "false" : null, tracing, logger);

    /// <summary>The request waited for the target.</summary>
    public ProxyTransformer Cold { get; } = new(coldStartHeader ? "true" : null, tracing, logger);

    /// <summary>Sent to the cold-start fallback: no header.</summary>
    public ProxyTransformer Fallback { get; } = new(null, tracing, logger);
}
