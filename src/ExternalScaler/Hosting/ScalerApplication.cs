using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Prometheus;
using Updraft.ExternalScaler.Http;
using Updraft.ExternalScaler.Kafka;
using Updraft.ExternalScaler.Kubernetes;
using Updraft.ExternalScaler.Nats;
using Updraft.ExternalScaler.Options;
using Updraft.ExternalScaler.Routes;
using Updraft.ExternalScaler.Services;
using Updraft.ExternalScaler.Telemetry;
using Updraft.Kubernetes.Hosting;
using Updraft.Shared.Hosting;
using Updraft.Shared.Settings;
using Updraft.Shared.Telemetry;

namespace Updraft.ExternalScaler.Hosting;

/// <summary>
/// Builds the scaler: KEDA's gRPC service and the gRPC health service (<c>liveness</c>, <c>readiness</c>) on
/// <c>KEDA_HTTP_SCALER_PORT</c> (h2c), Prometheus <c>/metrics</c> on <c>OTEL_PROM_EXPORTER_PORT</c> (HTTP/1.1).
/// </summary>
internal static class ScalerApplication
{
    public const string LivenessService = "liveness";
    public const string ReadinessService = "readiness";

    /// <summary>The resource's <c>service.name</c> on exported spans and metrics.</summary>
    public const string ServiceName = "updraft-external-scaler";

    /// <param name="args">Command-line arguments (<c>--routes FILE</c>, <c>--interceptors host:port,…</c>).</param>
    /// <param name="settings">When given, the only configuration source (tests); otherwise environment variables.</param>
    /// <remarks>
    /// The mode (<c>UPDRAFT_MODE</c>, auto by default): standalone with a routes file, Kubernetes in a pod without one
    /// (routes from the cluster, interceptor replicas from <c>KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE</c>), and
    /// otherwise standalone without routes (backlog sources only).
    /// </remarks>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = ServiceBuilder.Create(args, settings, new Dictionary<string, string>
        {
            ["--routes"] = ScalerOptions.RoutesFileVariable,
            ["--interceptors"] = ScalerOptions.InterceptorsVariable,
        });
        builder.Logging.UseUpdraftConsole(builder.Configuration);
        // Every failed readiness check would be logged as an error; the state is in the health service and the logs
        // of the replicas that cause it.
        builder.Logging.AddFilter("Microsoft.Extensions.Diagnostics.HealthChecks", LogLevel.Critical);

        var lookup = (string name) => builder.Configuration[name];
        var options = new ScalerOptions();
        ScalerOptions.Bind(lookup, options);
        var problems = new List<string>(options.BindingProblems);

        builder.Services.AddKafkaSource(lookup, problems);
        var natsOptions = NatsOptions.Bind(lookup, problems);
        var cluster = ClusterSettings.Read(new SettingReader(lookup, problems), problems);
        var mode = cluster.Resolve(hasRoutesFile: !string.IsNullOrEmpty(options.RoutesFile), inCluster: InCluster(lookup));
        var services = builder.Services;
        if (mode != RunMode.Kubernetes && options.ResyncPeriodGiven)
        {
            // Said rather than ignored: a user who tunes it expects an effect, and there are no cluster watches here.
            problems.Add($"{ScalerOptions.ResyncPeriodVariable} applies only in Kubernetes mode (it rebuilds the routes from the cluster's InterceptorRoutes and HTTPScaledObjects), and this scaler runs in standalone mode; unset it, or set {ClusterSettings.ModeVariable}=kubernetes");
        }

        if (mode == RunMode.Kubernetes)
        {
            // Last, so it can see every other problem: it connects nothing unless start-up will go on.
            services.AddKubernetesMode(options, cluster, problems);
        }

        if (problems.Count > 0)
        {
            throw new StartupProblemsException(problems);
        }

        services.AddSingleton(Microsoft.Extensions.Options.Options.Create(options));
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new ScalerMetrics(otlp: options.Telemetry.MetricsEnabled));
        services.AddUpdraftOpenTelemetry(options.Telemetry, ServiceName, ScalerInstruments.MeterName, ScalerTracing.SourceName);
        services.AddSingleton<RouteCatalog>();
        services.AddSingleton<InterceptorFleet>();
        services.AddSingleton<CountsAggregator>();
        services.AddSingleton<IScalerSource, HttpSource>();
        services.AddNatsSources(natsOptions);
        services.AddSingleton<ScalerSources>();
        if (mode != RunMode.Kubernetes)
        {
            services.AddSingleton<IInterceptorAddresses, StaticInterceptorAddresses>();
            if (string.IsNullOrEmpty(options.RoutesFile))
            {
                // A scaler for Kafka/NATS triggers alone needs no routes; HTTP triggers then name routes that do not exist.
                services.AddHostedService<NoRouteSource>();
            }
            else
            {
                services.AddHostedService<RoutesFileRouteSource>();
            }
        }
        services.AddHostedService(provider => provider.GetRequiredService<InterceptorFleet>());
        services.AddHostedService(provider => provider.GetRequiredService<CountsAggregator>());
        services.AddSingleton<StreamLimiter>();
        services.AddGrpc(grpc => grpc.Interceptors.Add<StreamLimiter>());
        services.AddHealthChecks()
            .AddCheck("process", () => HealthCheckResult.Healthy(), tags: [LivenessService])
            .AddCheck<CountsFreshness>("counts", tags: [ReadinessService]);
        services.AddGrpcHealthChecks(health =>
        {
            health.Services.Map(LivenessService, registration => registration.Tags.Contains(LivenessService));
            health.Services.Map(ReadinessService, registration => registration.Tags.Contains(ReadinessService));
            health.Services.Map("", _ => true);
            health.UseHealthChecksCache = false;
        });

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // KEDA keeps one StreamIsActive stream per push-triggered ScaledObject on a single connection; Kestrel's
            // default of 100 streams per connection would queue the rest. Above the stream cap, so a stream over it is
            // refused with a gRPC status (StreamLimiter) instead of waiting silently in the client for an HTTP/2 slot,
            // and unary calls on a full connection still get through.
            kestrel.Limits.Http2.MaxStreamsPerConnection = options.MaxStreamsPerConnection + StreamLimiter.UnaryHeadroom;
            Listen(kestrel, BindAddressSetting.Parse(options.BindAddress), options.GrpcPort, HttpProtocols.Http2);
            if (options.MetricsEnabled)
            {
                Listen(kestrel, BindAddressSetting.Parse(options.MetricsBindAddress), options.MetricsPort, HttpProtocols.Http1);
            }
        });

        var app = builder.Build();
        app.MapGrpcService<ExternalScalerService>();
        app.MapGrpcHealthChecksService();
        if (options.MetricsEnabled || options.Telemetry.MetricsEnabled)
        {
            var metrics = app.Services.GetRequiredService<ScalerMetrics>();
            var fleet = app.Services.GetRequiredService<InterceptorFleet>();
            var catalog = app.Services.GetRequiredService<RouteCatalog>();
            metrics.Observe(fleet.Reachability, () => catalog.Current.BuiltAt);
            if (options.MetricsEnabled)
            {
                app.MapMetrics("/metrics", metrics.Registry);
            }
        }

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var ports = BoundPorts(app);
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Updraft.ExternalScaler");
            var grpcPort = ports.ElementAtOrDefault(0);
            var metricsPort = options.MetricsEnabled ? ports.ElementAtOrDefault(1) : 0;
            Log.Listening(logger, grpcPort, metricsPort);
            Log.StreamLimits(logger, options.MaxStreamsPerConnection, options.MaxStreams);
            if (options.Telemetry.TracesEnabled)
            {
                var description = options.Telemetry.Describe();
                Log.TracingOn(logger, description);
            }

            if (options.Telemetry.MetricsEnabled)
            {
                Log.OtlpMetricsOn(logger, ScalerInstruments.MeterName, OpenTelemetryRegistration.RuntimeMeter);
            }
        });
        return app;
    }

    /// <summary>The bound ports in listener order: gRPC, then metrics (the chosen ones where 0 was configured).</summary>
    public static IReadOnlyList<int> BoundPorts(WebApplication app) =>
        [.. app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses
            .Select(address => Microsoft.AspNetCore.Http.BindingAddress.Parse(address).Port)];

    private static void Listen(KestrelServerOptions kestrel, IPAddress? address, int port, HttpProtocols protocols)
    {
        if (address is null)
        {
            kestrel.ListenAnyIP(port, listen => listen.Protocols = protocols);
        }
        else
        {
            kestrel.Listen(address, port, listen => listen.Protocols = protocols);
        }
    }

    /// <summary>
    /// In a pod (see <see cref="ClusterSettings.InCluster"/>). <c>KUBERNETES_SERVICE_HOST</c> is also read through
    /// the configuration, so a test's settings, not the machine the tests run on, decide the mode.
    /// </summary>
    private static bool InCluster(Func<string, string?> lookup) =>
        !string.IsNullOrEmpty(lookup("KUBERNETES_SERVICE_HOST")) && ClusterSettings.InCluster();
}

/// <summary>
/// Ready while the routes are loaded, the interceptor replicas are known (Kubernetes mode: the admin Service's
/// EndpointSlices were listed), and at least one replica reported recently.
/// </summary>
internal sealed class CountsFreshness(RouteCatalog routes, IInterceptorAddresses addresses, CountsAggregator counts) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!routes.Current.Loaded)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("the routes are not loaded yet"));
        }

        if (!addresses.Synced)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("the interceptor replicas are not listed yet"));
        }

        // With no interceptor configured there is nothing to wait for (a scaler for backlog sources only).
        var current = counts.Current;
        return Task.FromResult(current.Replicas > 0 && current.Problem is { } problem ? HealthCheckResult.Unhealthy(problem) : HealthCheckResult.Healthy());
    }
}
