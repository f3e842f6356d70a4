using System.Globalization;
using System.Net;

namespace Updraft.Operator.Options;

/// <summary>Where a listener binds, in controller-runtime's form: <c>:8080</c> (every interface) or <c>127.0.0.1:8080</c>.</summary>
/// <param name="Address">Null for every interface.</param>
/// <param name="Port">0 picks a free port.</param>
internal sealed record BindAddress(IPAddress? Address, int Port)
{
    public static bool TryParse(string text, out BindAddress address)
    {
        address = null!;
        var colon = text.LastIndexOf(':');
        if (colon < 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            return false;
        }

        var host = text[..colon];
        if (host.Length == 0)
        {
            address = new BindAddress(null, port);
            return true;
        }

        if (host.StartsWith('[') && host.EndsWith(']'))
        {
            host = host[1..^1];
        }

        if (!IPAddress.TryParse(host, out var ip))
        {
            return false;
        }

        address = new BindAddress(ip, port);
        return true;
    }

    public override string ToString() => Address is null ? ":" + Port.ToString(CultureInfo.InvariantCulture) : Address + ":" + Port.ToString(CultureInfo.InvariantCulture);
}
