using Updraft.ExternalScaler.Hosting;
using Updraft.Shared.Hosting;

if (args.Length > 0 && args[0] == AskCommand.Name)
{
    return await AskCommand.RunAsync(args[1..], Console.Out, Console.Error);
}

try
{
    await using var app = ScalerApplication.Build(args);
    await RunAsync(app);
    return 0;
}
catch (StartupProblemsException e)
{
    foreach (var problem in e.Problems)
    {
        Console.Error.WriteLine($"updraft-scaler: {problem}");
    }

    return 2;
}
catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    // Most often an interceptor on the same machine: its admin port is 9090 and its metrics port 2223, as the scaler's.
    Console.Error.WriteLine($"updraft-scaler: {e.Message} Choose free ports with KEDA_HTTP_SCALER_PORT (gRPC, default 9090) and OTEL_PROM_EXPORTER_PORT (metrics, default 2223); next to an interceptor with its default ports, for example KEDA_HTTP_SCALER_PORT=9091 OTEL_PROM_EXPORTER_PORT=2224.");
    return 2;
}

// app.RunAsync, except that a failed start (a port in use) first stops the background loops that did start, so the
// host is not disposed under them (they would log a crash on the way out).
static async Task RunAsync(WebApplication app)
{
    try
    {
        await app.StartAsync();
    }
    catch
    {
        await app.StopAsync().ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        throw;
    }

    await app.WaitForShutdownAsync();
}
