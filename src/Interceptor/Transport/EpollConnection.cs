using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http.Features;

namespace Updraft.Interceptor.Transport;

/// <summary>
/// A client connection accepted by <see cref="EpollListener"/>, as Kestrel sees it: two pipes. The receive loop waits
/// for the loop's event before it takes a buffer and reads, so an idle keep-alive connection holds no buffer and costs
/// no system call; the send loop writes what Kestrel flushes, inline in the flush when the socket takes it all.
/// </summary>
internal sealed class EpollConnection : ConnectionContext, IConnectionIdFeature, IConnectionTransportFeature, IConnectionItemsFeature,
    IConnectionLifetimeFeature, IConnectionEndPointFeature, IMemoryPoolFeature, IConnectionSocketFeature
{
    /// <summary>Kestrel's own minimum read buffer: a request head usually fits in one.</summary>
    private const int MinimumReadBuffer = 2048;

    private static long s_lastId;

    private readonly EpollSocket _socket;
    private readonly DuplexPipe _application;
    private readonly CancellationTokenSource _closed = new();
    private readonly FeatureCollection _features = new();
    private Task _receiving = Task.CompletedTask;
    private Task _sending = Task.CompletedTask;
    private volatile bool _aborted;

    public EpollConnection(Socket socket, MemoryPool<byte> pool, TransportPipeOptions options)
    {
        _socket = new EpollSocket(socket);
        MemoryPool = pool;
        LocalEndPoint = socket.LocalEndPoint;
        RemoteEndPoint = socket.RemoteEndPoint;
        ConnectionId = Interlocked.Increment(ref s_lastId).ToString("x", System.Globalization.CultureInfo.InvariantCulture);
        ConnectionClosed = _closed.Token;
        var input = new Pipe(options.Input(pool));
        var output = new Pipe(options.Output(pool));
        Transport = new DuplexPipe(input.Reader, output.Writer);
        _application = new DuplexPipe(output.Reader, input.Writer);
        _features.Set<IConnectionIdFeature>(this);
        _features.Set<IConnectionTransportFeature>(this);
        _features.Set<IConnectionItemsFeature>(this);
        _features.Set<IConnectionLifetimeFeature>(this);
        _features.Set<IConnectionEndPointFeature>(this);
        _features.Set<IMemoryPoolFeature>(this);
        _features.Set<IConnectionSocketFeature>(this);
    }

    public override string ConnectionId { get; set; }

    public override IFeatureCollection Features => _features;

    public override IDictionary<object, object?> Items { get; set; } = new ConnectionItems();

    public override IDuplexPipe Transport { get; set; }

    public override CancellationToken ConnectionClosed { get; set; }

    public override EndPoint? LocalEndPoint { get; set; }

    public override EndPoint? RemoteEndPoint { get; set; }

    public MemoryPool<byte> MemoryPool { get; }

    public Socket Socket => _socket.Socket;

    public void Start()
    {
        _receiving = ReceiveAsync();
        _sending = SendAsync();
    }

    public override void Abort(ConnectionAbortedException abortReason)
    {
        _aborted = true;
        // The send loop stops, even one waiting for a client that reads nothing, and the receive loop ends.
        _application.Input.CancelPendingRead();
        _socket.Shutdown();
    }

    public override async ValueTask DisposeAsync()
    {
        Transport.Input.Complete();
        Transport.Output.Complete();
        await _sending.ConfigureAwait(false);
        await _receiving.ConfigureAwait(false);
        _socket.Dispose();
        _closed.Dispose();
        await base.DisposeAsync().ConfigureAwait(false);
    }

    private async Task ReceiveAsync()
    {
        var input = _application.Output;
        Exception? error = null;
        try
        {
            while (true)
            {
                // Wait before taking a buffer: an idle connection holds none.
                await _socket.Read.WaitAsync(CancellationToken.None);
                var memory = input.GetMemory(MinimumReadBuffer);
                var read = _socket.TryReceive(memory.Span);
                if (read < 0)
                {
                    continue;
                }

                if (read == 0)
                {
                    break;
                }

                input.Advance(read);
                var flush = await input.FlushAsync();
                if (flush.IsCompleted || flush.IsCanceled)
                {
                    break;
                }
            }
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
        {
            error = _aborted ? null : new ConnectionResetException(e.Message, e);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            error = _aborted ? null : new ConnectionAbortedException(e.Message, e);
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            await input.CompleteAsync(error);
            // Off the loop thread: cancellation callbacks run the request's abort handling.
            ThreadPool.UnsafeQueueUserWorkItem(static source => Cancel(source), _closed, preferLocal: false);
        }
    }

    private async Task SendAsync()
    {
        var output = _application.Input;
        Exception? error = null;
        try
        {
            while (true)
            {
                var result = await output.ReadAsync();
                if (result.IsCanceled)
                {
                    break;
                }

                var buffer = result.Buffer;
                if (!buffer.IsEmpty)
                {
                    await _socket.SendAsync(buffer, CancellationToken.None);
                }

                output.AdvanceTo(buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            error = _aborted ? null : new ConnectionResetException(e.Message, e);
        }
        catch (Exception e)
        {
            error = e;
        }
        finally
        {
            await output.CompleteAsync(error);
            _socket.Shutdown();
        }
    }

    private static void Cancel(CancellationTokenSource source)
    {
        try
        {
            source.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Disposed with the connection.
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }

    private sealed class ConnectionItems : Dictionary<object, object?>;
}

/// <summary>The two pipes' options: Kestrel's buffer limits, and where continuations run.</summary>
/// <param name="Inline">Run Kestrel's request handling on the loop thread that read the request (see <see cref="Hosting.InlineIo"/>).</param>
internal sealed record TransportPipeOptions(bool Inline, long MaxReadBufferSize = 1024 * 1024, long MaxWriteBufferSize = 64 * 1024)
{
    public PipeOptions Input(MemoryPool<byte> pool) => new(
        pool,
        readerScheduler: Inline ? PipeScheduler.Inline : PipeScheduler.ThreadPool,
        writerScheduler: PipeScheduler.Inline,
        pauseWriterThreshold: MaxReadBufferSize,
        resumeWriterThreshold: MaxReadBufferSize / 2,
        useSynchronizationContext: false);

    public PipeOptions Output(MemoryPool<byte> pool) => new(
        pool,
        readerScheduler: PipeScheduler.Inline,
        writerScheduler: Inline ? PipeScheduler.Inline : PipeScheduler.ThreadPool,
        pauseWriterThreshold: MaxWriteBufferSize,
        resumeWriterThreshold: MaxWriteBufferSize / 2,
        useSynchronizationContext: false);
}
