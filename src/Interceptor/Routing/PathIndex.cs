using System.Collections.Frozen;

namespace Updraft.Interceptor.Routing;

/// <summary>
/// The path prefixes registered for one host key. A lookup finds the longest prefix that ends at a segment boundary
/// (<c>api</c> matches <c>/api</c>, <c>/api/</c> and <c>/api/v1</c>, never <c>/apix</c>) and then the first candidate
/// under that prefix whose headers match. It never falls back to a shorter prefix when headers do not match: that is
/// the add-on's rule, and it keeps a header-gated route from silently leaking to the host's default route.
/// </summary>
internal sealed class PathIndex
{
    private readonly FrozenDictionary<string, RouteCandidate[]>.AlternateLookup<ReadOnlySpan<char>> _byPrefix;
    private readonly int _maxDepth;

    public PathIndex(Dictionary<string, List<RouteCandidate>> candidatesByPrefix)
    {
        var frozen = new Dictionary<string, RouteCandidate[]>(candidatesByPrefix.Count, StringComparer.Ordinal);
        foreach (var (prefix, candidates) in candidatesByPrefix)
        {
            candidates.Sort(RouteCandidate.ComparePrecedence);
            frozen.Add(prefix, [.. candidates]);
            _maxDepth = Math.Max(_maxDepth, Depth(prefix));
        }

        _byPrefix = frozen.ToFrozenDictionary(StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>();
    }

    /// <param name="trimmedPath">The request path without leading and trailing slashes.</param>
    public Route? Match(ReadOnlySpan<char> trimmedPath, IHeaderDictionary headers)
    {
        var candidates = LongestPrefix(trimmedPath);
        if (candidates is null)
        {
            return null;
        }

        foreach (var candidate in candidates)
        {
            if (candidate.Matches(headers))
            {
                return candidate.Route;
            }
        }

        return null;
    }

    private RouteCandidate[]? LongestPrefix(ReadOnlySpan<char> path)
    {
        // No registered prefix is deeper than _maxDepth segments, so start there instead of at the full path.
        var segments = 0;
        if (_maxDepth == 0)
        {
            path = [];
        }

        for (var i = 0; i < path.Length; i++)
        {
            if (path[i] == '/' && ++segments == _maxDepth)
            {
                path = path[..i];
                break;
            }
        }

        while (true)
        {
            if (_byPrefix.TryGetValue(path, out var candidates))
            {
                return candidates;
            }

            if (path.IsEmpty)
            {
                return null;
            }

            var slash = path.LastIndexOf('/');
            path = slash < 0 ? [] : path[..slash];
        }
    }

    /// <summary>Segments of a trimmed prefix: <c>""</c> → 0, <c>api</c> → 1, <c>api/v1</c> → 2.</summary>
    private static int Depth(string prefix) => prefix.Length == 0 ? 0 : prefix.AsSpan().Count('/') + 1;
}
