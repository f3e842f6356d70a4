using Updraft.Shared.Settings;

namespace Updraft.Interceptor.Transport;

/// <summary>Who reads and writes the proxy's client and upstream connections.</summary>
internal enum TransportKind
{
    /// <summary>.NET's sockets: Kestrel's socket transport, and <c>Socket</c> for upstream connections.</summary>
    Sockets,

    /// <summary>The <see cref="EpollEngine"/> (Linux): a read only after epoll says data came.</summary>
    Epoll,
}

/// <summary><c>UPDRAFT_TRANSPORT</c>: <c>sockets</c> or <c>epoll</c> (Linux on x86-64 or arm64 only).</summary>
internal static class TransportSetting
{
    public const string Variable = "UPDRAFT_TRANSPORT";

    public static TransportKind Read(SettingReader reader, List<string> problems, TransportKind fallback)
    {
        var text = reader.Text(Variable);
        switch (text?.ToLowerInvariant())
        {
            case null:
                return fallback;
            case "sockets":
                return TransportKind.Sockets;
            case "epoll" when LinuxSockets.IsSupported:
                return TransportKind.Epoll;
            case "epoll":
                problems.Add($"{Variable}=epoll needs Linux on x86-64 or arm64; use sockets here");
                return TransportKind.Sockets;
            default:
                problems.Add($"{Variable}=\"{text}\" is not valid; use sockets or epoll");
                return fallback;
        }
    }
}
