using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.AccessLog;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Counting;
using Updraft.Interceptor.Forwarding;
using Updraft.Interceptor.Forwarding.Http1;
using Updraft.Interceptor.Kubernetes;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Standalone;
using Updraft.Interceptor.Telemetry;
using Updraft.Interceptor.Tls;
using Updraft.Interceptor.Transport;
using Updraft.Kubernetes.Hosting;
using Updraft.Shared.Hosting;
using Updraft.Shared.Settings;
using Updraft.Shared.Telemetry;

namespace Updraft.Interceptor.Hosting;

/// <summary>Builds the interceptor: the proxy listener in front, the admin and metrics listeners beside it.</summary>
internal static class InterceptorApplication
{
    /// <summary>Request lines up to this size are accepted (Kestrel's default is 8 KiB; Go's servers take far more).</summary>
    public const int MaxRequestLineBytes = 64 * 1024;

    public const int MaxRequestHeadersBytes = 64 * 1024;

    /// <summary>The resource's <c>service.name</c> on exported spans and metrics.</summary>
    public const string ServiceName = "updraft-interceptor";

    /// <param name="args">Command-line arguments (<c>--routes FILE</c>).</param>
    /// <param name="settings">When given, the only configuration source (tests); otherwise environment variables.</param>
    /// <param name="time">The clock (tests move a fake one); the system's by default.</param>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? settings = null, TimeProvider? time = null)
    {
        var builder = ServiceBuilder.Create(args, settings, new Dictionary<string, string> { ["--routes"] = InterceptorOptionsBinder.RoutesFileVariable });
        ConfigureLogging(builder);

        var services = builder.Services;
        services.AddOptions<InterceptorOptions>()
            .Configure<IConfiguration>((options, configuration) => InterceptorOptionsBinder.Bind(configuration, options))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<InterceptorOptions>, InterceptorOptionsValidator>();
        services.AddSingleton(time ?? TimeProvider.System);
        services.AddHttpForwarder();
        // Registered only when switched on; a bad value registers nothing here and fails start-up in the options' validation.
        var telemetry = OpenTelemetrySettings.Read(new SettingReader(name => builder.Configuration[name], []), []);
        services.AddSingleton(provider =>
        {
            if (!telemetry.MetricsEnabled)
            {
                return new InterceptorMetrics();
            }

            var tables = provider.GetRequiredService<RouteTableHolder>();
            return new InterceptorMetrics(() => tables.Current.Routes);
        });
        services.AddUpdraftOpenTelemetry(telemetry, ServiceName, InterceptorInstruments.MeterName, ProxyTracing.SourceName);
        services.AddSingleton(provider => new ProxyTracing(provider.GetRequiredService<IOptions<InterceptorOptions>>().Value.Telemetry));
        services.AddSingleton<RouteTableHolder>();
        services.AddSingleton<ActivitySignal>();
        services.AddSingleton<RouteTablePublisher>();
        services.AddSingleton<ConnectionFailures>();
        services.AddSingleton<ForwarderClients>();
        services.AddSingleton(provider =>
        {
            var options = provider.GetRequiredService<IOptions<InterceptorOptions>>().Value;
            // Go's http.Transport: MaxIdleConnsPerHost 0 means its default, 2; MaxIdleConns 0 means no limit.
            var perHost = options.MaxIdleConnectionsPerHost == 0 ? UpstreamConnectionPool.DefaultMaxIdlePerEndpoint : options.MaxIdleConnectionsPerHost;
            return new UpstreamConnectionPool(perHost, options.MaxIdleConnections, provider.GetRequiredService<TimeProvider>());
        });
        services.AddSingleton(provider => provider.GetRequiredService<IOptions<InterceptorOptions>>().Value.LeanForwarding
            ? new LeanForwarding(new Http1Forwarder(provider.GetRequiredService<UpstreamConnectionPool>(), provider.GetRequiredService<ForwarderClients>().Connector, provider.GetRequiredService<ProxyTracing>(), provider.GetRequiredService<IOptions<InterceptorOptions>>().Value.Transport))
            : new LeanForwarding(null));
        services.AddSingleton<UpstreamTargetFactory>();
        services.AddSingleton(provider => new ProxyTransformers(
            provider.GetRequiredService<IOptions<InterceptorOptions>>().Value.EnableColdStartHeader,
            provider.GetRequiredService<ProxyTracing>(),
            provider.GetRequiredService<ILogger<ProxyTransformer>>()));
        var mode = new ModeInfo(ResolveMode(builder.Configuration));
        services.AddSingleton(mode);
        services.AddSingleton<ClusterTargets>();
        services.AddSingleton<LocalTargets>();
        services.AddSingleton<ConfigMapBodies>();
        if (mode.IsKubernetes)
        {
            services.AddSingleton<IEndpointReadiness>(provider => provider.GetRequiredService<ClusterTargets>());
        }
        else
        {
            services.AddSingleton<TcpProbeReadiness>();
            services.AddSingleton<IEndpointReadiness, StandaloneReadiness>();
        }

        services.AddSingleton<ColdStartPolicyFactory>();
        services.AddSingleton<ColdStartGate>();
        services.AddSingleton<ProxyHandler>();
        services.AddSingleton<RouteFreshness>();
        services.AddSingleton<ReadinessState>();
        services.AddSingleton<AdminServer>();
        services.AddSingleton<MetricsServer>();
        services.AddSingleton<RoutesFileSource>();
        services.AddSingleton<ClusterRouteSource>();

        // Start order: routes, then admin and metrics, then (last, added by the web host) the proxy listener.
        // Stop order is the reverse, so the proxy drains while /readyz still answers.
        var logRequests = LogRequests(builder.Configuration);
        if (logRequests)
        {
            // Started first and stopped last: lines of requests that finish during the drain are still written.
            services.AddSingleton(provider => new AccessLogWriter(Console.Out, provider.GetRequiredService<InterceptorMetrics>()));
            services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<AccessLogWriter>());
        }

        // Before the routes: the first snapshot may be in force by the time requests arrive, and the feed is stopped
        // after the proxy has drained, so requests held during the drain are still released.
        var localFeed = !mode.IsKubernetes && !string.IsNullOrWhiteSpace(builder.Configuration[LocalReplicasSetting.Variable]);
        if (localFeed)
        {
            services.AddSingleton<LocalReplicaFeed>();
            services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<LocalReplicaFeed>());
        }

        services.AddSingleton<RouteSourceSelector>();
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<RouteSourceSelector>().Create(provider));
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<AdminServer>());
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredService<MetricsServer>());
        services.AddSingleton<IHostedService, ListeningReporter>();
        services.AddSingleton<IHostedService, IdleMemoryRelease>();
        services.AddSingleton<DrainDeadline>();
        services.AddSingleton<IHostedService, GracefulDrain>();
        services.AddOptions<HostOptions>().Configure<IOptions<InterceptorOptions>>((host, options) => host.ShutdownTimeout = GracefulDrain.ShutdownTimeout(options.Value));

        // Kestrel takes the last transport registered that can bind an endpoint: this one, for TCP, when it is chosen.
        services.AddSingleton<IConnectionListenerFactory, EpollTransportFactory>();
        services.AddOptions<SocketTransportOptions>().Configure<IOptions<InterceptorOptions>>((transport, options) => transport.UnsafePreferInlineScheduling = options.Value.InlineIo);
        services.AddSingleton<CertificateStore>();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<InterceptorOptions>, CertificateStore>((kestrel, options, certificates) =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestLineSize = MaxRequestLineBytes;
            kestrel.Limits.MaxRequestHeadersTotalSize = MaxRequestHeadersBytes;
            // Slow clients cannot hold a connection open by dribbling a request head (Kestrel's guard, default 30 s).
            kestrel.Limits.RequestHeadersTimeout = options.Value.RequestHeadersTimeout;
            // A proxy streams bodies of any size at the pace of both ends, as the add-on does.
            kestrel.Limits.MaxRequestBodySize = null;
            kestrel.Limits.MinRequestBodyDataRate = null;
            kestrel.Limits.MinResponseDataRate = null;
            var address = Updraft.Shared.Settings.BindAddressSetting.Parse(options.Value.BindAddress);
            // HTTP/1.1 and h2c prior knowledge on the one plain port, as the add-on serves them.
            kestrel.AllowAlternateSchemes = true;
            static void Configure(ListenOptions listen) => listen.UseHttp1AndH2c();
            if (address is null)
            {
                kestrel.ListenAnyIP(options.Value.ProxyPort, Configure);
            }
            else
            {
                kestrel.Listen(address, options.Value.ProxyPort, Configure);
            }

            if (options.Value.Tls.Enabled)
            {
                TlsListener.Add(kestrel, address, options.Value.Tls, certificates);
            }
        });

        var app = builder.Build();
        RequestDelegate proxy = app.Services.GetRequiredService<ProxyHandler>().InvokeAsync;
        // Off, the access log is not in the request path at all.
        app.Run(logRequests
            ? new AccessLogHandler(proxy, app.Services.GetRequiredService<AccessLogWriter>(), app.Services.GetRequiredService<TimeProvider>()).InvokeAsync
            : proxy);
        return app;
    }

    /// <summary><c>KEDA_HTTP_LOG_REQUESTS</c>, read while the pipeline is built (a bad value fails the options' validation).</summary>
    private static bool LogRequests(ConfigurationManager configuration) =>
        new SettingReader(name => configuration[name], []).Boolean("KEDA_HTTP_LOG_REQUESTS", fallback: false);

    /// <summary>The mode from <c>UPDRAFT_MODE</c>, whether a routes file is given, and whether this runs in a pod.</summary>
    private static RunMode? ResolveMode(ConfigurationManager configuration)
    {
        var settings = ClusterSettings.Read(new SettingReader(name => configuration[name], []), []);
        var routesFile = configuration[InterceptorOptionsBinder.RoutesFileVariable];
        return settings.Resolve(!string.IsNullOrWhiteSpace(routesFile), ClusterSettings.InCluster());
    }

    /// <summary>The proxy listener's bound port (the chosen one when configured as 0).</summary>
    public static int ProxyPort(this WebApplication app) => ListenerPorts.First(app.Services.GetRequiredService<IServer>());

    /// <summary>The TLS listener's bound port, or 0 when it is off.</summary>
    public static int TlsPort(this WebApplication app) => ListenerPorts.First(app.Services.GetRequiredService<IServer>(), scheme: "https");

    private static void ConfigureLogging(WebApplicationBuilder builder)
    {
        builder.Logging.UseUpdraftConsole(builder.Configuration);
        // Requests run on the socket threads (see InlineIo): when stdout cannot keep up with a burst of failures, lines
        // are dropped (the logger says how many) rather than a socket thread waiting for the queue.
        builder.Services.Configure<ConsoleLoggerOptions>(console => console.QueueFullMode = ConsoleLoggerQueueFullMode.DropWrite);
        // Kestrel warns that a cleartext endpoint cannot negotiate HTTP/2; the admin port does, see H2cPriorKnowledge.
        builder.Logging.AddFilter("Microsoft.AspNetCore.Server.Kestrel", LogLevel.Error);
        // YARP logs every failed forward; ProxyHandler logs them once, with the status it chose.
        builder.Logging.AddFilter("Yarp", LogLevel.Error);
    }
}

/// <summary>Chooses where routes come from: a routes file (standalone mode) or the cluster (Kubernetes mode).</summary>
internal sealed class RouteSourceSelector(IOptions<InterceptorOptions> options, ModeInfo mode, ReadinessState readiness)
{
    /// <summary>The chosen source, once <see cref="Create"/> ran (before any listener starts).</summary>
    public IRouteSourceHealth? Chosen { get; private set; }

    public IHostedService Create(IServiceProvider provider)
    {
        var source = Choose(provider);
        Chosen = source as IRouteSourceHealth;
        return source;
    }

    private IHostedService Choose(IServiceProvider provider)
    {
        switch (mode.Mode)
        {
            case RunMode.Kubernetes when options.Value.LocalReplicas is not null:
                throw new StartupProblemsException([$"{LocalReplicasSetting.Variable} follows the local autoscaler, which runs in standalone mode only; unset it in Kubernetes mode ({ClusterSettings.ModeVariable}=kubernetes), where KEDA scales the workloads"]);
            case RunMode.Kubernetes when !string.IsNullOrEmpty(options.Value.RoutesFile):
                throw new StartupProblemsException([$"{ClusterSettings.ModeVariable}=kubernetes reads routes from the cluster; remove --routes / {InterceptorOptionsBinder.RoutesFileVariable}, or use {ClusterSettings.ModeVariable}=standalone"]);
            case RunMode.Kubernetes:
                var cluster = provider.GetRequiredService<ClusterRouteSource>();
                readiness.WaitFor(cluster.Synced);
                return cluster;
            case RunMode.Standalone when !string.IsNullOrEmpty(options.Value.RoutesFile):
                return provider.GetRequiredService<RoutesFileSource>();
            case RunMode.Standalone:
                throw new StartupProblemsException([$"{ClusterSettings.ModeVariable}=standalone needs a routes file: pass --routes FILE or set {InterceptorOptionsBinder.RoutesFileVariable}"]);
            default:
                throw new StartupProblemsException([$"no route source: pass --routes FILE or set {InterceptorOptionsBinder.RoutesFileVariable} (standalone mode), or run in a Kubernetes pod or set {ClusterSettings.ModeVariable}=kubernetes (Kubernetes mode)"]);
        }
    }
}

/// <summary>Logs the bound ports once every listener is up (they matter when a port was configured as 0).</summary>
internal sealed class ListeningReporter(IHostApplicationLifetime lifetime, IServer server, AdminServer admin, MetricsServer metrics, IOptions<InterceptorOptions> options, ILogger<ListeningReporter> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var (used, ignored) in options.Value.OverriddenSettings)
        {
            Log.SettingOverridden(logger, used, ignored);
        }

        lifetime.ApplicationStarted.Register(() =>
        {
            var proxyPort = ListenerPorts.First(server);
            var inlineIo = InlineIo.Describe(options.Value.InlineIo) + ", transport " + options.Value.Transport.ToString().ToLowerInvariant();
            Log.Listening(logger, proxyPort, admin.Port, metrics.Port, inlineIo);
            var telemetry = options.Value.Telemetry;
            if (telemetry.TracesEnabled)
            {
                var description = telemetry.Describe();
                Log.TracingOn(logger, description);
            }

            if (telemetry.MetricsEnabled)
            {
                Log.OtlpMetricsOn(logger, InterceptorInstruments.MeterName, OpenTelemetryRegistration.RuntimeMeter);
            }
        });
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
