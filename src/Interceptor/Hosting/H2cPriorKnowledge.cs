using System.Buffers;
using System.IO.Pipelines;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Core.Features;

namespace Updraft.Interceptor.Hosting;

/// <summary>
/// Serves HTTP/1.1 and h2c (HTTP/2 with prior knowledge) on one cleartext port, as Go servers do. Kestrel in .NET 10
/// always picks HTTP/1.1 on a cleartext endpoint that allows both (dotnet/aspnetcore#56984), so this connection step
/// looks at the first bytes: when they are the HTTP/2 client preface, it marks the connection as having negotiated
/// <c>h2</c>, which is what Kestrel's protocol selection reads. The listener must allow alternate schemes so the
/// request keeps the client's <c>:scheme</c> (<c>http</c>) instead of the marker's.
/// </summary>
internal static class H2cPriorKnowledge
{
    /// <summary>How long a new connection may stay silent before it is handed on undecided (as HTTP/1.1).</summary>
    private static readonly TimeSpan FirstBytesTimeout = TimeSpan.FromSeconds(30);

    private static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public static void UseHttp1AndH2c(this ListenOptions listen)
    {
        listen.Protocols = HttpProtocols.Http1AndHttp2;
        listen.Use(next => async connection =>
        {
            if (await StartsWithPrefaceAsync(connection.Transport.Input, connection.ConnectionClosed))
            {
                connection.Features.Set<ITlsConnectionFeature>(NegotiatedH2c.Instance);
                connection.Features.Set<ITlsApplicationProtocolFeature>(NegotiatedH2c.Instance);
            }

            await next(connection);
        });
    }

    /// <summary>
    /// <c>https</c> when the connection really is TLS, else <c>http</c>. Use this rather than <c>Request.Scheme</c>,
    /// which on an h2c connection is whatever the client put in <c>:scheme</c>.
    /// </summary>
    public static string TransportScheme(HttpContext context) =>
        context.Features.Get<ITlsConnectionFeature>() is { } tls && tls is not NegotiatedH2c ? "https" : "http";

    /// <summary>Reads without consuming until the bytes match the preface or cannot.</summary>
    internal static async ValueTask<bool> StartsWithPrefaceAsync(PipeReader input, CancellationToken connectionClosed)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(connectionClosed);
        timeout.CancelAfter(FirstBytesTimeout);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(timeout.Token);
                var buffer = result.Buffer;
                var verdict = Compare(buffer);
                if (verdict is not null || result.IsCompleted || result.IsCanceled)
                {
                    input.AdvanceTo(buffer.Start);
                    return verdict == true;
                }

                input.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <returns>true: the preface; false: something else; null: a prefix of the preface so far.</returns>
    private static bool? Compare(ReadOnlySequence<byte> buffer)
    {
        var length = (int)Math.Min(buffer.Length, Preface.Length);
        Span<byte> head = stackalloc byte[Preface.Length];
        buffer.Slice(0, length).CopyTo(head);
        if (!head[..length].SequenceEqual(Preface[..length]))
        {
            return false;
        }

        return length == Preface.Length ? true : null;
    }

    private sealed class NegotiatedH2c : ITlsConnectionFeature, ITlsApplicationProtocolFeature
    {
        public static readonly NegotiatedH2c Instance = new();

        public ReadOnlyMemory<byte> ApplicationProtocol { get; } = "h2"u8.ToArray();

        public X509Certificate2? ClientCertificate
        {
            get => null;
            set => throw new NotSupportedException();
        }

        public Task<X509Certificate2?> GetClientCertificateAsync(CancellationToken cancellationToken) => Task.FromResult<X509Certificate2?>(null);
    }
}
