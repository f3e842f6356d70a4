using Microsoft.Extensions.Options;
using Prometheus;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Routing;

namespace Updraft.Interceptor.Telemetry;

/// <summary>Prometheus <c>/metrics</c> on <c>OTEL_PROM_EXPORTER_PORT</c> (off with <c>OTEL_PROM_EXPORTER_ENABLED=false</c>).</summary>
internal sealed class MetricsServer : SideServer
{
    private readonly IOptions<InterceptorOptions> _options;
    private readonly InterceptorMetrics _metrics;

    public MetricsServer(IOptions<InterceptorOptions> options, InterceptorMetrics metrics, RouteTableHolder tables, ILoggerFactory loggerFactory)
        : base(loggerFactory)
    {
        _options = options;
        _metrics = metrics;
        // The concurrency gauge is read from the route counters at scrape time instead of being updated per request.
        metrics.Registry.AddBeforeCollectCallback(() =>
        {
            foreach (var route in tables.Current.Routes)
            {
                route.Metrics.SetConcurrency(route.Counter.Concurrency);
            }
        });
    }

    protected override string Name => "metrics";

    protected override bool Enabled => _options.Value.MetricsEnabled;

    protected override int ConfiguredPort => _options.Value.MetricsPort;

    protected override System.Net.IPAddress? BindAddress => Updraft.Shared.Settings.BindAddressSetting.Parse(_options.Value.MetricsBindAddress);

    protected override void Map(WebApplication app) => app.MapMetrics("/metrics", _metrics.Registry);
}
