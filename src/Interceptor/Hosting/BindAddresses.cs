using System.Net;

namespace Updraft.Interceptor.Hosting;

internal static class BindAddresses
{
    /// <summary><c>*</c> → null (all interfaces); <c>localhost</c> → the IPv4 loopback; else the IP as given.</summary>
    public static IPAddress? Parse(string value) => value switch
    {
        "*" => null,
        "localhost" => IPAddress.Loopback,
        _ => IPAddress.Parse(value),
    };
}
