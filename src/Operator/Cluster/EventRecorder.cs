using System.Globalization;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Telemetry;

namespace Updraft.Operator.Cluster;

/// <summary>
/// Writes Kubernetes Events (<c>v1</c>) for what a user must see in <c>kubectl describe</c>: children created or put
/// back, and failures with their reason. Callers record only changes, never every reconcile. A failed write is
/// logged and otherwise ignored: an Event is never worth failing a reconcile for.
/// </summary>
internal sealed class EventRecorder(ObjectWriter writer, TimeProvider time, ILogger<EventRecorder> logger)
{
    public const string Component = "updraft-operator";

    /// <summary>Room for the suffix within the 253 characters an object name may have.</summary>
    private const int MaxNamePrefix = 220;

    public Task NormalAsync(InvolvedObject subject, string reason, string message, CancellationToken cancellationToken) =>
        RecordAsync(subject, "Normal", reason, message, cancellationToken);

    public Task WarningAsync(InvolvedObject subject, string reason, string message, CancellationToken cancellationToken) =>
        RecordAsync(subject, "Warning", reason, message, cancellationToken);

    private async Task RecordAsync(InvolvedObject subject, string type, string reason, string message, CancellationToken cancellationToken)
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
        try
        {
            await writer.CreateAsync(ApiResource.Events, subject.Namespace, body, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            Log.EventFailed(logger, reason, subject.Kind, subject.Key, e.Message);
        }
    }
}
