using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.ExternalScaler.Tests.Infrastructure;

/// <summary>
/// An interceptor as the add-on builds it: HTTP/1.1 only, <c>/queue</c> and nothing else (so the scaler must fall back
/// from the push stream to polling). Its answer is whatever the test sets.
/// </summary>
internal sealed class FakeInterceptor : IAsyncDisposable
{
    private readonly TestUpstream _server;
    private volatile string _body = "{}";

    private FakeInterceptor(TestUpstream server) => _server = server;

    public string Address => $"127.0.0.1:{_server.Port}";

    public int Polls;

    public static async Task<FakeInterceptor> StartAsync()
    {
        FakeInterceptor? fake = null;
        var server = await TestUpstream.StartAsync(context =>
        {
            if (context.Request.Path != "/queue")
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            Interlocked.Increment(ref fake!.Polls);
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync(fake._body);
        });
        fake = new FakeInterceptor(server);
        return fake;
    }

    /// <summary>Answers with one route's counts.</summary>
    public void Report(string key, int concurrency, long requestCount) =>
        _body = "{\"" + key + "\":{\"Concurrency\":" + concurrency + ",\"RequestCount\":" + requestCount + "}}";

    public void ReportRaw(string body) => _body = body;

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary>Accepts connections and never answers: an interceptor that is wedged.</summary>
internal sealed class SilentServer : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Socket> _held = [];
    private readonly CancellationTokenSource _stop = new();

    public SilentServer()
    {
        _listener.Start();
        _ = AcceptAsync();
    }

    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var socket = await _listener.AcceptSocketAsync(_stop.Token);
                lock (_held)
                {
                    _held.Add(socket);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
        lock (_held)
        {
            foreach (var socket in _held)
            {
                socket.Dispose();
            }
        }

        _stop.Dispose();
    }
}
