using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.ColdStart;
using Updraft.Interceptor.Counting;
using Updraft.Interceptor.Forwarding;
using Updraft.Interceptor.Kubernetes;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Telemetry;
using Updraft.Interceptor.Tls;
using Updraft.Kubernetes.Hosting;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>
/// Routing tables built the way standalone mode builds them (routes YAML → parser → publisher), without a running
/// interceptor. Shared by the routing tests and the route-lookup micro benchmarks.
/// </summary>
internal static class StandaloneRouteTables
{
    private static readonly OptionsWrapper<InterceptorOptions> Settings = new(new InterceptorOptions());
    private static readonly InterceptorMetrics Metrics = new();
    private static readonly ModeInfo Standalone = new(RunMode.Standalone);
    private static readonly TcpProbeReadiness Readiness = new(Settings, TimeProvider.System, NullLogger<TcpProbeReadiness>.Instance);
    private static readonly UpstreamTargetFactory Upstreams = new(
        Settings,
        new ForwarderClients(Settings, new ConnectionFailures(TimeProvider.System), Readiness, new CertificateStore(Settings, NullLogger<CertificateStore>.Instance), TimeProvider.System, NullLogger<ForwarderClients>.Instance),
        Readiness,
        Standalone,
        new ClusterTargets(Settings),
        new LocalTargets(Metrics));
    private static readonly ColdStartPolicyFactory ColdStarts = new(Settings, Upstreams, Standalone, new ConfigMapBodies(), NullLogger<ColdStartPolicyFactory>.Instance);

    /// <exception cref="InvalidOperationException">The YAML has problems (their lines are the message).</exception>
    public static RouteTable Build(string routesYaml)
    {
        var parsed = RouteFileParser.Parse(routesYaml, RouteEnvironment.Standalone);
        if (!parsed.Succeeded)
        {
            throw new InvalidOperationException(string.Join("\n", parsed.Problems));
        }

        return new RouteTablePublisher(new RouteTableHolder(), Upstreams, ColdStarts, Metrics, new ActivitySignal()).Publish(parsed.Routes);
    }
}
