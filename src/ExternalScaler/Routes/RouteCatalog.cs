using System.Collections.Frozen;
using Updraft.Shared.Routes;

namespace Updraft.ExternalScaler.Routes;

/// <summary>
/// The routes the scaler knows, as one immutable snapshot replaced whenever its source (a routes file, or the
/// cluster's InterceptorRoutes and HTTPScaledObjects) changes. Readers take no lock.
/// </summary>
internal sealed class RouteCatalog(TimeProvider time)
{
    private Snapshot _current = new([], loaded: false);
    private TaskCompletionSource _changed = NewSignal();

    public RouteCatalog()
        : this(TimeProvider.System)
    {
    }

    public Snapshot Current => Volatile.Read(ref _current);

    /// <summary>Completes at the next <see cref="Publish"/>; for streams that follow route changes.</summary>
    public Task Changed => Volatile.Read(ref _changed).Task;

    public void Publish(IReadOnlyList<RouteDefinition> routes)
    {
        Volatile.Write(ref _current, new Snapshot(routes, loaded: true) { BuiltAt = time.GetUtcNow() });
        Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal sealed class Snapshot
    {
        public Snapshot(IReadOnlyList<RouteDefinition> routes, bool loaded)
        {
            Routes = routes;
            Loaded = loaded;
            var byKey = new Dictionary<string, RouteDefinition>(routes.Count, StringComparer.Ordinal);
            foreach (var route in routes)
            {
                byKey[route.Key] = route;
            }

            ByKey = byKey.ToFrozenDictionary(StringComparer.Ordinal);
        }

        public IReadOnlyList<RouteDefinition> Routes { get; }

        /// <summary>False until the source delivered its first complete set.</summary>
        public bool Loaded { get; }

        public FrozenDictionary<string, RouteDefinition> ByKey { get; }

        /// <summary>When this snapshot was published (each rebuild, even of unchanged routes, is a new one); null before the first.</summary>
        public DateTimeOffset? BuiltAt { get; init; }
    }
}
