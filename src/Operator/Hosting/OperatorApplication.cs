using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Prometheus;
using Updraft.Kubernetes.Client;
using Updraft.Operator.Cluster;
using Updraft.Operator.Functions;
using Updraft.Operator.HttpScaledObjects;
using Updraft.Operator.InterceptorRoutes;
using Updraft.Operator.Options;
using Updraft.Operator.Reconciling;
using Updraft.Operator.Telemetry;
using Updraft.Shared.Hosting;

namespace Updraft.Operator.Hosting;

/// <summary>
/// Builds the operator: the watches and controllers (<see cref="OperatorService"/>), Prometheus <c>/metrics</c> on
/// <c>--metrics-bind-address</c> (<c>:8080</c>), and <c>/healthz</c> and <c>/readyz</c> on
/// <c>--health-probe-bind-address</c> (<c>:8081</c>), as the add-on's operator serves them.
/// </summary>
internal static class OperatorApplication
{
    /// <summary>Where a pod's service account tells it its namespace.</summary>
    public const string PodNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

    /// <param name="args">The add-on operator's flags (<c>--leader-elect</c>, <c>--metrics-bind-address</c>, ...).</param>
    /// <param name="settings">When given, the only source of settings (tests); otherwise environment variables.</param>
    /// <param name="podNamespaceFile">The service account's namespace file (tests point it elsewhere).</param>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? settings = null, string podNamespaceFile = PodNamespaceFile)
    {
        var problems = new List<string>();
        var warnings = new List<string>();
        var flags = OperatorFlags.Parse(args, problems, warnings);
        var builder = ServiceBuilder.Create([], settings);

        builder.Configuration.AddInMemoryCollection(flags.Select(static pair => new KeyValuePair<string, string?>(pair.Key, pair.Value)));
        string? Lookup(string name) => builder.Configuration[name];
        ConfigureLogging(builder, Lookup("UPDRAFT_LOG_LEVEL"), problems);

        var options = OperatorOptions.Bind(Lookup, ReadPodNamespace(podNamespaceFile), problems);
        warnings.AddRange(options.Warnings);
        KubeApiClient? client = null;
        if (problems.Count == 0)
        {
            try
            {
                client = KubeApiClient.Create(options.Kubeconfig);
            }
            catch (KubeConfigurationException e)
            {
                problems.Add(options.Kubeconfig is { } path
                    ? $"{OperatorOptions.KubeconfigVariable}=\"{path}\" cannot be used: {e.Message}; use the path of a readable kubeconfig"
                    : $"{e.Message}; set {OperatorOptions.KubeconfigVariable} to a kubeconfig, or run in a pod");
            }
        }

        if (problems.Count > 0 || client is null)
        {
            throw new StartupProblemsException(problems);
        }

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => client);
        services.AddSingleton<OperatorMetrics>();
        services.AddSingleton<ClusterCache>();
        services.AddSingleton<ObjectWriter>();
        services.AddSingleton<EventRecorder>();
        services.AddSingleton<ScaleTargets>();
        services.AddSingleton<LeaderElection>();
        services.AddSingleton<HttpScaledObjectReconciler>();
        services.AddSingleton<InterceptorRouteReconciler>();
        services.AddSingleton<FunctionReconciler>();
        services.AddSingleton<OperatorService>();
        services.AddHostedService(provider => provider.GetRequiredService<OperatorService>());
        services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(10));

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            foreach (var address in new[] { options.MetricsAddress, options.HealthAddress })
            {
                if (address is not null)
                {
                    Listen(kestrel, address);
                }
            }
        });

        var app = builder.Build();
        var listeners = new Listeners();
        var cache = app.Services.GetRequiredService<ClusterCache>();
        var metrics = app.Services.GetRequiredService<OperatorMetrics>();
        var events = app.Services.GetRequiredService<EventRecorder>();
        metrics.Registry.AddBeforeCollectCallback(() =>
        {
            metrics.SetEventsPending(events.Pending);
            foreach (var (resource, lists, failures) in cache.WatchCounts())
            {
                metrics.SetWatchCounts(resource, lists, failures);
            }
        });

        // Each listener serves only its own paths, as two servers would.
        app.Use((context, next) =>
        {
            var port = context.Connection.LocalPort;
            var path = context.Request.Path;
            var allowed = path.StartsWithSegments("/metrics") ? port == listeners.Metrics : port == listeners.Health;
            if (!allowed)
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            return next(context);
        });
        if (options.MetricsAddress is not null)
        {
            app.MapMetrics("/metrics", metrics.Registry);
        }

        app.MapGet("/healthz", () => Results.Text("ok"));
        app.MapGet("/readyz", () => cache.IsSynced ? Results.Text("ok") : Results.Text("the caches are not synced yet", statusCode: StatusCodes.Status503ServiceUnavailable));

        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var ports = BoundPorts(app);
            var index = 0;
            listeners.Metrics = options.MetricsAddress is null ? -1 : ports[index++];
            listeners.Health = options.HealthAddress is null ? -1 : ports[index];
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Updraft.Operator");
            foreach (var warning in warnings)
            {
                Log.SettingWarning(logger, warning);
            }

            Log.Started(
                logger,
                options.WatchNamespace is { } ns ? "namespace " + ns : "every namespace",
                options.ScalerAddress,
                options.LeaderElection ? $"on (lease {options.Namespace}/{options.LeaseName})" : "off",
                options.MetricsAddress is null ? "off" : "port " + listeners.Metrics,
                options.HealthAddress is null ? "off" : "port " + listeners.Health);
        });
        return app;
    }

    /// <summary>The bound ports in listener order: metrics, then probes (the chosen ones where 0 was configured).</summary>
    public static IReadOnlyList<int> BoundPorts(WebApplication app) =>
        [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .Select(address => BindingAddress.Parse(address).Port)];

    private static void ConfigureLogging(WebApplicationBuilder builder, string? level, List<string> problems)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
            console.UseUtcTimestamp = true;
        });
        var minimum = level?.ToLowerInvariant() switch
        {
            null => LogLevel.Information,
            "debug" or "trace" => LogLevel.Debug,
            "info" or "information" => LogLevel.Information,
            "warn" or "warning" => LogLevel.Warning,
            "error" => LogLevel.Error,
            _ => (LogLevel?)null,
        };
        if (minimum is null)
        {
            problems.Add($"UPDRAFT_LOG_LEVEL (--zap-log-level)=\"{level}\" is not a level; use debug, info, warning or error");
        }

        builder.Logging.SetMinimumLevel(minimum ?? LogLevel.Information);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Hosting", LogLevel.Warning);
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.Critical);
    }

    private static void Listen(KestrelServerOptions kestrel, BindAddress address)
    {
        if (address.Address is null)
        {
            kestrel.ListenAnyIP(address.Port, listen => listen.Protocols = HttpProtocols.Http1);
        }
        else
        {
            kestrel.Listen(address.Address, address.Port, listen => listen.Protocols = HttpProtocols.Http1);
        }
    }

    private static string? ReadPodNamespace(string path)
    {
        try
        {
            return File.ReadAllText(path).Trim() is { Length: > 0 } ns ? ns : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The ports the listeners got (known once the server has started).</summary>
    private sealed class Listeners
    {
        public int Metrics { get; set; } = -1;

        public int Health { get; set; } = -1;
    }
}
