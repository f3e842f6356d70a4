using System.Globalization;

namespace Updraft.Shared.Settings;

/// <summary>A peer's address setting: <c>host:port</c>, an IPv6 host in brackets (<c>[::1]:9090</c>).</summary>
public static class HostPortSetting
{
    public const string AllowedForm = "use host:port (IPv6 as [addr]:port)";

    public static bool IsValid(string text)
    {
        var colon = text.LastIndexOf(':');
        var host = colon > 0 ? text[..colon] : "";
        return colon > 0
            && int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            && port is > 0 and <= 65535
            && Uri.CheckHostName(host.Trim('[', ']')) != UriHostNameType.Unknown
            && (!host.Contains(':', StringComparison.Ordinal) || (host.StartsWith('[') && host.EndsWith(']')));
    }
}
