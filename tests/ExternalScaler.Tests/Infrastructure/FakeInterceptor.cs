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
