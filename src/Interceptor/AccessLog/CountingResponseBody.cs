using System.IO.Pipelines;
using Microsoft.AspNetCore.Http.Features;

namespace Updraft.Interceptor.AccessLog;

/// <summary>The response body as the server gives it, counting the bytes written through its writer or its stream.</summary>
internal sealed class CountingResponseBody : IHttpResponseBodyFeature
{
    private readonly IHttpResponseBodyFeature _inner;
    private long _bytes;

    public CountingResponseBody(IHttpResponseBodyFeature inner)
    {
        _inner = inner;
        Writer = new CountingPipeWriter(inner.Writer, this);
        Stream = new CountingStream(inner.Stream, this);
    }

    public long BytesWritten => _bytes;

    public Stream Stream { get; }

    public PipeWriter Writer { get; }

    public void DisableBuffering() => _inner.DisableBuffering();

    public Task StartAsync(CancellationToken cancellationToken = default) => _inner.StartAsync(cancellationToken);

    public async Task SendFileAsync(string path, long offset, long? count, CancellationToken cancellationToken = default)
    {
        await _inner.SendFileAsync(path, offset, count, cancellationToken);
        _bytes += count ?? new FileInfo(path).Length - offset;
    }

    public Task CompleteAsync() => _inner.CompleteAsync();

    private void Add(long count) => _bytes += count;

    private sealed class CountingPipeWriter(PipeWriter inner, CountingResponseBody owner) : PipeWriter
    {
        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes)
        {
            inner.Advance(bytes);
            owner.Add(bytes);
        }

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override void Complete(Exception? exception = null) => inner.Complete(exception);

        public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default)
        {
            owner.Add(source.Length);
            return inner.WriteAsync(source, cancellationToken);
        }
    }

    private sealed class CountingStream(Stream inner, CountingResponseBody owner) : Stream
    {
        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush() => inner.Flush();

        public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count)
        {
            inner.Write(buffer, offset, count);
            owner.Add(count);
        }

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            inner.Write(buffer);
            owner.Add(buffer.Length);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            owner.Add(count);
            return inner.WriteAsync(buffer, offset, count, cancellationToken);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            owner.Add(buffer.Length);
            return inner.WriteAsync(buffer, cancellationToken);
        }
    }
}
