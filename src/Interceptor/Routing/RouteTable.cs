using System.Collections.Frozen;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Routing;

/// <summary>
/// An immutable routing snapshot. Built off the hot path from the full route set and published atomically by
/// <see cref="RouteTableHolder"/>; <see cref="Match"/> takes no lock and allocates nothing.
/// </summary>
/// <remarks>
/// Precedence (the add-on's, §4.2 of the reference): the exact host first, then wildcard hosts from most to least
/// specific (<c>*.b.example.com</c> before <c>*.example.com</c>), then the <c>*</c> catch-all. Within a host key the
/// longest path prefix at a segment boundary decides, and among the routes under that prefix the first whose headers
/// match (see <see cref="RouteCandidate.ComparePrecedence"/>). A miss at one host level falls through to the next.
/// Hosts compare ignoring ASCII case; paths compare exactly.
/// </remarks>
internal sealed class RouteTable
{
    private readonly FrozenDictionary<string, PathIndex>.AlternateLookup<ReadOnlySpan<char>> _exactHosts;
    private readonly FrozenDictionary<string, PathIndex>.AlternateLookup<ReadOnlySpan<char>> _wildcardSuffixes;
    private readonly bool _hasWildcards;
    private readonly PathIndex? _catchAll;

    public static RouteTable Empty { get; } = new([]);

    public RouteTable(IReadOnlyList<Route> routes)
    {
        Routes = routes;
        var byKey = new Dictionary<string, Route>(routes.Count, StringComparer.Ordinal);
        var exact = new Dictionary<string, Dictionary<string, List<RouteCandidate>>>(StringComparer.OrdinalIgnoreCase);
        var wildcard = new Dictionary<string, Dictionary<string, List<RouteCandidate>>>(StringComparer.OrdinalIgnoreCase);
        var catchAll = new Dictionary<string, List<RouteCandidate>>(StringComparer.Ordinal);

        foreach (var route in routes)
        {
            byKey[route.Key] = route;
            foreach (var rule in route.Definition.Rules)
            {
                foreach (var host in rule.Hosts)
                {
                    var paths = host == HostNames.CatchAll
                        ? catchAll
                        : host.StartsWith(HostNames.WildcardPrefix, StringComparison.Ordinal)
                            ? GetOrAdd(wildcard, host[HostNames.WildcardPrefix.Length..])
                            : GetOrAdd(exact, host);
                    foreach (var path in rule.Paths)
                    {
                        if (!paths.TryGetValue(path, out var candidates))
                        {
                            paths[path] = candidates = [];
                        }

                        // Rules are OR-ed, so a route may sit here more than once with different header sets.
                        candidates.Add(new RouteCandidate(route, rule.Headers));
                    }
                }
            }
        }

        ByKey = byKey.ToFrozenDictionary(StringComparer.Ordinal);
        _exactHosts = Freeze(exact).GetAlternateLookup<ReadOnlySpan<char>>();
        _wildcardSuffixes = Freeze(wildcard).GetAlternateLookup<ReadOnlySpan<char>>();
        _hasWildcards = wildcard.Count > 0;
        _catchAll = catchAll.Count > 0 ? new PathIndex(catchAll) : null;
    }

    /// <summary>Every route, including those with no rules (they scale but never match).</summary>
    public IReadOnlyList<Route> Routes { get; }

    public FrozenDictionary<string, Route> ByKey { get; }

    /// <param name="host">The Host header or <c>:authority</c> as received; port, brackets and a trailing dot are ignored.</param>
    /// <param name="path">The request path (already dot-segment-normalised by Kestrel).</param>
    /// <param name="headers">The request headers, for header-matched routes.</param>
    public Route? Match(ReadOnlySpan<char> host, ReadOnlySpan<char> path, IHeaderDictionary headers)
    {
        host = HostNames.ForMatching(host);
        path = path.Trim('/');

        if (!host.IsEmpty)
        {
            if (_exactHosts.TryGetValue(host, out var exact) && exact.Match(path, headers) is { } exactRoute)
            {
                return exactRoute;
            }

            if (_hasWildcards)
            {
                // a.b.example.com tries *.b.example.com, *.example.com, *.com: most specific first.
                var suffix = host;
                int dot;
                while ((dot = suffix.IndexOf('.')) >= 0)
                {
                    suffix = suffix[(dot + 1)..];
                    if (suffix.IsEmpty)
                    {
                        break;
                    }

                    if (_wildcardSuffixes.TryGetValue(suffix, out var wildcard) && wildcard.Match(path, headers) is { } wildcardRoute)
                    {
                        return wildcardRoute;
                    }
                }
            }
        }

        return _catchAll?.Match(path, headers);
    }

    private static Dictionary<string, List<RouteCandidate>> GetOrAdd(Dictionary<string, Dictionary<string, List<RouteCandidate>>> hosts, string host)
    {
        if (!hosts.TryGetValue(host, out var paths))
        {
            hosts[host] = paths = new Dictionary<string, List<RouteCandidate>>(StringComparer.Ordinal);
        }

        return paths;
    }

    private static FrozenDictionary<string, PathIndex> Freeze(Dictionary<string, Dictionary<string, List<RouteCandidate>>> hosts)
    {
        var result = new Dictionary<string, PathIndex>(hosts.Count, StringComparer.OrdinalIgnoreCase);
        foreach (var (host, paths) in hosts)
        {
            result.Add(host, new PathIndex(paths));
        }

        return result.ToFrozenDictionary(StringComparer.OrdinalIgnoreCase);
    }
}
