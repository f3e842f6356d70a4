using System.Globalization;
using Grpc.Core;
using Updraft.ExternalScaler.Tests.Nats;
using Updraft.Interceptor.Tests.Faults;
using Updraft.Protos.ExternalScaler;
using Xunit.Abstractions;

namespace Updraft.ExternalScaler.Tests.Faults;

/// <summary>
/// The NATS row of the fault matrix: the scaler binary as a child process reads a JetStream consumer's backlog while
/// nats-server (its store in a temp directory, so the stream survives) is killed and started again, under a bounded
/// load of KEDA <c>GetMetrics</c> calls.
/// </summary>
public sealed class NatsRestartFaultTests(ITestOutputHelper output)
{
    private const int Calls = 1_000;
    private const int Loops = 4;
    private const string Unavailable = "rpc Unavailable";
    private const string NotFound = "rpc NotFound";

    [Theory]
    [InlineData(NatsTesting.Api)]
    [InlineData(NatsTesting.Monitoring)]
    public async Task NatsServerRestartsDuringMetricCalls_EveryCallAnsweredNeverAFalseZero_BacklogRecoversAndStaysLive(string mode)
    {
        await using var nats = await NatsServer.StartAsync();
        var stream = NatsTesting.StreamName();
        await using (var admin = await JetStreamAdmin.ConnectAsync(nats))
        {
            await admin.CreateStreamAsync(stream);
            await admin.CreateConsumerAsync(stream, "worker");
            await admin.PublishAsync(stream, 10);
        }

        await using var scaler = ScalerChild.Start(null, new()
        {
            ["UPDRAFT_NATS_POLL_INTERVAL"] = "100ms",
            ["UPDRAFT_NATS_TIMEOUT"] = "2s",
        });
        var reference = NatsTesting.JetStream(mode, nats, stream, "worker");
        await scaler.WaitForMetricAsync(reference, "", 10, "the scaler reports the backlog of 10");

        var load = FaultLoad.Start(Calls, Loops, async (_, token) =>
        {
            var outcome = await CallAsync(scaler, reference, token);
            await Task.Delay(20, CancellationToken.None);
            return outcome;
        });
        await Poll.UntilAsync(() => Task.FromResult(load.Completed >= 40), "the calls are running");
        await nats.StopAsync();
        await Poll.UntilAsync(() => Task.FromResult(load.Count(Unavailable) > 0), "a call is answered Unavailable");
        await nats.StartAgainAsync();
        await scaler.WaitForMetricAsync(reference, "", 10, "the backlog is reported again after the restart");
        // Live again, not a value remembered from before the outage.
        await using (var admin = await JetStreamAdmin.ConnectAsync(nats))
        {
            await admin.PublishAsync(stream, 5);
        }

        await scaler.WaitForMetricAsync(reference, "", 15, "a message published after the restart is counted");
        await load.WaitAsync(TimeSpan.FromSeconds(60));

        output.WriteLine($"outcomes: {load}");
        // Every call answered: the backlog (10, then up to 15 while the 5 are published), Unavailable while the server
        // was down, or NotFound while the restarted server was still recovering its streams from the store (its
        // monitoring endpoint lists none yet); never a 0 that would scale the consumers away during the outage.
        Assert.Equal(Calls, load.Count(IsBacklog) + load.Count(Unavailable) + load.Count(NotFound));
        Assert.True(load.Count(Unavailable) > 0);
        Assert.False(scaler.Process.HasExited);
    }

    private static bool IsBacklog(string outcome) =>
        double.TryParse(outcome, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && value is >= 10 and <= 15;

    private static async Task<string> CallAsync(ScalerChild scaler, ScaledObjectRef reference, CancellationToken cancellationToken)
    {
        try
        {
            var response = await scaler.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference }, deadline: DateTime.UtcNow.AddSeconds(10), cancellationToken: cancellationToken);
            return response.MetricValues.Single().MetricValueFloat.ToString(CultureInfo.InvariantCulture);
        }
        catch (RpcException e) when (e.StatusCode != StatusCode.Cancelled)
        {
            return "rpc " + e.StatusCode;
        }
    }
}
