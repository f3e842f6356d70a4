using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Forwarding;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Forwarding;

/// <summary>
/// The connector against a real closed port: whether a refusal counts as "the upstream is down" (502 at the deadline)
/// depends on whether the readiness source sends the request back to wait.
/// </summary>
public sealed class RetryingConnectorTests
{
    [Fact]
    public async Task Refused_StandaloneReadiness_StopsAtOnceAndRecordsNoOutage()
    {
        var port = TestUpstream.FreePort();
        var key = "127.0.0.1:" + port;
        var failures = new ConnectionFailures(TimeProvider.System);
        var readiness = new TcpProbeReadiness(new OptionsWrapper<InterceptorOptions>(new InterceptorOptions()), TimeProvider.System, NullLogger<TcpProbeReadiness>.Instance);
        var connector = new RetryingConnector(TimeSpan.FromSeconds(1), failures, readiness, TimeProvider.System, NullLogger.Instance);
        var before = TimeProvider.System.GetTimestamp();

        var refused = await Assert.ThrowsAsync<EndpointNotReadyException>(async () => await connector.ConnectAsync(new DnsEndPoint("127.0.0.1", port), CancellationToken.None));

        Assert.Equal(key, refused.Endpoint);
        Assert.False(readiness.For(key).IsReady);
        // The request goes back to wait as a cold start; another request still queued for a connection whose deadline
        // passes must get the cold start's 504, so this refusal is not an outage.
        Assert.False(failures.RefusedSince(key, before));
    }

    [Fact]
    public async Task Refused_ReadinessThatKeepsDialling_RecordsTheOutageUntilCancelled()
    {
        var port = TestUpstream.FreePort();
        var key = "127.0.0.1:" + port;
        var failures = new ConnectionFailures(TimeProvider.System);
        var readiness = new KeepsDialling();
        var connector = new RetryingConnector(TimeSpan.FromSeconds(1), failures, readiness, TimeProvider.System, NullLogger.Instance);
        var before = TimeProvider.System.GetTimestamp();
        using var deadline = new CancellationTokenSource();

        var dialling = connector.ConnectAsync(new DnsEndPoint("127.0.0.1", port), deadline.Token).AsTask();
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(readiness.Refusals >= 2), "the connector retries the refused connect");
        await deadline.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => dialling);
        Assert.True(failures.RefusedSince(key, before));
    }

    private sealed class KeepsDialling : IEndpointReadiness
    {
        private int _refusals;

        public int Refusals => Volatile.Read(ref _refusals);

        public EndpointReadiness For(string endpoint) => throw new NotSupportedException();

        public bool ConnectionRefused(string endpoint)
        {
            Interlocked.Increment(ref _refusals);
            return false;
        }

        public void Connected(string endpoint)
        {
        }
    }
}
