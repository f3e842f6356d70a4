using System.Globalization;
using Grpc.Core;
using Grpc.Net.Client;
using Updraft.Protos.ExternalScaler;

namespace Updraft.ExternalScaler.Hosting;

/// <summary>
/// <c>Updraft.ExternalScaler.dll ask [--scaler HOST:PORT] [--namespace NS] [--name NAME] KEY=VALUE…</c>: asks a running
/// scaler what KEDA would see for a ScaledObject with that trigger metadata (GetMetricSpec, IsActive, GetMetrics) and
/// prints it, so the demo needs no grpcurl. Exit code 0 when every call answered, 1 when one failed, 2 on bad usage.
/// </summary>
internal static class AskCommand
{
    public const string Name = "ask";

    public const string Usage = "usage: Updraft.ExternalScaler.dll ask [--scaler HOST:PORT] [--namespace NS] [--name NAME] KEY=VALUE... (for example interceptorRoute=echo)";

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        var scaler = "127.0.0.1:9090";
        var reference = new ScaledObjectRef { Name = "ask", Namespace = "default" };
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (arg is "--scaler" or "--namespace" or "--name")
            {
                if (i + 1 >= args.Count)
                {
                    await error.WriteLineAsync($"updraft-scaler: {arg} needs a value; {Usage}");
                    return 2;
                }

                var value = args[++i];
                switch (arg)
                {
                    case "--scaler":
                        scaler = value;
                        break;
                    case "--namespace":
                        reference.Namespace = value;
                        break;
                    default:
                        reference.Name = value;
                        break;
                }
            }
            else if (arg.IndexOf('=', StringComparison.Ordinal) is > 0 and var equals)
            {
                reference.ScalerMetadata[arg[..equals]] = arg[(equals + 1)..];
            }
            else
            {
                await error.WriteLineAsync($"updraft-scaler: unexpected argument \"{arg}\"; {Usage}");
                return 2;
            }
        }

        if (reference.ScalerMetadata.Count == 0)
        {
            await error.WriteLineAsync($"updraft-scaler: no trigger metadata; {Usage}");
            return 2;
        }

        using var channel = GrpcChannel.ForAddress("http://" + scaler);
        var client = new Protos.ExternalScaler.ExternalScaler.ExternalScalerClient(channel);
        var metadata = string.Join(", ", reference.ScalerMetadata.OrderBy(m => m.Key, StringComparer.Ordinal).Select(m => $"{m.Key}={m.Value}"));
        await output.WriteLineAsync($"ScaledObject {reference.Namespace}/{reference.Name} ({metadata}), scaler {scaler}:");
        try
        {
            var specs = await client.GetMetricSpecAsync(reference, deadline: DateTime.UtcNow + Deadline);
            foreach (var spec in specs.MetricSpecs)
            {
                await output.WriteLineAsync($"  GetMetricSpec  {spec.MetricName}  target {Number(spec.TargetSizeFloat)}");
            }

            var failed = false;
            try
            {
                var active = await client.IsActiveAsync(reference, deadline: DateTime.UtcNow + Deadline);
                await output.WriteLineAsync($"  IsActive       {(active.Result ? "true" : "false")}");
            }
            catch (RpcException e) when (e.StatusCode != StatusCode.Unavailable || e.Status.DebugException is null)
            {
                failed = true;
                await output.WriteLineAsync($"  IsActive       error {e.StatusCode}: {e.Status.Detail}");
            }

            foreach (var spec in specs.MetricSpecs)
            {
                try
                {
                    var values = await client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = spec.MetricName }, deadline: DateTime.UtcNow + Deadline);
                    foreach (var value in values.MetricValues)
                    {
                        await output.WriteLineAsync($"  GetMetrics     {value.MetricName}  {Number(value.MetricValueFloat)}");
                    }
                }
                catch (RpcException e) when (e.StatusCode != StatusCode.Unavailable || e.Status.DebugException is null)
                {
                    failed = true;
                    await output.WriteLineAsync($"  GetMetrics     {spec.MetricName}  error {e.StatusCode}: {e.Status.Detail}");
                }
            }

            return failed ? 1 : 0;
        }
        catch (RpcException e)
        {
            // GetMetricSpec never fails on a running scaler: this is the connection.
            await error.WriteLineAsync($"updraft-scaler: the scaler at {scaler} did not answer: {e.StatusCode} {e.Status.DebugException?.Message ?? e.Status.Detail}");
            return 1;
        }
    }

    private static string Number(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);
}
