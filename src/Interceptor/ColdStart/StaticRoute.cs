using Updraft.Interceptor.Kubernetes;
using Updraft.Interceptor.Routing;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.ColdStart;

/// <summary>
/// One <c>spec.staticRoutes[]</c> entry, evaluated after its route was selected. Its rules are filters, OR-ed: a rule
/// matches when any host matches (exact ignoring case, <c>*.example.com</c> for subdomains at any depth, <c>*</c> or no
/// hosts for all), any path prefix matches at a segment boundary (none: all), and every header requirement holds.
/// </summary>
internal sealed class StaticRoute
{
    private readonly Rule[] _rules;

    public StaticRoute(StaticRouteDefinition definition, string @namespace = "", ConfigMapBodies? bodies = null)
    {
        Mode = definition.Mode;
        Response = new PreparedResponse(definition.Response, StatusCodes.Status200OK, @namespace, bodies);
        _rules = new Rule[definition.Rules.Count];
        for (var i = 0; i < _rules.Length; i++)
        {
            var rule = definition.Rules[i];
            _rules[i] = new Rule([.. rule.Hosts], [.. rule.Paths], [.. rule.Headers]);
        }
    }

    public StaticResponseMode Mode { get; }

    public PreparedResponse Response { get; }

    /// <summary>The first of <paramref name="routes"/> whose rules match the request, or null.</summary>
    public static StaticRoute? FirstMatch(StaticRoute[] routes, HttpRequest request)
    {
        var host = HostNames.ForMatching(request.Host.Value);
        var path = (request.Path.Value ?? "").AsSpan().Trim('/');
        foreach (var route in routes)
        {
            foreach (var rule in route._rules)
            {
                if (rule.Matches(host, path, request.Headers))
                {
                    return route;
                }
            }
        }

        return null;
    }

    private sealed record Rule(string[] Hosts, string[] Paths, HeaderRequirement[] Headers)
    {
        public bool Matches(ReadOnlySpan<char> host, ReadOnlySpan<char> trimmedPath, IHeaderDictionary headers) =>
            HostMatches(host) && PathMatches(trimmedPath) && RouteCandidate.HeadersMatch(Headers, headers);

        private bool HostMatches(ReadOnlySpan<char> host)
        {
            if (Hosts.Length == 0)
            {
                return true;
            }

            foreach (var pattern in Hosts)
            {
                if (pattern == HostNames.CatchAll)
                {
                    return true;
                }

                if (pattern.StartsWith(HostNames.WildcardPrefix, StringComparison.Ordinal))
                {
                    // "*.example.com" matches "a.example.com" and "a.b.example.com", never "example.com".
                    var suffix = pattern.AsSpan(HostNames.WildcardPrefix.Length - 1);
                    if (host.Length > suffix.Length && host.EndsWith(suffix, StringComparison.OrdinalIgnoreCase))
                    {
                        return true;
                    }
                }
                else if (host.Equals(pattern, StringComparison.OrdinalIgnoreCase))
                {
                    return true;
                }
            }

            return false;
        }

        private bool PathMatches(ReadOnlySpan<char> path)
        {
            foreach (var prefix in Paths)
            {
                if (prefix.Length == 0
                    || (path.StartsWith(prefix, StringComparison.Ordinal) && (path.Length == prefix.Length || path[prefix.Length] == '/')))
                {
                    return true;
                }
            }

            return Paths.Length == 0;
        }
    }
}
