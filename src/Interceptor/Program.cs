using Updraft.Interceptor.Hosting;
using Updraft.Shared.Hosting;

InlineIo.ApplyToRuntime(Environment.GetEnvironmentVariable, Environment.SetEnvironmentVariable);
return await ServiceMain.RunAsync(
    "updraft-interceptor",
    () => InterceptorApplication.Build(args),
    "Choose free ports with KEDA_HTTP_PROXY_PORT (default 8080), KEDA_HTTP_ADMIN_PORT (9090), OTEL_PROM_EXPORTER_PORT (2223) and, with TLS, KEDA_HTTP_PROXY_TLS_PORT (8443).");
