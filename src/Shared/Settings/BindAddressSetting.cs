using System.Net;

namespace Updraft.Shared.Settings;

/// <summary>A listener's address setting: an IP address, <c>localhost</c> (the IPv4 loopback) or <c>*</c> (all interfaces).</summary>
public static class BindAddressSetting
{
    public const string AllInterfaces = "*";

    public const string AllowedForm = "use an IP address, localhost, or * for all interfaces";

    public static bool IsValid(string text) => text is AllInterfaces or "localhost" || IPAddress.TryParse(text, out _);

    /// <summary>The address to listen on; null for all interfaces.</summary>
    /// <exception cref="FormatException">Not a valid setting (start-up validation rejects those first).</exception>
    public static IPAddress? Parse(string text) => text switch
    {
        AllInterfaces => null,
        "localhost" => IPAddress.Loopback,
        _ => IPAddress.Parse(text),
    };
}
