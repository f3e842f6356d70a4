using System.Globalization;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Telemetry;

namespace Updraft.Operator.Cluster;

/// <summary>
/// Writes Kubernetes Events (<c>v1</c>) for what a user must see in <c>kubectl describe</c>: children created or put
/// back, and failures with their reason. Callers record only changes, never every reconcile.
/// </summary>
/// <remarks>
/// Events are written by one background loop from a bounded queue, never on a reconcile's path: in a burst the API
/// server's write capacity goes to the objects that make workloads scale, and the Events follow. When the queue is
/// full an Event is dropped and counted. A failed write is logged and otherwise ignored: an Event is never worth
/// failing a reconcile for.
/// </remarks>
internal sealed class EventRecorder(ObjectWriter writer, OperatorMetrics metrics, TimeProvider time, ILogger<EventRecorder> logger)
{
    public const string Component = "updraft-operator";
    public const int Capacity = 4096;

    /// <summary>Room for the suffix within the 253 characters an object name may have.</summary>
    private const int MaxNamePrefix = 220;

    private readonly Channel<(InvolvedObject Subject, string Reason, JsonObject Body)> _queue = Channel.CreateBounded<(InvolvedObject, string, JsonObject)>(new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private int _pending;

    /// <summary>Events queued or being written.</summary>
    public int Pending => Volatile.Read(ref _pending);

    public void Normal(InvolvedObject subject, string reason, string message) => Record(subject, "Normal", reason, message);

    public void Warning(InvolvedObject subject, string reason, string message) => Record(subject, "Warning", reason, message);

    /// <summary>Writes queued Events until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var (subject, reason, body) in _queue.Reader.ReadAllAsync(cancellationToken))
            {
                try
                {
                    await writer.CreateAsync(ApiResource.Events, subject.Namespace, body, cancellationToken);
                }
                catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
                {
                    Log.EventFailed(logger, reason, subject.Kind, subject.Key, e.Message);
                }
                finally
                {
                    Interlocked.Decrement(ref _pending);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
    }

    private void Record(InvolvedObject subject, string type, string reason, string message)
    {
        var now = time.GetUtcNow();
        var timestamp = now.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var involved = new JsonObject
        {
            ["apiVersion"] = subject.ApiVersion,
            ["kind"] = subject.Kind,
            ["namespace"] = subject.Namespace,
            ["name"] = subject.Name,
        };
        if (subject.Uid is not null)
        {
            involved["uid"] = subject.Uid;
        }

        var body = new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Event",
            ["metadata"] = new JsonObject
            {
                // client-go's naming: the subject's name and the time in hexadecimal nanoseconds.
                ["name"] = (subject.Name.Length <= MaxNamePrefix ? subject.Name : subject.Name[..MaxNamePrefix]) + "." + ((now.ToUnixTimeMilliseconds() * 1_000_000) + Random.Shared.Next(0, 1_000_000)).ToString("x", CultureInfo.InvariantCulture),
                ["namespace"] = subject.Namespace,
            },
            ["involvedObject"] = involved,
            ["type"] = type,
            ["reason"] = reason,
            ["message"] = message.Length <= 1024 ? message : message[..1021] + "...",
            ["source"] = new JsonObject { ["component"] = Component },
            ["reportingComponent"] = Component,
            ["reportingInstance"] = Environment.MachineName,
            ["firstTimestamp"] = timestamp,
            ["lastTimestamp"] = timestamp,
            ["count"] = 1,
        };
        Interlocked.Increment(ref _pending);
        if (!_queue.Writer.TryWrite((subject, reason, body)))
        {
            Interlocked.Decrement(ref _pending);
            metrics.EventDropped();
        }
    }
}
