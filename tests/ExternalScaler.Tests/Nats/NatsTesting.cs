using Grpc.Core;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>One nats-server with JetStream for a test class (each test uses its own streams).</summary>
public sealed class NatsServerFixture : IAsyncLifetime
{
    internal NatsServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await NatsServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>Three clustered JetStream nodes for a test class.</summary>
public sealed class NatsClusterFixture : IAsyncLifetime
{
    internal NatsCluster Cluster { get; private set; } = null!;

    public async Task InitializeAsync() => Cluster = await NatsCluster.StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();
}

/// <summary>The scaler as KEDA sees it, for NATS triggers: no interceptors, a fast poll interval.</summary>
internal static class NatsTesting
{
    public const string Api = "api";
    public const string Monitoring = "monitoring";

    /// <summary>A scaler with no interceptors, polling NATS every 100 ms.</summary>
    public static Task<ScalerHarness> StartScalerAsync(IReadOnlyDictionary<string, string?>? settings = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["UPDRAFT_NATS_POLL_INTERVAL"] = "100ms",
            ["UPDRAFT_NATS_TIMEOUT"] = "2s",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        return ScalerHarness.StartAsync(RoutesYaml.InterceptorRoute("unused", 1, "unused.example.com"), interceptors: 0, settings: all);
    }

    /// <summary>An API-mode <c>nats-jetstream</c> trigger on consumer "worker" of <paramref name="stream"/> at
    /// <paramref name="url"/>, logging in with credentials profile <paramref name="profile"/> when one is given.</summary>
    public static ScaledObjectRef ProfileTrigger(string url, string stream, string? profile)
    {
        var metadata = new List<(string, string)> { ("source", "nats-jetstream"), ("natsServerUrl", url), ("stream", stream), ("consumer", "worker") };
        if (profile is not null)
        {
            metadata.Add(("credentialsProfile", profile));
        }

        return ScalerHarness.Ref($"so-{stream.ToLowerInvariant()}-{profile ?? "none"}", [.. metadata]);
    }

    /// <summary>A new stream with a durable consumer "worker" on <paramref name="server"/>, reached with credentials profile
    /// <paramref name="profile"/> of <paramref name="profiles"/>: <paramref name="messages"/> published, the first
    /// <paramref name="acknowledged"/> acknowledged.</summary>
    public static async Task<string> CreateStreamAsync(NatsServer server, string profiles, string profile, int messages, int acknowledged)
    {
        var stream = StreamName();
        await using var admin = await JetStreamAdmin.ConnectAsync(server, profiles, profile);
        await admin.CreateStreamAsync(stream);
        await admin.CreateConsumerAsync(stream, "worker");
        await admin.PublishAsync(stream, messages);
        await JetStreamAdmin.AckAsync(await admin.FetchAsync(stream, "worker", acknowledged));
        return stream;
    }

    /// <summary>A unique stream name (stream names are per server; tests share one).</summary>
    public static string StreamName() => "S" + Guid.NewGuid().ToString("N")[..10].ToUpperInvariant();

    /// <summary>A <c>nats-jetstream</c> trigger reading <paramref name="server"/> in <paramref name="mode"/>.</summary>
    public static ScaledObjectRef JetStream(string mode, NatsServer server, string stream, string consumer, params (string Key, string Value)[] extra)
    {
        var metadata = new List<(string, string)> { ("source", "nats-jetstream"), ("stream", stream), ("consumer", consumer) };
        metadata.AddRange(mode == Api
            ? [("natsServerUrl", server.Url)]
            : [("natsServerMonitoringEndpoint", server.MonitoringEndpoint), ("account", "$G")]);
        metadata.AddRange(extra);
        return ScalerHarness.Ref("so-" + stream.ToLowerInvariant(), [.. metadata]);
    }

    public static async Task<double> MetricAsync(ScalerHarness harness, ScaledObjectRef reference)
    {
        var response = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference });
        return Assert.Single(response.MetricValues).MetricValueFloat;
    }

    /// <summary>Waits until <c>GetMetrics</c> answers <paramref name="expected"/>.</summary>
    public static async Task WaitForMetricAsync(ScalerHarness harness, ScaledObjectRef reference, double expected)
    {
        string? last = null;
        try
        {
            await ScalerHarness.WaitUntilAsync(async () =>
            {
                try
                {
                    var value = await MetricAsync(harness, reference);
                    last = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
                    return value == expected;
                }
                catch (RpcException e)
                {
                    last = $"{e.StatusCode}: {e.Status.Detail}";
                    return false;
                }
            }, $"GetMetrics answers {expected}");
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message} Last answer: {last}", e);
        }
    }

    /// <summary>
    /// Waits until <c>GetMetrics</c> fails with <paramref name="code"/> after a poll (not the state before the first
    /// poll); every answer on the way must be an error or a value other than 0.
    /// </summary>
    public static async Task<RpcException> WaitForErrorAsync(ScalerHarness harness, ScaledObjectRef reference, StatusCode code)
    {
        RpcException? error = null;
        await ScalerHarness.WaitUntilAsync(async () =>
        {
            try
            {
                var value = await MetricAsync(harness, reference);
                Assert.NotEqual(0, value);
                return false;
            }
            catch (RpcException e)
            {
                error = e;
                return e.StatusCode == code && !e.Status.Detail.Contains("the first poll has not finished", StringComparison.Ordinal);
            }
        }, $"GetMetrics fails with {code}");
        return error!;
    }
}
