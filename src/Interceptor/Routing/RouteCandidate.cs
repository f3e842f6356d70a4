using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Routing;

/// <summary>One route registered under one (host, path prefix) key, with the header requirements of its rule.</summary>
internal sealed class RouteCandidate
{
    private readonly HeaderRequirement[] _headers;

    public RouteCandidate(Route route, IReadOnlyList<HeaderRequirement> headers)
    {
        Route = route;
        _headers = [.. headers];
        ValueMatcherCount = 0;
        foreach (var header in _headers)
        {
            if (header.Value is not null)
            {
                ValueMatcherCount++;
            }
        }
    }

    public Route Route { get; }

    public int HeaderMatcherCount => _headers.Length;

    public int ValueMatcherCount { get; }

    /// <summary>Every requirement holds: names compare ignoring case, values exactly (any one of repeated values).</summary>
    public bool Matches(IHeaderDictionary requestHeaders) => HeadersMatch(_headers, requestHeaders);

    /// <summary>Every requirement holds (AND); shared with static-route rules.</summary>
    public static bool HeadersMatch(HeaderRequirement[] requirements, IHeaderDictionary requestHeaders)
    {
        foreach (var requirement in requirements)
        {
            if (!requestHeaders.TryGetValue(requirement.Name, out var values) || values.Count == 0)
            {
                return false;
            }

            if (requirement.Value is null)
            {
                continue;
            }

            var found = false;
            for (var i = 0; i < values.Count; i++)
            {
                if (string.Equals(values[i], requirement.Value, StringComparison.Ordinal))
                {
                    found = true;
                    break;
                }
            }

            if (!found)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// The add-on's order for routes sharing a key: more header matchers first, then more value matchers, then the
    /// oldest creation timestamp (document order when there is none), then namespace and name in descending order.
    /// </summary>
    public static int ComparePrecedence(RouteCandidate? a, RouteCandidate? b)
    {
        if (ReferenceEquals(a, b))
        {
            return 0;
        }

        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var byHeaders = b.HeaderMatcherCount.CompareTo(a.HeaderMatcherCount);
        if (byHeaders != 0)
        {
            return byHeaders;
        }

        var byValues = b.ValueMatcherCount.CompareTo(a.ValueMatcherCount);
        if (byValues != 0)
        {
            return byValues;
        }

        var x = a.Route.Definition;
        var y = b.Route.Definition;
        var byAge = (x.CreationTimestamp ?? DateTimeOffset.MaxValue).CompareTo(y.CreationTimestamp ?? DateTimeOffset.MaxValue);
        if (byAge != 0)
        {
            return byAge;
        }

        // Document order stands in for a timestamp only when neither has one; equal timestamps (Kubernetes keeps
        // whole seconds) go on to namespace and name, as in the add-on.
        if (x.CreationTimestamp is null && y.CreationTimestamp is null)
        {
            var byOrder = x.SourceOrder.CompareTo(y.SourceOrder);
            if (byOrder != 0)
            {
                return byOrder;
            }
        }

        var byNamespace = string.CompareOrdinal(y.Namespace, x.Namespace);
        return byNamespace != 0 ? byNamespace : string.CompareOrdinal(y.Name, x.Name);
    }
}
