namespace Updraft.Shared.Routes;

/// <summary>
/// Host normalisation shared by route definitions and request matching. DNS names are case-insensitive, so hosts
/// compare ignoring ASCII case (the add-on compares them case-sensitively, which 404s <c>Foo.example.com</c>); a port
/// and IPv6 brackets are stripped (<c>[::1]:8080</c> → <c>::1</c>), and so is one trailing dot
/// (<c>example.com.</c> is the same name as <c>example.com</c>).
/// </summary>
public static class HostNames
{
    public const string CatchAll = "*";
    public const string WildcardPrefix = "*.";

    /// <summary>The part of a Host header (or <c>:authority</c>) that routing compares. Allocates nothing.</summary>
    public static ReadOnlySpan<char> ForMatching(ReadOnlySpan<char> host)
    {
        if (host.IsEmpty)
        {
            return host;
        }

        if (host[0] == '[')
        {
            var close = host.IndexOf(']');
            host = close > 0 ? host[1..close] : host[1..];
        }
        else
        {
            var colon = host.IndexOf(':');
            // A single colon separates the port; more than one means a bare IPv6 literal.
            if (colon >= 0 && host[(colon + 1)..].IndexOf(':') < 0)
            {
                host = host[..colon];
            }
        }

        if (host.Length > 1 && host[^1] == '.')
        {
            host = host[..^1];
        }

        return host;
    }

    /// <summary>
    /// Normalises a host written in a route: lower-case, port and trailing dot stripped, <c>""</c> → <c>*</c>.
    /// Returns an error message when the host cannot match anything as written.
    /// </summary>
    public static string? TryNormalizeRouteHost(string? host, out string normalized)
    {
        normalized = CatchAll;
        if (string.IsNullOrEmpty(host) || host == CatchAll)
        {
            return null;
        }

        var span = ForMatching(host.AsSpan().Trim());
        if (span.IsEmpty)
        {
            return "is empty after removing the port";
        }

        var isWildcard = span.StartsWith(WildcardPrefix);
        var body = isWildcard ? span[WildcardPrefix.Length..] : span;
        if (body.IsEmpty)
        {
            return "a wildcard needs a domain after '*.', for example *.example.com";
        }

        foreach (var c in body)
        {
            if (c == '*')
            {
                return "'*' is only allowed as the whole leftmost label (*.example.com) or alone (*)";
            }

            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or ':'))
            {
                return $"contains '{c}', which is not allowed in a host name";
            }
        }

        if (body.Contains("..", StringComparison.Ordinal) || body[0] == '.' || body[^1] == '.')
        {
            return "has an empty label";
        }

        // A colon left after the port is stripped belongs to an IPv6 literal; "[a:1]" would become "a:1", which
        // requests compare as host "a" with a port: it could never match.
        if (body.Contains(':') && (isWildcard || !System.Net.IPAddress.TryParse(body, out var address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6))
        {
            return "has a ':' that is neither a port nor part of an IPv6 address";
        }

        normalized = string.Concat(isWildcard ? WildcardPrefix : "", body.ToString().ToLowerInvariant());
        return null;
    }
}
