using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Interceptor.Forwarding.Http1;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding.Http1;

/// <summary>
/// <c>KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST</c> and <c>KEDA_HTTP_MAX_IDLE_CONNS</c> on the lean path: after a burst, the
/// upstreams see only as many connections kept open as the caps allow (counted at real Kestrel upstreams).
/// </summary>
public sealed class IdleConnectionLimitTests
{
    private const string Lean = Http1Forwarder.Variable;

    [Fact]
    public async Task PerHostCap2_After10ConcurrentRequests_UpstreamSeesAtMost2ConnectionsKeptOpen()
    {
        await using var upstream = await ConnectionCountingUpstream.StartAsync(holdUntil: 10);
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port, hosts: ["app.example.com"]),
            new Dictionary<string, string?> { [Lean] = "true", ["KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST"] = "2" });

        await SendConcurrentlyAsync(interceptor, "app.example.com", 10);

        Assert.Equal(10, upstream.Accepted); // the burst did need 10 connections
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(upstream.Open <= 2), "the upstream sees at most 2 connections open");
        Assert.Equal(2, upstream.Open);
        Assert.Equal(2, Pool(interceptor).IdleCount);

        // The two kept are reused: the next requests open nothing new.
        for (var i = 0; i < 4; i++)
        {
            using var response = await interceptor.GetAsync("app.example.com", "/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        Assert.Equal(10, upstream.Accepted);
    }

    [Fact]
    public async Task TotalCap3_AcrossTwoUpstreams_AtMost3ConnectionsKeptOpenInAll()
    {
        await using var first = await ConnectionCountingUpstream.StartAsync(holdUntil: 5);
        await using var second = await ConnectionCountingUpstream.StartAsync(holdUntil: 5);
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.Documents(
                Routes.InterceptorRoute("one", first.Port, hosts: ["one.example.com"]),
                Routes.InterceptorRoute("two", second.Port, hosts: ["two.example.com"])),
            new Dictionary<string, string?> { [Lean] = "true", ["KEDA_HTTP_MAX_IDLE_CONNS"] = "3", ["KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST"] = "200" });

        await Task.WhenAll(SendConcurrentlyAsync(interceptor, "one.example.com", 5), SendConcurrentlyAsync(interceptor, "two.example.com", 5));

        Assert.Equal(10, first.Accepted + second.Accepted);
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(first.Open + second.Open <= 3), "the upstreams see at most 3 connections open in all");
        Assert.Equal(3, first.Open + second.Open);
        Assert.Equal(3, Pool(interceptor).IdleCount);
    }

    [Fact]
    public async Task Zero_MeansGoDefaults_PerHost2_TotalUnlimited()
    {
        await using var upstream = await ConnectionCountingUpstream.StartAsync(holdUntil: 1);
        await using var interceptor = await TestInterceptor.StartAsync(
            Routes.InterceptorRoute("app", upstream.Port),
            new Dictionary<string, string?> { [Lean] = "true", ["KEDA_HTTP_MAX_IDLE_CONNS"] = "0", ["KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST"] = "0" });

        Assert.Equal(UpstreamConnectionPool.DefaultMaxIdlePerEndpoint, Pool(interceptor).MaxIdlePerEndpoint);
        Assert.Equal(0, Pool(interceptor).MaxIdleTotal);
    }

    [Theory]
    [InlineData("KEDA_HTTP_MAX_IDLE_CONNS", "-1")]
    [InlineData("KEDA_HTTP_MAX_IDLE_CONNS_PER_HOST", "many")]
    public async Task BadValue_StartupFailsNamingIt(string variable, string value)
    {
        var failure = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(
            () => TestInterceptor.StartAsync(Routes.InterceptorRoute("app", TestUpstream.FreePort()), new Dictionary<string, string?> { [variable] = value }));

        var problem = Assert.Single(failure.Failures);
        Assert.StartsWith(variable, problem, StringComparison.Ordinal);
        Assert.Contains("0 or more", problem, StringComparison.Ordinal);
    }

    private static UpstreamConnectionPool Pool(TestInterceptor interceptor) => interceptor.Services.GetRequiredService<UpstreamConnectionPool>();

    private static async Task SendConcurrentlyAsync(TestInterceptor interceptor, string host, int count)
    {
        var responses = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => interceptor.GetAsync(host, "/")));
        foreach (var response in responses)
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("ok", await response.Content.ReadAsStringAsync());
            response.Dispose();
        }
    }

    /// <summary>
    /// A Kestrel upstream that counts the connections it accepted and those still open, and holds the first
    /// <c>holdUntil</c> requests until that many are in (so a burst needs that many connections).
    /// </summary>
    private sealed class ConnectionCountingUpstream : IAsyncDisposable
    {
        private readonly TaskCompletionSource _allIn = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly int _holdUntil;
        private TestUpstream _server = null!;
        private int _accepted;
        private int _open;
        private int _arrived;

        private ConnectionCountingUpstream(int holdUntil) => _holdUntil = holdUntil;

        public int Port => _server.Port;

        public int Accepted => Volatile.Read(ref _accepted);

        public int Open => Volatile.Read(ref _open);

        public static async Task<ConnectionCountingUpstream> StartAsync(int holdUntil)
        {
            var upstream = new ConnectionCountingUpstream(holdUntil);
            upstream._server = await TestUpstream.StartAppAsync(
                app => app.Run(context => upstream.AnswerAsync(context)),
                listen => listen.Use(next => upstream.CountAsync(next)));
            return upstream;
        }

        public ValueTask DisposeAsync() => _server.DisposeAsync();

        private ConnectionDelegate CountAsync(ConnectionDelegate next) => async connection =>
        {
            Interlocked.Increment(ref _accepted);
            Interlocked.Increment(ref _open);
            try
            {
                await next(connection);
            }
            finally
            {
                Interlocked.Decrement(ref _open);
            }
        };

        private async Task AnswerAsync(HttpContext context)
        {
            if (Interlocked.Increment(ref _arrived) >= _holdUntil)
            {
                _allIn.TrySetResult();
            }

            await _allIn.Task.WaitAsync(TimeSpan.FromSeconds(30), context.RequestAborted);
            await context.Response.WriteAsync("ok", context.RequestAborted);
        }
    }
}
