using System.Buffers;
using Microsoft.AspNetCore.Http.Features;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// The request target sent upstream: the client's own bytes, not a re-encoding of the decoded path.
/// </summary>
/// <remarks>
/// Kestrel decodes the path for routing but leaves <c>%2F</c> encoded, so <c>/a%2Fb</c> and <c>/a%252Fb</c> both decode
/// to <c>/a%2Fb</c>; re-encoding that (YARP's default) sends <c>/a%252Fb</c> for both, and two different URLs become
/// one. So when the path has any percent-encoding, the raw path (from the origin-form target, an absolute-form target
/// or h2 <c>:path</c>) is sent as it came, with the same dot segments removed that Kestrel removed before routing
/// (<c>%2E</c> counts as <c>.</c>, as it does there): the upstream's path always decodes to the routed one. Without
/// percent-encoding the decoded path is the raw one, and YARP's default stands. Targets with characters that are not
/// allowed in a URI path or query, or with a broken escape, keep the default too. <c>*</c> (<c>OPTIONS *</c>) has no
/// path and goes out as <c>/</c>: .NET's client cannot send an asterisk-form target.
/// </remarks>
internal static class RequestTarget
{
    private static readonly UriCreationOptions AsGiven = new() { DangerousDisablePathAndQueryCanonicalization = true };

    // RFC 3986 pchar and "/" (path), plus "?" (query); "%" only as the start of an escape, checked separately.
    private static readonly SearchValues<char> PathChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/%");

    private static readonly SearchValues<char> QueryChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@/%?");

    /// <summary>The upstream URI keeping the client's encoding, or null when YARP's default (from the decoded path) is the same request.</summary>
    /// <param name="context">The request.</param>
    /// <param name="destinationPrefix">Scheme, host and port of the upstream, without a path.</param>
    public static Uri? AsSent(HttpContext context, string destinationPrefix)
    {
        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget;
        if (rawTarget is null)
        {
            return null;
        }

        var path = PathOf(rawTarget);
        if (path.IndexOf('%') < 0 || path.ContainsAnyExcept(PathChars) || !EscapesAreValid(path))
        {
            return null;
        }

        var query = context.Request.QueryString.Value ?? "";
        if (query.AsSpan().ContainsAnyExcept(QueryChars) || !EscapesAreValid(query))
        {
            return null;
        }

        var forwardedPath = HasDotSegment(path) ? RemoveDotSegments(path) : path.ToString();
        return new Uri(string.Concat(destinationPrefix.AsSpan().TrimEnd('/'), forwardedPath, query), AsGiven);
    }

    /// <summary>The path of an origin-form (<c>/p?q</c>) or absolute-form (<c>http://h/p?q</c>) target; empty for <c>*</c> and authority-form.</summary>
    internal static ReadOnlySpan<char> PathOf(string rawTarget)
    {
        var target = rawTarget.AsSpan();
        if (target.IsEmpty || target[0] != '/')
        {
            var scheme = target.IndexOf("://", StringComparison.Ordinal);
            if (scheme < 0)
            {
                return [];
            }

            target = target[(scheme + 3)..];
            var pathStart = target.IndexOfAny('/', '?');
            if (pathStart < 0 || target[pathStart] != '/')
            {
                return [];
            }

            target = target[pathStart..];
        }

        var queryStart = target.IndexOf('?');
        return queryStart < 0 ? target : target[..queryStart];
    }

    private static bool EscapesAreValid(ReadOnlySpan<char> text)
    {
        for (var i = text.IndexOf('%'); i >= 0; i = text.IndexOf('%'))
        {
            if (i + 2 >= text.Length || !char.IsAsciiHexDigit(text[i + 1]) || !char.IsAsciiHexDigit(text[i + 2]))
            {
                return false;
            }

            text = text[(i + 3)..];
        }

        return true;
    }

    private static bool HasDotSegment(ReadOnlySpan<char> path)
    {
        foreach (var segment in path.Split('/'))
        {
            if (DotSegment(path[segment]) > 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>1 for <c>.</c>, 2 for <c>..</c> (either dot possibly written <c>%2E</c>), else 0.</summary>
    private static int DotSegment(ReadOnlySpan<char> segment)
    {
        var dots = 0;
        while (!segment.IsEmpty)
        {
            if (segment[0] == '.')
            {
                segment = segment[1..];
            }
            else if (segment.Length >= 3 && segment[0] == '%' && segment[1] == '2' && (segment[2] | 0x20) == 'e')
            {
                segment = segment[3..];
            }
            else
            {
                return 0;
            }

            if (++dots > 2)
            {
                return 0;
            }
        }

        return dots;
    }

    /// <summary>RFC 3986 §5.2.4 on the raw path, as Kestrel does it on the decoded one before routing.</summary>
    private static string RemoveDotSegments(ReadOnlySpan<char> path)
    {
        var output = new List<Range>();
        var endsInDirectory = false;
        var first = true;
        foreach (var segment in path.Split('/'))
        {
            if (first)
            {
                // The empty segment before the leading slash.
                first = false;
                continue;
            }

            endsInDirectory = false;
            switch (DotSegment(path[segment]))
            {
                case 1:
                    endsInDirectory = true;
                    break;
                case 2:
                    if (output.Count > 0)
                    {
                        output.RemoveAt(output.Count - 1);
                    }

                    endsInDirectory = true;
                    break;
                default:
                    output.Add(segment);
                    break;
            }
        }

        var result = new System.Text.StringBuilder(path.Length);
        foreach (var segment in output)
        {
            result.Append('/').Append(path[segment]);
        }

        if (endsInDirectory || result.Length == 0)
        {
            result.Append('/');
        }

        return result.ToString();
    }
}
