using Microsoft.Extensions.Options;
using Updraft.Interceptor.Hosting;
using Updraft.Shared.Hosting;

InlineIo.ApplyToRuntime(Environment.GetEnvironmentVariable, Environment.SetEnvironmentVariable);
try
{
    await using var app = InterceptorApplication.Build(args);
    await RunAsync(app);
    return 0;
}
catch (OptionsValidationException e)
{
    foreach (var failure in e.Failures)
    {
        Console.Error.WriteLine($"updraft-interceptor: {failure}");
    }

    return 2;
}
catch (StartupProblemsException e)
{
    foreach (var problem in e.Problems)
    {
        Console.Error.WriteLine($"updraft-interceptor: {problem}");
    }

    return 2;
}
catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
{
    Console.Error.WriteLine($"updraft-interceptor: {e.Message} Choose free ports with KEDA_HTTP_PROXY_PORT (default 8080), KEDA_HTTP_ADMIN_PORT (9090), OTEL_PROM_EXPORTER_PORT (2223) and, with TLS, KEDA_HTTP_PROXY_TLS_PORT (8443).");
    return 2;
}

// app.RunAsync, except that a failed start (a port in use) first stops what did start (the route source's loops, the
// admin listener), so the host is not disposed under them.
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
