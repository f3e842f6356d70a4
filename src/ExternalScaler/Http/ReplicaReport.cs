
namespace Updraft.ExternalScaler.Http;

/// <summary>One route's counts as one interceptor replica reported them.</summary>
internal readonly record struct RouteCounts(int Concurrency, long RequestCount);

/// <summary>The latest counts of one interceptor replica.</summary>
/// <param name="InstanceId">The interceptor process's id (stream only; <c>null</c> from <c>/queue</c>).</param>
/// <param name="Routes">Counts by <c>namespace/name</c>; never changed once published.</param>
/// <param name="ReceivedAt">When the scaler received it.</param>
internal sealed record ReplicaReport(string? InstanceId, IReadOnlyDictionary<string, RouteCounts> Routes, DateTimeOffset ReceivedAt);
