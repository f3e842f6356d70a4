using System.Collections.Concurrent;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// Remembers, per upstream endpoint (<c>host:port</c>), when a connect was last actively refused, and forgets it on
/// the next successful connect. A request whose deadline passes while its upstream was refusing connections gets
/// 502 (the upstream is down) rather than 504 (the upstream is slow).
/// </summary>
internal sealed class ConnectionFailures(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, long> _refusedAt = new(StringComparer.OrdinalIgnoreCase);

    public void Refused(string endpoint) => _refusedAt[endpoint] = time.GetTimestamp();

    public void Connected(string endpoint) => _refusedAt.TryRemove(endpoint, out _);

    /// <summary>True when a refusal was recorded at or after <paramref name="timestamp"/> (from <see cref="TimeProvider.GetTimestamp"/>).</summary>
    public bool RefusedSince(string endpoint, long timestamp) =>
        !_refusedAt.IsEmpty && _refusedAt.TryGetValue(endpoint, out var at) && at >= timestamp;
}
