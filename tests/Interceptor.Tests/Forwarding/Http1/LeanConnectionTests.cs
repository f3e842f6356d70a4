using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Updraft.Interceptor.Forwarding.Http1;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding.Http1;

/// <summary>The lean path's upstream connections: kept alive, not reused when they cannot be, retried when stale.</summary>
public sealed class LeanConnectionTests
{
    private const string Host = "app.example.com";
    private static readonly Dictionary<string, string?> Lean = new() { [Http1Forwarder.Variable] = "true" };

    [Fact]
    public async Task SequentialRequests_ShareOneUpstreamConnection()
    {
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            ["chunked"] = new("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        for (var i = 0; i < 10; i++)
        {
            using var response = await interceptor.GetAsync(Host, i % 2 == 0 ? "/r/ok" : "/r/chunked");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(1, upstream.Connections);
        Assert.Equal(1, Pool(interceptor).OpenedCount);
    }

    [Fact]
    public async Task UpstreamSaysClose_OrSendsTooMuch_ConnectionIsNotReused()
    {
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["close"] = new("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
            ["extra"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA"),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        foreach (var path in new[] { "/r/close", "/r/close", "/r/extra", "/r/extra" })
        {
            using var response = await interceptor.GetAsync(Host, path);
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(4, upstream.Connections);
    }

    [Fact]
    public async Task RequestsWithBodies_WholeSmallStreamedAndChunked_ArriveWholeOverOneConnection()
    {
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            await context.Response.WriteAsync($"{context.Request.Headers.TransferEncoding} {body.Length} {Convert.ToHexString(SHA256.HashData(body.ToArray()))[..16]}");
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);
        var large = RandomNumberGenerator.GetBytes(300_000);

        foreach (var (content, chunked, bytes) in new (HttpContent, bool, byte[])[]
        {
            (new ByteArrayContent("small"u8.ToArray()), false, "small"u8.ToArray()),
            (new ByteArrayContent(large), false, large),
            (new StreamContent(new MemoryStream(large)), true, large), // no length: HttpClient sends it chunked
            (new ByteArrayContent([]), false, []),
        })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(interceptor.ProxyUri, "/upload")) { Content = content };
            request.Headers.Host = Host;
            if (chunked)
            {
                request.Headers.TransferEncodingChunked = true;
            }

            using var response = await interceptor.Client.SendAsync(request);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal($"{(chunked ? "chunked" : "")} {bytes.Length} {Convert.ToHexString(SHA256.HashData(bytes))[..16]}", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(1, Pool(interceptor).OpenedCount);
    }

    [Fact]
    public async Task UpstreamAnswersBeforeReadingTheBody_ClientGetsTheAnswerAndTheConnectionIsNotReused()
    {
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["too-large"] = new("HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nbig!", AnswerOnTheHead: true),
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        // Most of the announced body never comes: the upstream answers on the head alone.
        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"POST /r/too-large HTTP/1.1\r\nHost: {Host}\r\nContent-Length: 1000000\r\n\r\n" + new string('x', 1000));
        Assert.Equal(413, response.Status);
        Assert.Equal("big!", response.Body);

        // The upstream's connection still had body bytes coming: it is not handed to the next request.
        using var next = await interceptor.GetAsync(Host, "/r/ok");
        Assert.Equal("ok", await next.Content.ReadAsStringAsync());
        Assert.Equal(2, Pool(interceptor).OpenedCount);
    }

    [Fact]
    public async Task UpstreamAnswersWhileAWholeBodyStreams_ClientConnectionStaysUsable()
    {
        // The body send is stopped mid-read: the read must end, or Kestrel cannot drain the rest of the body and closes
        // the client's connection under its next request.
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["too-large"] = new("HTTP/1.1 413 Content Too Large\r\nContent-Length: 4\r\n\r\nbig!", AnswerOnTheHead: true),
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        for (var i = 0; i < 5; i++)
        {
            using (var refused = await PostAsync(interceptor, "/r/too-large", new ByteArrayContent(new byte[200_000])))
            {
                Assert.Equal(HttpStatusCode.RequestEntityTooLarge, refused.StatusCode);
                Assert.Equal("big!", await refused.Content.ReadAsStringAsync());
            }

            using var next = await PostAsync(interceptor, "/r/ok", new StringContent("after"));
            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        }

        interceptor.Logs.AssertNoWarnings();
    }

    [Fact]
    public async Task UpstreamClosesAnIdleConnection_NextRequestStillSucceeds()
    {
        // The upstream closes each connection after answering, without saying so: the proxy pools a connection that
        // is (or is about to be) closed, and must not turn that into a 502.
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", Close: true),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        for (var i = 0; i < 20; i++)
        {
            using var response = await interceptor.GetAsync(Host, "/r/ok");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(20, upstream.Connections);
    }

    [Fact]
    public async Task PooledConnectionClosedWhenTheRequestArrives_RequestGoesOutAgainOnANewOne()
    {
        // The upstream reads the second request on a connection and closes it unanswered, as a server whose
        // keep-alive timer fired at that moment does: nothing was answered, so the request is sent again, once.
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", AnswerFirstOnly: true),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        for (var i = 0; i < 5; i++)
        {
            using var response = await interceptor.GetAsync(Host, "/r/ok");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
        }

        Assert.Equal(5, upstream.Connections);
    }

    [Fact]
    public async Task PooledConnectionClosedWhenASmallBodyArrives_RequestAndBodyGoOutAgain_Once()
    {
        // A small body went out with the head in one send, so the whole request can be sent again on a new connection.
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", AnswerFirstOnly: true),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        var sent = Enumerable.Range(0, 5).Select(i => $"payload-{i}-" + new string('x', 1000)).ToList();
        foreach (var body in sent)
        {
            using var response = await PostAsync(interceptor, "/r/ok", new StringContent(body));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(sent, upstream.AnsweredBodies);
        Assert.Equal(5, upstream.Connections);
    }

    [Fact]
    public async Task PooledConnectionClosedWhileAStreamedBodyGoesOut_Is502_AndTheNextRequestSucceeds()
    {
        // Part of a streamed body may be gone with the closed connection: it cannot be sent again, so the request fails.
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", AnswerFirstOnly: true),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        using (var first = await PostAsync(interceptor, "/r/ok", new StringContent("small")))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var streamed = await PostAsync(interceptor, "/r/ok", new ByteArrayContent(new byte[100_000])))
        {
            Assert.Equal(HttpStatusCode.BadGateway, streamed.StatusCode);
        }

        using (var next = await PostAsync(interceptor, "/r/ok", new StringContent("after")))
        {
            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        }

        Assert.Equal(["small", "after"], upstream.AnsweredBodies);
        Assert.DoesNotContain(interceptor.Logs.Entries, e => e.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task PooledConnectionClosedBeforeTheUpstreams100_RequestWithExpectGoesOutAgain_BodyOnce()
    {
        // With Expect: 100-continue nothing of the body leaves before the upstream's 100, so even a body too large to
        // go with the head is still whole when the pooled connection turns out closed: the request goes out again.
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", AnswerFirstOnly: true, Continue: true),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);
        using (var first = await PostAsync(interceptor, "/r/ok", new StringContent("small")))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        await RequestCounts.WaitForAsync(interceptor, "app", 1); // its connection is back in the pool
        var body = new string('x', 100_000);

        var outcome = await ExpectClient.SendAsync(interceptor.ProxyPort, $"POST /r/ok HTTP/1.1\r\nHost: {Host}\r\nExpect: 100-continue\r\nContent-Length: {body.Length}\r\n\r\n", body);

        Assert.StartsWith("HTTP/1.1 100 Continue / HTTP/1.1 200 OK; body sent: True;", outcome, StringComparison.Ordinal);
        Assert.EndsWith("; ok", outcome, StringComparison.Ordinal);
        Assert.Equal(["small", body], upstream.AnsweredBodies);
        Assert.Equal(2, upstream.Connections);
        Assert.Equal(2, Pool(interceptor).OpenedCount);
    }

    [Theory]
    [InlineData("something")]
    [InlineData("100-continue, something")]
    public async Task ExpectOtherThan100Continue_GoesThroughYarp(string expect)
    {
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        var response = await RawHttp.SendAsync(interceptor.ProxyPort, $"POST /r/ok HTTP/1.1\r\nHost: {Host}\r\nExpect: {expect}\r\nContent-Length: 5\r\n\r\nhello");

        Assert.Equal(200, response.Status);
        Assert.Equal(["hello"], upstream.AnsweredBodies);
        Assert.Equal(0, Pool(interceptor).OpenedCount);
    }

    [Theory]
    [InlineData(true)] // the upstream resets it
    [InlineData(false)] // the upstream sends an answer nobody asked for (late or doubled): the next request would read it as its own
    public async Task IdleConnectionTheUpstreamResetsOrWritesTo_IsNeverHandedOut(bool reset)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var pool = new UpstreamConnectionPool(4, 0, TimeProvider.System);
        var endpoint = pool.For("http://127.0.0.1:" + port);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPAddress.Loopback, port);
        using var accepted = await listener.AcceptSocketAsync();
        var connection = new UpstreamConnection(socket, endpoint);
        pool.Return(connection);
        Assert.False(connection.ReadAheadEnded);

        if (reset)
        {
            accepted.LingerState = new LingerOption(true, 0);
            accepted.Close();
        }
        else
        {
            await accepted.SendAsync("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), SocketFlags.None);
        }

        // The read posted when the connection went idle ends.
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(connection.ReadAheadEnded), "the idle connection's read ends");
        Assert.Null(pool.TakeIdle(endpoint));
        Assert.Throws<ObjectDisposedException>(() => socket.Available);
    }

    [Fact]
    public async Task ResponseLateOnAReusedConnection_Is504_AndTheConnectionIsNotReused()
    {
        // The second request goes out on the first one's pooled connection, whose response read was posted while it
        // was idle: the response-header timeout must still end it.
        var requests = 0;
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            if (Interlocked.Increment(ref requests) == 2)
            {
                await Task.Delay(TimeSpan.FromSeconds(30), context.RequestAborted);
            }

            await context.Response.WriteAsync("ok");
        });
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            new Dictionary<string, string?>(Lean) { ["KEDA_HTTP_RESPONSE_HEADER_TIMEOUT"] = "2s" });

        using (var first = await interceptor.GetAsync(Host, "/"))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        using (var late = await interceptor.GetAsync(Host, "/"))
        {
            Assert.Equal(HttpStatusCode.GatewayTimeout, late.StatusCode);
        }

        using (var third = await interceptor.GetAsync(Host, "/"))
        {
            Assert.Equal(HttpStatusCode.OK, third.StatusCode);
            Assert.Equal("ok", await third.Content.ReadAsStringAsync());
        }

        Assert.Equal(2, Pool(interceptor).OpenedCount);
    }

    [Fact]
    public async Task IdleConnections_CloseAfterTheIdleTimeout_AndThePoolHoldsNoMoreThanItsLimit()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        using var pool = new UpstreamConnectionPool(2, 0, time);
        var endpoint = pool.For("http://127.0.0.1:" + port);
        var sockets = new List<Socket>();
        for (var i = 0; i < 3; i++)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(IPAddress.Loopback, port);
            sockets.Add(socket);
            pool.Return(new UpstreamConnection(socket, endpoint));
        }

        Assert.Equal(2, endpoint.IdleCount);
        Assert.Throws<ObjectDisposedException>(() => sockets[2].Available); // the one over the limit was closed

        time.Advance(UpstreamConnectionPool.IdleTimeout + TimeSpan.FromSeconds(1));
        Assert.Equal(0, endpoint.IdleCount); // the sweep ran
        Assert.All(sockets, s => Assert.Throws<ObjectDisposedException>(() => s.Available));
        Assert.Null(pool.TakeIdle(endpoint));
    }

    [Fact]
    public async Task UpstreamResetsMidHead_Is502_AndTheInterceptorKeepsServing()
    {
        await using var upstream = new ScriptedUpstream(new Dictionary<string, ScriptedReply>
        {
            ["reset"] = new("", Reset: true),
            ["ok"] = new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]), Lean);

        using (var failed = await interceptor.GetAsync(Host, "/r/reset"))
        {
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
        }

        using var response = await interceptor.GetAsync(Host, "/r/ok");
        Assert.Equal("ok", await response.Content.ReadAsStringAsync());
    }

    private static async Task<HttpResponseMessage> PostAsync(TestInterceptor interceptor, string path, HttpContent content)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(interceptor.ProxyUri, path)) { Content = content };
        request.Headers.Host = Host;
        return await interceptor.Client.SendAsync(request);
    }

    private static UpstreamConnectionPool Pool(TestInterceptor interceptor) => interceptor.Services.GetRequiredService<UpstreamConnectionPool>();
}
