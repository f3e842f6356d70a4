using System.Net;
using System.Net.Sockets;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>A loopback TCP server that reads a request head, writes fixed bytes and closes: a misbehaving upstream.</summary>
internal sealed class RawTcpServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private RawTcpServer(TcpListener listener, byte[] reply)
    {
        _listener = listener;
        _loop = AcceptLoopAsync(reply);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public static Task<RawTcpServer> StartAsync(byte[] reply)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return Task.FromResult(new RawTcpServer(listener, reply));
    }

    private async Task AcceptLoopAsync(byte[] reply)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                using var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                var stream = client.GetStream();
                var buffer = new byte[8192];
                _ = await stream.ReadAsync(buffer, _stop.Token);
                await stream.WriteAsync(reply, _stop.Token);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or IOException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
