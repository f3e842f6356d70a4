using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using Updraft.Shared.Workloads;

namespace Updraft.Local.Replicas;

/// <summary>
/// The port of each replica of one workload: one fixed port, a port of a range, or (no range) one the system picks.
/// A port stays reserved from <see cref="TryReserve"/> until the replica's process has exited and
/// <see cref="Release"/> is called, so two replicas of a workload never get the same port. Thread-safe.
/// </summary>
internal sealed class PortAllocator(PortRange? range)
{
    private const int SystemPickAttempts = 20;

    private readonly Lock _lock = new();
    private readonly HashSet<int> _reserved = [];

    /// <summary>
    /// A port that no replica of this workload holds and that is free to bind on 127.0.0.1 now; false with a message
    /// that says why there is none. The port is checked by binding it and closing the socket, so another program can
    /// still take it before the replica binds it: the replica then fails to listen and is restarted.
    /// </summary>
    public bool TryReserve(out int port, [NotNullWhen(false)] out string? error)
    {
        lock (_lock)
        {
            return range is null ? TryReserveSystemPick(out port, out error) : TryReserveInRange(range, out port, out error);
        }
    }

    public void Release(int port)
    {
        lock (_lock)
        {
            _reserved.Remove(port);
        }
    }

    private bool TryReserveInRange(PortRange ports, out int port, [NotNullWhen(false)] out string? error)
    {
        var inUse = 0;
        for (var candidate = ports.From; candidate <= ports.To; candidate++)
        {
            if (_reserved.Contains(candidate))
            {
                continue;
            }

            if (IsFree(candidate))
            {
                _reserved.Add(candidate);
                port = candidate;
                error = null;
                return true;
            }

            inUse++;
        }

        port = 0;
        var ours = ports.Count - inUse;
        error = ports.Count == 1
            ? (ours == 1 ? $"port {ports.From} is taken by another replica of this workload" : $"port {ports.From} is in use by another program")
            : $"no free port in {ports.From}-{ports.To} ({ours} taken by replicas of this workload, {inUse} in use by other programs)";
        return false;
    }

    private bool TryReserveSystemPick(out int port, [NotNullWhen(false)] out string? error)
    {
        for (var attempt = 0; attempt < SystemPickAttempts; attempt++)
        {
            int candidate;
            try
            {
                using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                candidate = ((IPEndPoint)socket.LocalEndPoint!).Port;
            }
            catch (SocketException e)
            {
                port = 0;
                error = "the system has no free port on 127.0.0.1: " + e.Message;
                return false;
            }

            // A port a replica of ours was handed but has not bound yet looks free to the system.
            if (_reserved.Add(candidate))
            {
                port = candidate;
                error = null;
                return true;
            }
        }

        port = 0;
        error = $"the system picked ports already handed to replicas of this workload {SystemPickAttempts} times";
        return false;
    }

    private static bool IsFree(int port)
    {
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            socket.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
