using System.Net;
using System.Net.Sockets;

namespace Updraft.Tests.Common;

/// <summary>Loopback ports for a server a test (or a child process) will start later.</summary>
internal static class LoopbackPorts
{
    // Below Linux's ephemeral range (32768-60999), from which the kernel hands out every port-0 listener and outgoing
    // connection: a port picked here and released is not taken by someone else's bind(0) or connect() before the
    // test's server binds it. A port-0 pick is taken that way under load (a child failed with "address already in use").
    private const int FirstPort = 20000;
    private const int PortCount = 12000;
    private static int _nextPort = Random.Shared.Next(PortCount);

    /// <summary>A loopback port nothing listens on (yet): connects to it are refused until a server starts there.</summary>
    public static int Free()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = FirstPort + (int)((uint)Interlocked.Increment(ref _nextPort) % PortCount);
            try
            {
                using var probe = new TcpListener(IPAddress.Loopback, port);
                probe.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken (another test process uses the same range from its own random start): try the next one.
            }
        }

        throw new InvalidOperationException($"no free loopback port in {FirstPort}-{FirstPort + PortCount - 1} after 200 tries");
    }
}
