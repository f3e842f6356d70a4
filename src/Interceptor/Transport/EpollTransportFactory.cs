using System.Buffers;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.Options;

namespace Updraft.Interceptor.Transport;

/// <summary>
/// Kestrel's transport for TCP listeners when <c>UPDRAFT_TRANSPORT=epoll</c>: connections are accepted by .NET's
/// sockets (rare) and then read and written by the <see cref="EpollEngine"/> (every request). Other endpoint kinds
/// (Unix sockets, handles) stay with Kestrel's socket transport.
/// </summary>
internal sealed class EpollTransportFactory(IOptions<InterceptorOptions> options, IMemoryPoolFactory<byte> pools)
    : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly ConcurrentQueue<EndPoint> _bound = new();

    /// <summary>The endpoints this transport listens on (Kestrel chose it over its socket transport for them).</summary>
    public IReadOnlyCollection<EndPoint> Bound => _bound;

    public bool CanBind(EndPoint endpoint) => options.Value.Transport == TransportKind.Epoll && endpoint is IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var address = (IPEndPoint)endpoint;
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (address.Address.Equals(IPAddress.IPv6Any))
            {
                socket.DualMode = true;
            }

            socket.Bind(address);
            socket.Listen(512);
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            socket.Dispose();
            throw new AddressInUseException(e.Message, e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        _bound.Enqueue(socket.LocalEndPoint!);
        var pool = pools.Create(new MemoryPoolOptions { Owner = "updraft-epoll" });
        return new ValueTask<IConnectionListener>(new EpollListener(socket, pool, new TransportPipeOptions(options.Value.InlineIo)));
    }
}

/// <summary>A bound TCP listener handing accepted connections to the epoll transport.</summary>
internal sealed class EpollListener(Socket socket, MemoryPool<byte> pool, TransportPipeOptions pipes) : IConnectionListener
{
    public EndPoint EndPoint { get; } = socket.LocalEndPoint!;

    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        while (true)
        {
            Socket accepted;
            try
            {
                accepted = await socket.AcceptAsync(cancellationToken);
            }
            catch (Exception e) when (e is ObjectDisposedException || (e is SocketException s && s.SocketErrorCode == SocketError.OperationAborted))
            {
                // Unbound.
                return null;
            }
            catch (SocketException)
            {
                // A connection reset before it was accepted: take the next one.
                continue;
            }

            accepted.NoDelay = true;
            var connection = new EpollConnection(accepted, pool, pipes);
            connection.Start();
            return connection;
        }
    }

    public ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        socket.Dispose();
        return ValueTask.CompletedTask;
    }

    public ValueTask DisposeAsync()
    {
        socket.Dispose();
        pool.Dispose();
        return ValueTask.CompletedTask;
    }
}
