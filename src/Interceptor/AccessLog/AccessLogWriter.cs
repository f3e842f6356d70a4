using System.Text;
using System.Threading.Channels;
using Updraft.Interceptor.Telemetry;

namespace Updraft.Interceptor.AccessLog;

/// <summary>
/// Takes access-log entries from the request path without waiting (a bounded queue; when it is full the entry is
/// dropped and counted in <c>interceptor_access_log_dropped_total</c>) and writes them to stdout in batches from a
/// background task, through <see cref="Console.Out"/>'s lock, so the log lines of the console logger never land
/// inside one. Started first and stopped last, so requests finishing during the drain are still written.
/// </summary>
internal sealed class AccessLogWriter : BackgroundService
{
    public const int Capacity = 8192;

    private const int BatchCharacters = 32 * 1024;

    private readonly Channel<AccessLogEntry> _queue = Channel.CreateBounded<AccessLogEntry>(new BoundedChannelOptions(Capacity)
    {
        SingleReader = true,
        FullMode = BoundedChannelFullMode.Wait, // TryWrite then fails at once, and the entry is counted as dropped
    });

    private readonly TextWriter _output;
    private readonly InterceptorMetrics _metrics;

    public AccessLogWriter(TextWriter output, InterceptorMetrics metrics)
    {
        _output = output;
        _metrics = metrics;
    }

    public void Add(in AccessLogEntry entry)
    {
        if (!_queue.Writer.TryWrite(entry))
        {
            _metrics.AccessLogDropped.Inc();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // What is queued is still written; the loop ends once the queue is empty.
        _queue.Writer.TryComplete();
        if (ExecuteTask is { } running)
        {
            await running.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var reader = _queue.Reader;
        var batch = new StringBuilder(BatchCharacters + 1024);
        while (await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (batch.Length < BatchCharacters && reader.TryRead(out var entry))
            {
                AccessLogFormat.Append(batch, entry);
            }

            try
            {
                _output.Write(batch);
                _output.Flush();
            }
            catch (IOException)
            {
                // stdout closed: the lines cannot go anywhere.
            }

            batch.Clear();
        }
    }
}
