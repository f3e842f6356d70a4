using System.Net;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// Wraps YARP's request-body content so every piece read from the client is flushed to the upstream at once.
/// Applied by <see cref="FlushingRequestBodyHandler"/>, below YARP (which forbids replacing the content itself).
/// </summary>
/// <remarks>
/// YARP flushes the outgoing body per write only for gRPC requests; for everything else the pieces wait in
/// <c>SocketsHttpHandler</c>'s connection buffer until it fills or the body ends. A client that streams a request
/// (chunked uploads, NDJSON, a long poll answered per piece) would then stall: the upstream sees nothing until
/// kilobytes have piled up. The flush reaches only that buffer, so large uploads still go out in large writes.
/// </remarks>
internal sealed class FlushingRequestBodyHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Content is { } content and not FlushingRequestContent)
        {
            request.Content = new FlushingRequestContent(content);
        }

        return base.SendAsync(request, cancellationToken);
    }
}

internal sealed class FlushingRequestContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly BodySentClock? _clock;

    /// <param name="inner">YARP's request body.</param>
    /// <param name="clock">Told when the whole body has been sent (the response-header timeout starts then).</param>
    public FlushingRequestContent(HttpContent inner, BodySentClock? clock = null)
    {
        _inner = inner;
        _clock = clock;
        foreach (var header in inner.Headers.NonValidated)
        {
            Headers.TryAddWithoutValidation(header.Key, header.Value);
        }
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        await _inner.CopyToAsync(new FlushOnWriteStream(stream), context, cancellationToken);
        _clock?.BodySent();
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private sealed class FlushOnWriteStream(Stream inner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await inner.WriteAsync(buffer, cancellationToken);
            await inner.FlushAsync(cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            inner.Flush();
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override void Flush() => inner.Flush();

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
