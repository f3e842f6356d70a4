using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Updraft.Interceptor.Local;

/// <summary>
/// A <c>host:port</c> from the local replicas feed or <c>UPDRAFT_LOCAL_REPLICAS</c>, checked and in one canonical
/// form: an IPv4 address in dotted-quad form, an IPv6 address in brackets, or a host name (lower-cased); a port from 1
/// to 65535. Anything else (a scheme, a path, a missing or out-of-range port, spaces, <c>127.1</c>) is refused.
/// </summary>
/// <param name="Host">The host without brackets, as the connector names an endpoint.</param>
/// <param name="Port">The port.</param>
/// <param name="IsIPv6">The host is an IPv6 address (written in brackets in a URI).</param>
internal readonly record struct ReplicaAddress(string Host, int Port, bool IsIPv6)
{
    public const string AllowedForm = "host:port, where host is an IPv4 address, an IPv6 address in brackets or a host name, and port is from 1 to 65535";

    private const int MaxLength = 300;

    private static readonly System.Buffers.SearchValues<char> AddressChars = System.Buffers.SearchValues.Create("0123456789.");
    private static readonly System.Buffers.SearchValues<char> LabelChars =
        System.Buffers.SearchValues.Create("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-");
    private const int MaxHostNameLength = 253;

    /// <summary><c>host:port</c> as the connector reports it (no brackets): the key of refusals and readiness.</summary>
    public string Endpoint => Host + ":" + Port.ToString(CultureInfo.InvariantCulture);

    /// <summary><c>host:port</c> as written in a URI (IPv6 in brackets).</summary>
    public string Authority => (IsIPv6 ? "[" + Host + "]" : Host) + ":" + Port.ToString(CultureInfo.InvariantCulture);

    public override string ToString() => Authority;

    public static bool TryParse(string? text, out ReplicaAddress address)
    {
        address = default;
        if (string.IsNullOrEmpty(text) || text.Length > MaxLength)
        {
            return false;
        }

        string host;
        bool ipv6;
        ReadOnlySpan<char> port;
        if (text[0] == '[')
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':'
                || !IPAddress.TryParse(text.AsSpan(1, close - 1), out var ip) || ip.AddressFamily != AddressFamily.InterNetworkV6
                || text.AsSpan(1, close - 1).Contains('%'))
            {
                return false;
            }

            host = ip.ToString();
            ipv6 = true;
            port = text.AsSpan(close + 2);
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0 || text.AsSpan(0, colon).Contains(':'))
            {
                return false;
            }

            if (ParseHost(text.AsSpan(0, colon)) is not { } parsed)
            {
                return false;
            }

            host = parsed;
            ipv6 = false;
            port = text.AsSpan(colon + 1);
        }

        if (port.Length is 0 or > 5 || port.ContainsAnyExceptInRange('0', '9')
            || !int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) || number is < 1 or > 65535)
        {
            return false;
        }

        address = new ReplicaAddress(host, number, ipv6);
        return true;
    }

    /// <summary>A dotted-quad IPv4 address or a host name (RFC 1123 labels), canonical; null when neither.</summary>
    private static string? ParseHost(ReadOnlySpan<char> host)
    {
        if (!host.ContainsAnyExcept(AddressChars) || LastLabelIsNumeric(host))
        {
            // Digits and dots, or a name that ends like an address, can only be a dotted quad ("127.1" is not one).
            return IsDottedQuad(host) && IPAddress.TryParse(host, out var ip) && ip.AddressFamily == AddressFamily.InterNetwork ? ip.ToString() : null;
        }

        if (host.Length > MaxHostNameLength)
        {
            return null;
        }

        foreach (var range in host.Split('.'))
        {
            var label = host[range];
            if (label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-'
                || label.ContainsAnyExcept(LabelChars))
            {
                return null;
            }
        }

        return host.ToString().ToLowerInvariant();
    }

    private static bool LastLabelIsNumeric(ReadOnlySpan<char> host)
    {
        var dot = host.LastIndexOf('.');
        var last = dot < 0 ? host : host[(dot + 1)..];
        return last.Length > 0 && !last.ContainsAnyExceptInRange('0', '9');
    }

    private static bool IsDottedQuad(ReadOnlySpan<char> host)
    {
        var parts = 0;
        foreach (var range in host.Split('.'))
        {
            var part = host[range];
            if (part.Length is 0 or > 3 || (part.Length > 1 && part[0] == '0')
                || !int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value > 255)
            {
                return false;
            }

            parts++;
        }

        return parts == 4;
    }
}
