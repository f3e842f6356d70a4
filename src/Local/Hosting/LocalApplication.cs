using Grpc.Net.Client;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Updraft.Local.Feed;
using Updraft.Local.Options;
using Updraft.Local.Telemetry;
using Updraft.Shared.Hosting;
using Updraft.Shared.Settings;
using ScalerClient = Updraft.Protos.ExternalScaler.ExternalScaler.ExternalScalerClient;

namespace Updraft.Local.Hosting;

/// <summary>
/// The local autoscaler's host: reads the routes file's <c>LocalWorkload</c>s and the routes that name them, plays
/// KEDA against the external scaler for each workload, runs the replicas as processes, and serves the replicas feed
/// (<c>updraft.v1.LocalReplicas</c>, h2c) that the interceptor follows.
/// </summary>
internal static class LocalApplication
{
    /// <param name="args"><c>--routes FILE</c>, <c>--scaler HOST:PORT</c>, <c>--port N</c>.</param>
    /// <param name="settings">When given, the only configuration source (tests); otherwise environment variables.</param>
    public static WebApplication Build(string[] args, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = ServiceBuilder.Create(args, settings, new Dictionary<string, string>
        {
            ["--routes"] = LocalOptions.RoutesFileVariable,
            ["--scaler"] = LocalOptions.ScalerVariable,
            ["--port"] = LocalOptions.PortVariable,
        });
        builder.Logging.UseUpdraftConsole(builder.Configuration);

        var problems = new List<string>();
        var options = LocalOptions.Read(name => builder.Configuration[name], problems);
        var plan = problems.Count == 0 ? LocalPlan.Read(options.RoutesFile, problems) : null;
        if (problems.Count > 0 || plan is null)
        {
            throw new StartupProblemsException(problems);
        }

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(plan);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(_ => new ScalerClient(GrpcChannel.ForAddress("http://" + options.Scaler)));
        services.AddSingleton<LocalRunner>();
        services.AddSingleton(provider => provider.GetRequiredService<LocalRunner>().Feed);
        services.AddHostedService(provider => provider.GetRequiredService<LocalRunner>());
        services.AddGrpc();
        services.Configure<HostOptions>(host => host.ShutdownTimeout = plan.LongestGracePeriod + TimeSpan.FromSeconds(10));

        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            var address = BindAddressSetting.Parse(options.BindAddress);
            if (address is null)
            {
                kestrel.ListenAnyIP(options.Port, listen => listen.Protocols = HttpProtocols.Http2);
            }
            else
            {
                kestrel.Listen(address, options.Port, listen => listen.Protocols = HttpProtocols.Http2);
            }
        });

        var app = builder.Build();
        app.MapGrpcService<LocalReplicasService>();
        app.Lifetime.ApplicationStarted.Register(() =>
        {
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Updraft.Local");
            Log.Listening(logger, string.Join(", ", BoundAddresses(app)), options.Scaler, plan.Workloads.Count, options.RoutesFile);
        });
        return app;
    }

    public static IReadOnlyList<string> BoundAddresses(WebApplication app) =>
        [.. app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses];

    /// <summary>The port the feed listens on (the chosen one where 0 was configured).</summary>
    public static int BoundPort(WebApplication app) => Microsoft.AspNetCore.Http.BindingAddress.Parse(BoundAddresses(app)[0]).Port;
}
