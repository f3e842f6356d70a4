using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Counting;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Counting;

/// <summary>In-flight and total counts per route, as <c>/queue</c> reports them (§1.6 of the add-on reference).</summary>
public sealed class CountingTests
{
    private const string Host = "count.example.com";
    private const string Key = "default/app";

    [Fact]
    public async Task Count_TwoHundredRequestsHeldAtUpstream_ConcurrencyIsExactWhileHeldAndZeroAfter()
    {
        const int requests = 200;
        var arrivals = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            if (Interlocked.Increment(ref arrivals) == requests)
            {
                allArrived.TrySetResult();
            }

            await release.Task.WaitAsync(context.RequestAborted);
            await context.Response.WriteAsync("released");
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        using var client = interceptor.NewClient();

        var pending = Enumerable.Range(0, requests).Select(async i =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/held/{i}");
            request.Headers.Host = Host;
            using var response = await client.SendAsync(request);
            return (response.StatusCode, Body: await response.Content.ReadAsStringAsync());
        }).ToArray();

        try
        {
            await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(60));
            var held = await interceptor.GetQueueAsync();
            Assert.Equal(new QueueEntry(requests, requests), held[Key]);
        }
        finally
        {
            release.TrySetResult();
        }

        var results = await Task.WhenAll(pending);
        Assert.All(results, r => Assert.Equal((HttpStatusCode.OK, "released"), r));
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "every request is released");
        Assert.Equal(new QueueEntry(0, requests), (await interceptor.GetQueueAsync())[Key]);
        Assert.Equal(requests, Volatile.Read(ref arrivals));
    }

    [Fact]
    public async Task Count_UpstreamResetsConnection_ReleasesConcurrencyAndCountsEveryRequest()
    {
        await using var upstream = await TestUpstream.StartAsync(context =>
        {
            context.Abort();
            return Task.CompletedTask;
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var statuses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            using var response = await interceptor.GetAsync(Host, "/");
            return response.StatusCode;
        }));

        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.BadGateway, s));
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "failed requests are released");
        Assert.Equal(new QueueEntry(0, 10), (await interceptor.GetQueueAsync())[Key]);
    }

    [Fact]
    public async Task Count_UpstreamRefusesConnections_ReleasesConcurrencyAndCountsEveryRequest()
    {
        var port = TestUpstream.FreePort();
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", port, hosts: [Host], extraSpec: "timeouts: {request: 300ms}"));

        var statuses = await Task.WhenAll(Enumerable.Range(0, 10).Select(async _ =>
        {
            using var response = await interceptor.GetAsync(Host, "/");
            return response.StatusCode;
        }));

        // A refused connect makes the target not ready: the requests are held as a cold start until their deadline.
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.GatewayTimeout, s));
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "refused requests are released");
        Assert.Equal(new QueueEntry(0, 10), (await interceptor.GetQueueAsync())[Key]);
    }

    [Fact]
    public async Task Count_ClientsAbortWhileHeld_ReleasesConcurrencyAndCountsEveryRequest()
    {
        const int clients = 10;
        var arrivals = 0;
        var allArrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamSawAbort = 0;
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            if (context.Request.Path == "/ok")
            {
                await context.Response.WriteAsync("ok");
                return;
            }

            if (Interlocked.Increment(ref arrivals) == clients)
            {
                allArrived.TrySetResult();
            }

            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            finally
            {
                Interlocked.Increment(ref upstreamSawAbort);
            }
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));

        var sockets = new List<TcpClient>();
        try
        {
            for (var i = 0; i < clients; i++)
            {
                var socket = new TcpClient();
                sockets.Add(socket);
                await socket.ConnectAsync(IPAddress.Loopback, interceptor.ProxyPort);
                await socket.GetStream().WriteAsync(Encoding.ASCII.GetBytes($"GET /held/{i} HTTP/1.1\r\nHost: {Host}\r\n\r\n"));
            }

            await allArrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
            Assert.Equal(new QueueEntry(clients, clients), (await interceptor.GetQueueAsync())[Key]);
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }

        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "aborted requests are released");
        Assert.Equal(new QueueEntry(0, clients), (await interceptor.GetQueueAsync())[Key]);
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref upstreamSawAbort) == clients), "the upstream sees every abort");

        // The route still serves and counts after the aborts.
        using var after = await interceptor.GetAsync(Host, "/ok");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "the last request is released");
        Assert.Equal(new QueueEntry(0, clients + 1), (await interceptor.GetQueueAsync())[Key]);
    }

    [Fact]
    public void RouteCounter_ParallelBeginEnd_ConcurrencyExactAtBarrierAndZeroAfter()
    {
        const int threads = 8;
        const int perThread = 20_000;
        var counter = new RouteCounter();
        var observedAtBarrier = -1;
        using var barrier = new Barrier(threads, _ => observedAtBarrier = counter.Concurrency);

        var workers = Enumerable.Range(0, threads).Select(_ => new Thread(() =>
        {
            // Interleaved pairs first, then a batch held across the barrier.
            for (var i = 0; i < perThread; i++)
            {
                counter.Begin();
                counter.End();
            }

            for (var i = 0; i < perThread; i++)
            {
                counter.Begin();
            }

            barrier.SignalAndWait(TimeSpan.FromSeconds(60));
            for (var i = 0; i < perThread; i++)
            {
                counter.End();
            }
        })).ToList();
        workers.ForEach(t => t.Start());
        workers.ForEach(t => Assert.True(t.Join(TimeSpan.FromSeconds(60))));

        Assert.Equal(threads * perThread, observedAtBarrier);
        Assert.Equal(0, counter.Concurrency);
        Assert.Equal(2L * threads * perThread, counter.RequestCount);
    }

    [Theory]
    [InlineData("unknown.example.com", "/")]
    [InlineData("count.example.com.evil.test", "/api")]
    [InlineData("count.example.com", "/other")]
    [InlineData("count.example.com", "/apix")]
    public async Task Count_RequestMatchesNoRoute_CountedUnderNoRoute(string host, string path)
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], paths: ["/api"]),
            Routes.InterceptorRoute("header", upstream.Port, hosts: ["*.example.com"], headers: [("X-Tenant", "blue")])));

        for (var i = 0; i < 3; i++)
        {
            using var response = await interceptor.GetAsync(host, path);
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }

        using var routed = await interceptor.GetAsync(Host, "/api/x");
        Assert.Equal(HttpStatusCode.OK, routed.StatusCode);

        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())[Key].Concurrency == 0, "the routed request is released");
        var queue = await interceptor.GetQueueAsync();
        Assert.Equal(["default/app", "default/header"], queue.Keys.Order(StringComparer.Ordinal));
        Assert.Equal(new QueueEntry(0, 1), queue["default/app"]);
        Assert.Equal(new QueueEntry(0, 0), queue["default/header"]);
    }
}
