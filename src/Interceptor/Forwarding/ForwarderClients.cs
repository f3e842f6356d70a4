using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Tls;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// The one outbound connection pool, configured as a proxy needs it (no proxy, redirects, decompression or cookies;
/// unbounded connections per server; several HTTP/2 connections per server), and one invoker per distinct
/// response-header timeout on top of it.
/// </summary>
internal sealed class ForwarderClients : IDisposable
{
    /// <summary>How long a request with <c>Expect: 100-continue</c> waits for the upstream's 100 before its body goes anyway (both paths; Go's default).</summary>
    public static readonly TimeSpan Expect100ContinueTimeout = TimeSpan.FromSeconds(1);

    private readonly SocketsHttpHandler _pool;
    private readonly HttpMessageHandler _handler;
    private readonly HttpMessageInvoker _withoutTimeout;
    private readonly ConcurrentDictionary<TimeSpan, HttpMessageInvoker> _byTimeout = new();

    public ForwarderClients(
        IOptions<InterceptorOptions> options,
        ConnectionFailures failures,
        IEndpointReadiness readiness,
        CertificateStore certificates,
        TimeProvider time,
        ILogger<ForwarderClients> logger)
    {
        var connector = new RetryingConnector(options.Value.ConnectTimeout, failures, readiness, time, logger);
        Connector = connector;
        _pool = new SocketsHttpHandler
        {
            UseProxy = false,
            AllowAutoRedirect = false,
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            EnableMultipleHttp2Connections = true,
            ActivityHeadersPropagator = null,
            // Go's transport defaults, which the add-on inherits.
            PooledConnectionIdleTimeout = TimeSpan.FromSeconds(90),
            Expect100ContinueTimeout = Expect100ContinueTimeout,
            ConnectTimeout = Timeout.InfiniteTimeSpan, // RetryingConnector bounds attempts itself
            ConnectCallback = connector.ConnectAsync,
            // Kestrel accepts UTF-8 in request header values; without this the client refuses to send them (a 502 the
            // client caused). UTF-8 out gives the upstream the bytes the client sent.
            RequestHeaderEncodingSelector = static (_, _) => System.Text.Encoding.UTF8,
            // Only requests that came in over TLS go out over TLS (SNI: the target's host name).
            SslOptions = new SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                    UpstreamCertificates.Accept(certificate, errors, options.Value.Tls.SkipVerify, certificates),
            },
        };
        _handler = new FlushingRequestBodyHandler(_pool);
        _withoutTimeout = new HttpMessageInvoker(_handler, disposeHandler: false);
    }

    /// <summary>The connect both forwarding paths dial with.</summary>
    public RetryingConnector Connector { get; }

    /// <summary>The invoker that applies <paramref name="responseHeaderTimeout"/> (zero: none).</summary>
    public HttpMessageInvoker ForResponseHeaderTimeout(TimeSpan responseHeaderTimeout) =>
        responseHeaderTimeout <= TimeSpan.Zero
            ? _withoutTimeout
            : _byTimeout.GetOrAdd(responseHeaderTimeout, static (timeout, handler) =>
                new HttpMessageInvoker(new ResponseHeaderTimeoutHandler(timeout, handler), disposeHandler: false), _handler);

    public void Dispose()
    {
        _withoutTimeout.Dispose();
        _handler.Dispose(); // and the pool beneath it
    }
}
