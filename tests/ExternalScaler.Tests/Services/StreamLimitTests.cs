using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;
using Scaler = Updraft.Protos.ExternalScaler.ExternalScaler;

namespace Updraft.ExternalScaler.Tests.Services;

/// <summary>
/// The caps on open server streams, per connection and in all, seen by real gRPC clients on their own connections:
/// a stream over a cap ends at once with <c>ResourceExhausted</c> naming the setting, and a closed stream frees its slot.
/// </summary>
public sealed class StreamLimitTests
{
    private static readonly ScaledObjectRef App = Ref("so", ("interceptorRoute", "app"));

    [Fact]
    public async Task StreamIsActive_OneMoreThanTheConnectionsLimit_ResourceExhaustedNamingTheSettingUntilOneCloses()
    {
        await using var harness = await StartAsync(RoutesYaml.InterceptorRoute("app", FreePort(), "app.example.com"), settings: new Dictionary<string, string?>
        {
            ["UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION"] = "3",
            ["UPDRAFT_SCALER_MAX_STREAMS"] = "10",
        });
        using var connection = new KedaConnection(harness.GrpcPort);
        // Every kind of server stream counts: KEDA's two and the health service's Watch.
        using var first = await connection.OpenAsync(App);
        using var second = await connection.OpenSpecAsync(App);
        using var third = await connection.OpenWatchAsync();

        var refused = await connection.RefusedAsync(App);
        // The connection is full of streams, not of calls: unary calls still get through.
        var spec = await connection.Client.GetMetricSpecAsync(App);
        var counted = await RefusedCountAsync(harness, "connection");
        first.Dispose();
        await WaitUntilAsync(() => connection.TryOpenAsync(App), "the closed stream's slot is free again");

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal(
            "this connection already has 3 streams open, the scaler's limit per connection (UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION=3); close streams, open them on another connection or raise the setting",
            refused.Status.Detail);
        Assert.Equal("http_app_concurrency", Assert.Single(spec.MetricSpecs).MetricName);
        Assert.Equal(1, counted);
    }

    [Fact]
    public async Task StreamIsActive_TotalLimitReachedOverTwoConnections_ResourceExhaustedNamingTheSettingUntilOneCloses()
    {
        await using var harness = await StartAsync(RoutesYaml.InterceptorRoute("app", FreePort(), "app.example.com"), settings: new Dictionary<string, string?>
        {
            ["UPDRAFT_SCALER_MAX_STREAMS_PER_CONNECTION"] = "3",
            ["UPDRAFT_SCALER_MAX_STREAMS"] = "4",
        });
        using var keda = new KedaConnection(harness.GrpcPort);
        using var other = new KedaConnection(harness.GrpcPort);
        using var first = await keda.OpenAsync(App);
        using var second = await keda.OpenAsync(App);
        using var third = await keda.OpenAsync(App);
        using var fourth = await other.OpenAsync(App);

        // The other connection has one stream, far below its own limit: the scaler's total refuses it.
        var refused = await other.RefusedAsync(App);
        var counted = await RefusedCountAsync(harness, "scaler");
        second.Dispose();
        await WaitUntilAsync(() => other.TryOpenAsync(App), "the stream closed on the first connection frees a slot for the second");

        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Equal(
            "the scaler already serves 4 streams, its limit (UPDRAFT_SCALER_MAX_STREAMS=4); close streams or raise the setting",
            refused.Status.Detail);
        Assert.Equal(1, counted);
    }

    private static async Task<double> RefusedCountAsync(ScalerHarness harness, string limit)
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync($"http://127.0.0.1:{harness.MetricsPort}/metrics");
        var prefix = $"updraft_scaler_streams_refused_total{{limit=\"{limit}\"}} ";
        var line = text.Split('\n').Single(l => l.StartsWith(prefix, StringComparison.Ordinal));
        return double.Parse(line[prefix.Length..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>One client connection (its own handler, one HTTP/2 connection), as KEDA's channel keeps.</summary>
    private sealed class KedaConnection : IDisposable
    {
        private readonly GrpcChannel _channel;
        private readonly CancellationTokenSource _timeout = new(TimeSpan.FromSeconds(60));
        private readonly List<IDisposable> _opened = [];

        public KedaConnection(int port)
        {
            _channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}", new GrpcChannelOptions
            {
                HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
            });
            Client = new Scaler.ExternalScalerClient(_channel);
        }

        public Scaler.ExternalScalerClient Client { get; }

        /// <summary>A <c>StreamIsActive</c> stream, returned once its first answer arrived (so the server counts it).</summary>
        public async Task<IDisposable> OpenAsync(ScaledObjectRef reference)
        {
            var call = Client.StreamIsActive(reference);
            Assert.True(await call.ResponseStream.MoveNext(Timeout()));
            return Keep(call);
        }

        public async Task<IDisposable> OpenSpecAsync(ScaledObjectRef reference)
        {
            var call = Client.StreamMetricSpec(reference);
            Assert.True(await call.ResponseStream.MoveNext(Timeout()));
            return Keep(call);
        }

        public async Task<IDisposable> OpenWatchAsync()
        {
            var call = new Health.HealthClient(_channel).Watch(new HealthCheckRequest());
            Assert.True(await call.ResponseStream.MoveNext(Timeout()));
            return Keep(call);
        }

        /// <summary>The error of a stream the scaler must refuse.</summary>
        public async Task<RpcException> RefusedAsync(ScaledObjectRef reference)
        {
            using var call = Client.StreamIsActive(reference);
            return await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(Timeout()));
        }

        /// <summary>Whether a new stream opens now (it stays open); false while the scaler refuses it.</summary>
        public async Task<bool> TryOpenAsync(ScaledObjectRef reference)
        {
            var call = Client.StreamIsActive(reference);
            try
            {
                Assert.True(await call.ResponseStream.MoveNext(Timeout()));
                Keep(call);
                return true;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.ResourceExhausted)
            {
                call.Dispose();
                return false;
            }
        }

        public void Dispose()
        {
            foreach (var call in _opened)
            {
                call.Dispose();
            }

            _channel.Dispose();
            _timeout.Dispose();
        }

        private CancellationToken Timeout() => _timeout.Token;

        private IDisposable Keep(IDisposable call)
        {
            _opened.Add(call);
            return call;
        }
    }
}
