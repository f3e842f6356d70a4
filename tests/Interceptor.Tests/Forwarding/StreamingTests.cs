using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>Bodies stream through the interceptor in both directions without being buffered.</summary>
public sealed class StreamingTests
{
    private const string Host = "stream.example.com";
    private const long HundredMegabytes = 100L * 1024 * 1024;

    [Fact]
    public async Task Forward_ServerSentEvents_EachEventArrivesBeforeTheNextIsWritten()
    {
        var gates = Enumerable.Range(0, 3).Select(_ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            context.Response.ContentType = "text/event-stream";
            for (var i = 0; i < gates.Length; i++)
            {
                await context.Response.WriteAsync($"data: event {i}\n\n");
                await context.Response.Body.FlushAsync();
                await gates[i].Task.WaitAsync(context.RequestAborted);
            }
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("sse", upstream.Port, hosts: [Host]));

        using var request = new HttpRequestMessage(HttpMethod.Get, "/events");
        request.Headers.Host = Host;
        using var response = await interceptor.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(body);

        for (var i = 0; i < gates.Length; i++)
        {
            // The upstream writes event i+1 only after this event was read, so buffering anywhere would hang here.
            var line = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal($"data: event {i}", line);
            Assert.Equal("", await reader.ReadLineAsync());
            gates[i].SetResult();
        }

        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
    }

    [Fact]
    public async Task Forward_ChunkedRequestBody_EachPieceReachesUpstreamBeforeTheNextIsSent()
    {
        var arrivals = System.Threading.Channels.Channel.CreateUnbounded<string>();
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            var buffer = new byte[1024];
            int read;
            var all = new StringBuilder();
            while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
            {
                var piece = Encoding.ASCII.GetString(buffer, 0, read);
                all.Append(piece);
                await arrivals.Writer.WriteAsync(piece);
            }

            await context.Response.WriteAsync(all.ToString());
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("echo", upstream.Port, hosts: [Host]));

        var requestBody = new PushStreamContent();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = requestBody };
        request.Headers.Host = Host;
        request.Headers.TransferEncodingChunked = true;
        var sending = interceptor.Client.SendAsync(request);

        var received = new StringBuilder();
        for (var i = 0; i < 3; i++)
        {
            var piece = $"piece-{i};";
            await requestBody.WriteAsync(piece);
            // The next piece is sent only after this one reached the upstream, so any buffering on the way would hang here.
            while (received.Length < (i + 1) * piece.Length)
            {
                received.Append(await arrivals.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(20)));
            }
        }

        requestBody.Complete();
        using var response = await sending.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("piece-0;piece-1;piece-2;", received.ToString());
        Assert.Equal("piece-0;piece-1;piece-2;", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Forward_HundredMegabyteUploadAndDownload_ArriveWholeThroughTheProxy()
    {
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            if (HttpMethods.IsPost(context.Request.Method))
            {
                long total = 0;
                var buffer = new byte[81920];
                int read;
                while ((read = await context.Request.Body.ReadAsync(buffer)) > 0)
                {
                    total += read;
                }

                await context.Response.WriteAsync(total.ToString(System.Globalization.CultureInfo.InvariantCulture));
                return;
            }

            context.Response.ContentLength = HundredMegabytes;
            var chunk = new byte[1024 * 1024];
            for (var sent = 0L; sent < HundredMegabytes; sent += chunk.Length)
            {
                await context.Response.Body.WriteAsync(chunk);
            }
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("bulk", upstream.Port, hosts: [Host]));

        using var upload = new HttpRequestMessage(HttpMethod.Post, "/upload") { Content = new StreamContent(new ZeroStream(HundredMegabytes)) };
        upload.Headers.Host = Host;
        using var uploaded = await interceptor.Client.SendAsync(upload);
        Assert.Equal(HundredMegabytes.ToString(System.Globalization.CultureInfo.InvariantCulture), await uploaded.Content.ReadAsStringAsync());

        using var download = new HttpRequestMessage(HttpMethod.Get, "/download");
        download.Headers.Host = Host;
        using var downloaded = await interceptor.Client.SendAsync(download, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await downloaded.Content.ReadAsStreamAsync();
        long total = 0;
        var buffer = new byte[81920];
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0)
        {
            total += read;
        }

        Assert.Equal(HundredMegabytes, total);
        Assert.Equal(HundredMegabytes, downloaded.Content.Headers.ContentLength);
    }

    /// <summary>Request content the test writes to while the request is in flight.</summary>
    private sealed class PushStreamContent : HttpContent
    {
        private readonly System.Threading.Channels.Channel<string> _pieces = System.Threading.Channels.Channel.CreateUnbounded<string>();

        public ValueTask WriteAsync(string piece) => _pieces.Writer.WriteAsync(piece);

        public void Complete() => _pieces.Writer.Complete();

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            await foreach (var piece in _pieces.Reader.ReadAllAsync())
            {
                await stream.WriteAsync(Encoding.ASCII.GetBytes(piece));
                await stream.FlushAsync();
            }
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    /// <summary>A read-only stream of zeros of a fixed length, so a large upload needs no memory in the test.</summary>
    private sealed class ZeroStream(long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => length;

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = (int)Math.Min(count, length - _position);
            Array.Clear(buffer, offset, n);
            _position += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
