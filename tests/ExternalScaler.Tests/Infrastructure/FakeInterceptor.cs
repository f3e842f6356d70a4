using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.V1;

namespace Updraft.ExternalScaler.Tests.Infrastructure;

/// <summary>
/// A fake interceptor replica whose counts are whatever the test sets. By default it is one as the add-on builds it:
/// HTTP/1.1 only, <c>/queue</c> and nothing else (so the scaler must fall back from the push stream to polling).
/// With <c>stream: true</c> it serves Updraft's count stream (h2c) instead, sending a full snapshot every interval.
/// </summary>
internal sealed class FakeInterceptor : IAsyncDisposable
{
    private readonly string _instanceId = Guid.NewGuid().ToString("N");
    private TestUpstream _server = null!;
    private volatile string _body = "{}";
    private volatile RouteCount[] _counts = [];
    private int _openStreams;
    private int _streams;

    private FakeInterceptor(IPAddress address) => Ip = address;

    public IPAddress Ip { get; }

    public int Port => _server.Port;

    public string Address => $"{Ip}:{_server.Port}";

    public int Polls;

    /// <summary>Count streams open now (stream mode).</summary>
    public int OpenStreams => Volatile.Read(ref _openStreams);

    /// <summary>Count streams opened so far (stream mode).</summary>
    public int Streams => Volatile.Read(ref _streams);

    /// <param name="address">A loopback address (default 127.0.0.1); several replicas may share a port on different addresses.</param>
    /// <param name="port">The port; 0 picks a free one.</param>
    /// <param name="stream">Serve the count stream (HTTP/2 only) instead of <c>/queue</c>.</param>
    public static async Task<FakeInterceptor> StartAsync(IPAddress? address = null, int port = 0, bool stream = false)
    {
        var fake = new FakeInterceptor(address ?? IPAddress.Loopback);
        fake._server = stream
            ? await TestUpstream.StartAppAsync(
                app => app.MapGrpcService<CountsService>(),
                listen => listen.Protocols = HttpProtocols.Http2,
                services =>
                {
                    services.AddGrpc();
                    services.AddSingleton(new CountsService(fake));
                },
                port,
                fake.Ip)
            : await TestUpstream.StartAppAsync(
                app => app.Run(fake.AnswerQueueAsync),
                listen => listen.Protocols = HttpProtocols.Http1,
                port: port,
                address: fake.Ip);
        return fake;
    }

    /// <summary>Answers with one route's counts.</summary>
    public void Report(string key, int concurrency, long requestCount)
    {
        _body = "{\"" + key + "\":{\"Concurrency\":" + concurrency + ",\"RequestCount\":" + requestCount + "}}";
        _counts = [new RouteCount { Key = key, Concurrency = concurrency, RequestCount = requestCount }];
    }

    /// <summary>The <c>/queue</c> body as given (queue mode only).</summary>
    public void ReportRaw(string body) => _body = body;

    private Task AnswerQueueAsync(HttpContext context)
    {
        if (context.Request.Path != "/queue")
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        }

        Interlocked.Increment(ref Polls);
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(_body);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private sealed class CountsService(FakeInterceptor fake) : InterceptorCounts.InterceptorCountsBase
    {
        public override async Task WatchCounts(WatchCountsRequest request, IServerStreamWriter<CountsSnapshot> responseStream, ServerCallContext context)
        {
            var interval = TimeSpan.FromMilliseconds(Math.Max(request.IntervalMs, 10));
            Interlocked.Increment(ref fake._streams);
            Interlocked.Increment(ref fake._openStreams);
            try
            {
                for (ulong sequence = 1; !context.CancellationToken.IsCancellationRequested; sequence++)
                {
                    var snapshot = new CountsSnapshot { InstanceId = fake._instanceId, Sequence = sequence, Full = true };
                    snapshot.Routes.AddRange(fake._counts);
                    await responseStream.WriteAsync(snapshot, context.CancellationToken);
                    await Task.Delay(interval, context.CancellationToken);
                }
            }
            catch (OperationCanceledException)
            {
                // The scaler closed the stream.
            }
            finally
            {
                Interlocked.Decrement(ref fake._openStreams);
            }
        }
    }
}
