using System.Net.Http.Headers;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;
using Updraft.Interceptor.Hosting;
using Yarp.ReverseProxy.Forwarder;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// Header handling on the way through, as the add-on's <c>httputil.ReverseProxy</c> does it: the original
/// <c>Host</c> is kept; <c>X-Forwarded-For</c> gets the client address appended; <c>X-Forwarded-Host</c> and
/// <c>X-Forwarded-Proto</c> are kept when the client sent them, else set from this hop. YARP's base transformer
/// already drops the standard hop-by-hop headers; this one also drops those a <c>Connection</c> header names
/// (RFC 9110 §7.6.1), in both directions. <c>X-KEDA-HTTP-Cold-Start</c> says whether the request had to wait for
/// its target (<c>true</c>) or not (<c>false</c>); it is absent on responses from a cold-start fallback, as in the add-on.
/// </summary>
internal sealed class ProxyTransformer : HttpTransformer
{
    public const string ColdStartHeader = "X-KEDA-HTTP-Cold-Start";
    private const string XForwardedFor = "X-Forwarded-For";
    private const string XForwardedHost = "X-Forwarded-Host";
    private const string XForwardedProto = "X-Forwarded-Proto";

    private static readonly System.Buffers.SearchValues<char> TokenChars =
        System.Buffers.SearchValues.Create("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");

    private readonly string? _coldStartHeader;

    /// <param name="coldStartHeader">The <c>X-KEDA-HTTP-Cold-Start</c> value to set on responses, or null for none.</param>
    public ProxyTransformer(string? coldStartHeader)
    {
        _coldStartHeader = coldStartHeader;
    }

    public override async ValueTask TransformRequestAsync(HttpContext httpContext, HttpRequestMessage proxyRequest, string destinationPrefix, CancellationToken cancellationToken)
    {
        await base.TransformRequestAsync(httpContext, proxyRequest, destinationPrefix, cancellationToken);
        var request = httpContext.Request;
        var headers = proxyRequest.Headers;

        RemoveConnectionListed(request.Headers[HeaderNames.Connection], headers, proxyRequest.Content?.Headers);

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
    }

    public override async ValueTask<bool> TransformResponseAsync(HttpContext httpContext, HttpResponseMessage? proxyResponse, CancellationToken cancellationToken)
    {
        var proxied = await base.TransformResponseAsync(httpContext, proxyResponse, cancellationToken);
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
                // keep-alive, close and upgrade are handled by the transports themselves.
                if (token.AsSpan().IndexOfAnyExcept(TokenChars) < 0
                    && !token.Equals("keep-alive", StringComparison.OrdinalIgnoreCase)
                    && !token.Equals("close", StringComparison.OrdinalIgnoreCase)
                    && !token.Equals("upgrade", StringComparison.OrdinalIgnoreCase))
                {
                    headers.Remove(token);
                    contentHeaders?.Remove(token);
                }
            }
        }
    }
}

/// <summary>One transformer per kind of forward, so choosing the cold-start header costs nothing per request.</summary>
/// <param name="coldStartHeader"><c>KEDA_HTTP_ENABLE_COLD_START_HEADER</c>.</param>
internal sealed class ProxyTransformers(bool coldStartHeader)
{
    /// <summary>The target was ready on arrival.</summary>
    public ProxyTransformer Warm { get; } = new(coldStartHeader ? "false" : null);

    /// <summary>The request waited for the target.</summary>
    public ProxyTransformer Cold { get; } = new(coldStartHeader ? "true" : null);

    /// <summary>Sent to the cold-start fallback: no header.</summary>
    public ProxyTransformer Fallback { get; } = new(null);
}
