using System.Runtime.InteropServices;

namespace Updraft.Interceptor.Transport;

/// <summary>
/// One thread waiting on one epoll set. Sockets are registered once, edge-triggered for reads and writes, and each
/// event wakes the operation waiting on that direction; its continuation runs here. A registration is named in the
/// kernel by its slot and a generation, so an event that was already fetched for a socket that has since closed (and
/// whose slot was reused) is recognised and dropped.
/// </summary>
internal sealed unsafe class EpollLoop
{
    private const int Capacity = 256;

    private readonly int _epoll;
    private readonly Lock _gate = new();
    private readonly Stack<int> _free = new();
    private EpollSocket?[] _slots = new EpollSocket?[64];
    private int _used;
    private uint _generation;

    public EpollLoop(int index)
    {
        _epoll = LinuxSockets.CreateEpoll();
        var thread = new Thread(Run) { IsBackground = true, Name = $"updraft-epoll-{index}" };
        thread.UnsafeStart();
    }

    /// <summary>The thread that runs this loop, to keep new upstream connections on the loop their request runs on.</summary>
    [ThreadStatic]
    private static EpollLoop? t_current;

    public static EpollLoop? Current => t_current;

    /// <summary>Adds <paramref name="socket"/>; its events arrive from now on.</summary>
    public void Register(EpollSocket socket)
    {
        int slot;
        uint generation;
        lock (_gate)
        {
            if (_free.Count > 0)
            {
                slot = _free.Pop();
            }
            else
            {
                if (_used == _slots.Length)
                {
                    var larger = new EpollSocket?[_slots.Length * 2];
                    _slots.CopyTo(larger, 0);
                    Volatile.Write(ref _slots, larger);
                }

                slot = _used++;
            }

            generation = ++_generation;
            _slots[slot] = socket;
        }

        socket.Registered(this, slot, generation);
        LinuxSockets.Add(
            _epoll,
            (int)socket.Handle.DangerousGetHandle(),
            LinuxSockets.EpollIn | LinuxSockets.EpollOut | LinuxSockets.EpollRdHup | LinuxSockets.EpollEdgeTriggered,
            ((ulong)generation << 32) | (uint)slot);
    }

    /// <summary>Takes <paramref name="socket"/> out before it closes: no event names it after this.</summary>
    public void Unregister(EpollSocket socket, int slot)
    {
        LinuxSockets.Remove(_epoll, (int)socket.Handle.DangerousGetHandle());
        lock (_gate)
        {
            if (ReferenceEquals(_slots[slot], socket))
            {
                _slots[slot] = null;
                _free.Push(slot);
            }
        }
    }

    private void Run()
    {
        t_current = this;
        var events = (byte*)NativeMemory.Alloc((nuint)(Capacity * LinuxSockets.EventSize));
        while (true)
        {
            var count = LinuxSockets.Wait(_epoll, events, Capacity);
            var slots = Volatile.Read(ref _slots);
            for (var i = 0; i < count; i++)
            {
                var data = LinuxSockets.EventData(events, i);
                var slot = (int)(uint)data;
                if (slot >= slots.Length)
                {
                    slots = Volatile.Read(ref _slots);
                }

                var socket = slots[slot];
                if (socket is not null && socket.Generation == (uint)(data >> 32))
                {
                    socket.OnEvents(LinuxSockets.EventFlags(events, i));
                }
            }
        }
    }
}

/// <summary>The process's epoll loops, one per core, created when the first socket needs one.</summary>
internal static class EpollEngine
{
    private static readonly Lazy<EpollLoop[]> s_loops = new(() =>
        Enumerable.Range(0, Math.Max(1, Environment.ProcessorCount)).Select(i => new EpollLoop(i)).ToArray());

    private static int s_next;

    /// <summary>The caller's own loop when it runs on one (a request's upstream connection stays with its request), else the next in turn.</summary>
    public static EpollLoop Pick() =>
        EpollLoop.Current ?? s_loops.Value[(int)((uint)Interlocked.Increment(ref s_next) % (uint)s_loops.Value.Length)];
}
