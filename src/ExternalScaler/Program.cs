using Updraft.ExternalScaler.Hosting;
using Updraft.Shared.Hosting;

if (args.Length > 0 && args[0] == AskCommand.Name)
{
    return await AskCommand.RunAsync(args[1..], Console.Out, Console.Error);
}

// A port in use is most often an interceptor on the same machine: its admin port is 9090 and its metrics port 2223, as the scaler's.
return await ServiceMain.RunAsync(
    "updraft-scaler",
    () => ScalerApplication.Build(args),
    "Choose free ports with KEDA_HTTP_SCALER_PORT (gRPC, default 9090) and OTEL_PROM_EXPORTER_PORT (metrics, default 2223); next to an interceptor with its default ports, for example KEDA_HTTP_SCALER_PORT=9091 OTEL_PROM_EXPORTER_PORT=2224.");
