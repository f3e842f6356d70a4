using System.Net;
using System.Net.Sockets;
using Updraft.Local.Replicas;
using Updraft.Shared.Workloads;
using Updraft.Tests.Common;

namespace Updraft.Local.Tests.Replicas;

public sealed class PortAllocatorTests
{
    [Fact]
    public void TryReserve_FixedPort_OneReplicaAtATimeUntilReleased()
    {
        var port = LoopbackPorts.Free();
        var ports = new PortAllocator(new PortRange(port, port));

        Assert.True(ports.TryReserve(out var first, out _));
        Assert.Equal(port, first);
        Assert.False(ports.TryReserve(out _, out var error));
        Assert.Equal($"port {port} is taken by another replica of this workload", error);

        ports.Release(port);
        Assert.True(ports.TryReserve(out var again, out _));
        Assert.Equal(port, again);
    }

    [Fact]
    public void TryReserve_FixedPortAnotherProgramListensOn_InUseError()
    {
        using var listener = Listen(0);
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var ports = new PortAllocator(new PortRange(port, port));

        Assert.False(ports.TryReserve(out _, out var error));
        Assert.Equal($"port {port} is in use by another program", error);
    }

    [Fact]
    public void TryReserve_Range_DistinctFreePortsInTheRangeThenAClearError()
    {
        var from = LoopbackPorts.Free();
        var range = new PortRange(from, from + 4);
        // Another program on one port of the range (or someone else already was: skipped either way).
        TcpListener? squatter = null;
        try
        {
            squatter = Listen(from + 2);
        }
        catch (SocketException)
        {
        }

        try
        {
            var ports = new PortAllocator(range);
            var reserved = new List<int>();
            while (ports.TryReserve(out var port, out var error))
            {
                reserved.Add(port);
                Assert.Null(error);
                Assert.True(reserved.Count <= range.Count);
            }

            Assert.Equal(reserved.Count, reserved.Distinct().Count());
            Assert.All(reserved, port => Assert.InRange(port, range.From, range.To));
            Assert.DoesNotContain(from + 2, reserved);
            Assert.Contains(from, reserved);
            Assert.False(ports.TryReserve(out _, out var exhausted));
            Assert.Equal($"no free port in {from}-{from + 4} ({reserved.Count} taken by replicas of this workload, {range.Count - reserved.Count} in use by other programs)", exhausted);

            ports.Release(from);
            Assert.True(ports.TryReserve(out var again, out _));
            Assert.Equal(from, again);
        }
        finally
        {
            squatter?.Dispose();
        }
    }

    [Fact]
    public void TryReserve_NoRange_SystemPicksDistinctFreePorts()
    {
        var ports = new PortAllocator(null);
        var reserved = new HashSet<int>();
        for (var i = 0; i < 5; i++)
        {
            Assert.True(ports.TryReserve(out var port, out var error), error);
            Assert.InRange(port, 1, 65535);
            Assert.True(reserved.Add(port));
            // Free to bind now: nothing listens on it until the replica does.
            Listen(port).Dispose();
        }
    }

    private static TcpListener Listen(int port)
    {
        var listener = new TcpListener(IPAddress.Loopback, port);
        listener.Start();
        return listener;
    }
}
