using Grpc.Core;

namespace Updraft.ExternalScaler.Services;

/// <summary>A metric and its HPA target (an average per replica, as KEDA uses it by default).</summary>
internal readonly record struct MetricTarget(string Name, double Target);

/// <summary>A metric's current value.</summary>
internal readonly record struct MetricReading(string Name, double Value);

/// <summary>The values of a trigger, or why they cannot be read (never a made-up 0).</summary>
internal readonly record struct MetricReadings(IReadOnlyList<MetricReading> Values, StatusCode Error, string? Message)
{
    public bool Succeeded => Message is null;

    public static MetricReadings Fail(StatusCode code, string message) => new([], code, message);
}
