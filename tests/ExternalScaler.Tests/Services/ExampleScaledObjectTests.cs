using Grpc.Core;
using Grpc.Net.Client;
using Updraft.ExternalScaler.Hosting;
using Updraft.Protos.ExternalScaler;
using Updraft.Shared.Crds;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;
using Updraft.Tests.Common;
using Scaler = Updraft.Protos.ExternalScaler.ExternalScaler;

namespace Updraft.ExternalScaler.Tests.Services;

/// <summary>
/// The ScaledObjects under <c>examples/keda/</c> stay valid: every trigger aimed at the scaler gets a metric spec, and
/// its metadata is accepted (with no broker or route behind them the values are unavailable or not found, but never
/// rejected as invalid metadata). Broker addresses are pointed at a closed loopback port: tests never leave loopback.
/// </summary>
public sealed class ExampleScaledObjectTests
{
    public static TheoryData<string, string, string> Triggers()
    {
        var data = new TheoryData<string, string, string>();
        var yaml = new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).IgnoreUnmatchedProperties().Build();
        foreach (var file in Directory.GetFiles(Path.Combine(Repository.Root(), "examples", "keda"), "*.yaml"))
        {
            var parser = new Parser(new StringReader(File.ReadAllText(file)));
            parser.Consume<StreamStart>();
            while (parser.Accept<DocumentStart>(out _))
            {
                var scaledObject = yaml.Deserialize<ScaledObject>(parser);
                Assert.Equal(ScaledObject.ApiVersionValue, scaledObject.ApiVersion);
                Assert.Equal(ScaledObject.KindValue, scaledObject.Kind);
                foreach (var trigger in scaledObject.Spec!.Triggers!)
                {
                    Assert.True(trigger.IsExternal, $"{file}: trigger type {trigger.Type}");
                    Assert.False(string.IsNullOrEmpty(trigger.Metadata![ScaleTrigger.ScalerAddressKey]), $"{file}: no {ScaleTrigger.ScalerAddressKey}");
                    // KEDA passes the whole trigger metadata, scalerAddress included.
                    var values = trigger.Metadata;
                    data.Add(Path.GetFileName(file), $"{scaledObject.Metadata!.Namespace}/{scaledObject.Metadata.Name}", string.Join("\n", values.Select(e => e.Key + "=" + e.Value)));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Triggers))]
    public async Task ExampleTrigger_MetadataAccepted(string file, string scaledObject, string metadata)
    {
        await using var scaler = ScalerApplication.Build([], new Dictionary<string, string?>
        {
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_LOG_LEVEL"] = "Critical",
        });
        await scaler.StartAsync();
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{ScalerApplication.BoundPorts(scaler)[0]}");
        var client = new Scaler.ExternalScalerClient(channel);
        var reference = new ScaledObjectRef { Namespace = scaledObject.Split('/')[0], Name = scaledObject.Split('/')[1] };
        foreach (var line in metadata.Split('\n'))
        {
            var equals = line.IndexOf('=', StringComparison.Ordinal);
            var key = line[..equals];
            reference.ScalerMetadata[key] = key switch
            {
                "bootstrapServers" or "natsServerMonitoringEndpoint" => "127.0.0.1:1",
                "natsServerUrl" => "nats://127.0.0.1:1",
                _ => line[(equals + 1)..],
            };
        }

        var spec = await client.GetMetricSpecAsync(reference);
        var error = await Record.ExceptionAsync(async () => await client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference }));

        Assert.NotEmpty(spec.MetricSpecs);
        Assert.True(spec.MetricSpecs.All(s => s.TargetSizeFloat > 0), file);
        if (error is RpcException rpc)
        {
            Assert.NotEqual(StatusCode.InvalidArgument, rpc.StatusCode);
        }

        await scaler.StopAsync();
    }

}
