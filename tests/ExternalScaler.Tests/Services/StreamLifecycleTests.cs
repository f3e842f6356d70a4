using Grpc.Net.Client;
using Updraft.ExternalScaler.Tests.Infrastructure;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;
using Scaler = Updraft.Protos.ExternalScaler.ExternalScaler;

namespace Updraft.ExternalScaler.Tests.Services;

/// <summary>Many push streams, opened and closed again and again, as KEDA does on restarts and reconciles.</summary>
public sealed class StreamLifecycleTests
{
    [Fact]
    public async Task StreamIsActive_ThousandStreamsOnOneConnectionOpenedAndClosedRepeatedly_AllAnswerAndNothingLeaks()
    {
        await using var harness = await StartAsync(RoutesYaml.InterceptorRoute("app", FreePort(), "app.example.com"));
        // One HTTP/2 connection, as KEDA's channel uses: every stream must be served at once, none queued.
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{harness.GrpcPort}", new GrpcChannelOptions
        {
            HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false },
        });
        var client = new Scaler.ExternalScalerClient(channel);
        var reference = Ref("so", ("interceptorRoute", "app"));
        long? baseline = null;

        for (var round = 0; round < 3; round++)
        {
            using var cancel = new CancellationTokenSource();
            var calls = Enumerable.Range(0, 1000).Select(_ => client.StreamIsActive(reference, cancellationToken: cancel.Token)).ToList();
            using var firstAnswers = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var answered = await Task.WhenAll(calls.Select(async call => await call.ResponseStream.MoveNext(firstAnswers.Token) && !call.ResponseStream.Current.Result));
            Assert.All(answered, Assert.True);
            Assert.Equal(1000, await OpenStreamsAsync(harness));

            await cancel.CancelAsync();
            foreach (var call in calls)
            {
                call.Dispose();
            }

            await WaitUntilAsync(async () => await OpenStreamsAsync(harness) == 0, "every stream is closed on the server");
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            var memory = GC.GetTotalMemory(forceFullCollection: true);
            baseline ??= memory;
            // Rounds after the first hold no more than noise: a leak of even 1 KB per stream would show as 1 MB per round.
            Assert.InRange(memory - baseline.Value, long.MinValue, 8L * 1024 * 1024);
        }
    }

    private static async Task<int> OpenStreamsAsync(ScalerHarness harness)
    {
        using var http = new HttpClient();
        var text = await http.GetStringAsync($"http://127.0.0.1:{harness.MetricsPort}/metrics");
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("updraft_scaler_open_streams{method=\"StreamIsActive\"}", StringComparison.Ordinal));
        return line is null ? 0 : (int)double.Parse(line[(line.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
