using System.Net;
using System.Net.Sockets;
using System.Text;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding.Http1;

/// <summary>
/// An upstream that answers each request with the raw bytes scripted for its path (<c>/r/name</c>), on keep-alive
/// connections, and closes the connection after a reply whose script says so. It reads a request's body by its
/// <c>Content-Length</c> (chunked request bodies are not understood) and keeps the bodies of the requests it answered.
/// </summary>
internal sealed class ScriptedUpstream : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly IReadOnlyDictionary<string, ScriptedReply> _replies;
    private readonly Task _loop;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _bodies = new();
    private int _connections;

    public ScriptedUpstream(IReadOnlyDictionary<string, ScriptedReply> replies)
    {
        _replies = replies;
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Connections accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>The bodies (Latin-1) of the requests answered so far, in the order they were answered.</summary>
    public IReadOnlyList<string> AnsweredBodies => [.. _bodies];

    private async Task AcceptLoopAsync()
    {
        var served = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                Interlocked.Increment(ref _connections);
                served.Add(ServeAsync(client));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        await Task.WhenAll(served);
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var reader = new ByteReader(stream, _stop.Token);
                for (var served = 0; ; served++)
                {
                    var head = Encoding.Latin1.GetString(await reader.ReadUntilAsync("\r\n\r\n"u8.ToArray()));
                    var target = head.Split(' ')[1];
                    var name = target.StartsWith("/r/", StringComparison.Ordinal) ? target[3..] : "";
                    if (!_replies.TryGetValue(name, out var reply))
                    {
                        reply = new ScriptedReply("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                    }

                    if (reply.AnswerFirstOnly && served > 0)
                    {
                        return; // closed while the proxy thought it idle: its request gets no answer
                    }

                    if (reply.Continue)
                    {
                        await stream.WriteAsync("HTTP/1.1 100 Continue\r\n\r\n"u8.ToArray(), _stop.Token);
                    }

                    var body = !reply.AnswerOnTheHead && ContentLength(head) is var length and > 0 ? await reader.ReadExactlyAsync(length) : [];

                    if (reply.Reset)
                    {
                        client.Client.LingerState = new LingerOption(true, 0);
                        return;
                    }

                    _bodies.Enqueue(Encoding.Latin1.GetString(body));
                    await stream.WriteAsync(Encoding.Latin1.GetBytes(reply.Bytes), _stop.Token);
                    if (reply.Close)
                    {
                        return;
                    }
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or SocketException or EndOfStreamException)
            {
                // The proxy closed its connection (as it does with an idle one at the end), or the test is over.
            }
        }
    }

    private static int ContentLength(string head)
    {
        foreach (var line in head.Split("\r\n"))
        {
            if (line.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            {
                return int.Parse(line["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}

/// <param name="Bytes">What the upstream writes (Latin-1), exactly.</param>
/// <param name="Close">Close the connection after writing.</param>
/// <param name="Reset">Write nothing and reset the connection.</param>
/// <param name="AnswerFirstOnly">Answer only a connection's first request; close it on the next without answering.</param>
/// <param name="AnswerOnTheHead">Answer without reading the request's body (as a server refusing it does).</param>
/// <param name="Continue">Write <c>100 Continue</c> as soon as the head has arrived (as a server reading the body does).</param>
internal sealed record ScriptedReply(string Bytes, bool Close = false, bool Reset = false, bool AnswerFirstOnly = false, bool AnswerOnTheHead = false, bool Continue = false);
