using System.Buffers;

namespace Updraft.Interceptor.Forwarding;

/// <summary>
/// Whether a request's <c>Host</c> (or h2 <c>:authority</c>) can be forwarded as it is. Kestrel rejects bad
/// characters, but lets through values that are not a valid URI authority: a port above 65535
/// (<c>name:99999</c>), an empty label (<c>a..b</c>), <c>~</c> or <c>!</c> in a name. .NET's client cannot send such a
/// Host: it writes the target's address instead, then the client's value on a second Host line. RFC 9112 §3.2 asks
/// for 400 on an invalid Host, so these requests are answered 400 before routing.
/// </summary>
internal static class HostHeader
{
    public const int MaxPort = 65535;

    // Letters, digits, '-', '_' and dots: names .NET always accepts (given no empty label), checked without allocating.
    private static readonly SearchValues<char> PlainNameChars =
        SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.");

    /// <summary>True when <paramref name="host"/> (empty included: HTTP/1.0 and h2 may omit it) can be sent upstream unchanged.</summary>
    public static bool IsValid(string? host)
    {
        if (string.IsNullOrEmpty(host))
        {
            return true;
        }

        var span = host.AsSpan();
        var colon = span.IndexOf(':');
        var name = colon < 0 ? span : span[..colon];
        if (!name.IsEmpty && name[0] != '.' && !name.ContainsAnyExcept(PlainNameChars) && !name.Contains("..", StringComparison.Ordinal) && IsPlainDnsName(name))
        {
            return colon < 0 || IsPort(span[(colon + 1)..]);
        }

        // Anything else (IPv6 literals, unusual names) is rare: ask the parser .NET's client itself uses for Host.
        return Uri.TryCreate("http://u@" + host + "/", UriKind.Absolute, out _);
    }

    /// <summary>
    /// Labels of 1-63 characters starting with a letter or digit, at most 254 characters (a trailing dot included): DNS
    /// names, which Uri (and so the client) always takes. Fuzzing found names Uri refuses although their characters are
    /// fine (<c>a.b._c</c>, while it takes <c>a._c</c>; a 300-character label); the rare names outside this shape take
    /// the slow path instead of a copy of Uri's rules.
    /// </summary>
    private static bool IsPlainDnsName(ReadOnlySpan<char> name)
    {
        if (name.Length > 254)
        {
            return false;
        }

        var labelStart = 0;
        for (var i = 0; i <= name.Length; i++)
        {
            if (i == name.Length || name[i] == '.')
            {
                if (i - labelStart > 63)
                {
                    return false;
                }

                labelStart = i + 1;
            }
            else if (i == labelStart && !char.IsAsciiLetterOrDigit(name[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Digits with a value up to 65535; empty means the default port (RFC 3986 allows <c>name:</c>).</summary>
    private static bool IsPort(ReadOnlySpan<char> text)
    {
        var port = 0;
        foreach (var c in text)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            port = (port * 10) + (c - '0');
            if (port > MaxPort)
            {
                return false;
            }
        }

        return true;
    }
}
