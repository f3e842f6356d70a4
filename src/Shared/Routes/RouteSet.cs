namespace Updraft.Shared.Routes;

/// <summary>Combines routes from both CRDs into the set the data path sees.</summary>
public static class RouteSet
{
    /// <summary>
    /// An <c>InterceptorRoute</c> and an <c>HTTPScaledObject</c> with the same namespace/name are one route: the
    /// InterceptorRoute wins (the add-on's rule, which lets users migrate object by object). Result is ordered by key.
    /// </summary>
    public static IReadOnlyList<RouteDefinition> Merge(IEnumerable<RouteDefinition> routes)
    {
        var byKey = new Dictionary<string, RouteDefinition>(StringComparer.Ordinal);
        foreach (var route in routes)
        {
            if (!byKey.TryGetValue(route.Key, out var existing)
                || (existing.Source == RouteSourceKind.HttpScaledObject && route.Source == RouteSourceKind.InterceptorRoute))
            {
                byKey[route.Key] = route;
            }
        }

        var merged = new List<RouteDefinition>(byKey.Values);
        merged.Sort(static (a, b) => string.CompareOrdinal(a.Key, b.Key));
        return merged;
    }
}
