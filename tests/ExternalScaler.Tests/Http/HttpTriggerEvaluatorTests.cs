using Grpc.Core;
using Updraft.ExternalScaler.Http;
using Updraft.ExternalScaler.Routes;
using Updraft.ExternalScaler.Services;
using Updraft.Shared.Routes;

namespace Updraft.ExternalScaler.Tests.Http;

/// <summary>The HTTP source's answers from snapshots alone: table-driven over routes, loads and metadata.</summary>
public sealed class HttpTriggerEvaluatorTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 26, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData(3, 0.0, true)]
    [InlineData(3, 2.0, true)]
    [InlineData(3, 3.0, false)] // strictly above, KEDA's convention
    [InlineData(0, 0.0, false)]
    public void IsActive_ActivationThreshold_StrictlyAbove(int concurrency, double threshold, bool expected)
    {
        var routes = Catalog(Route("app", new ConcurrencyTarget(10), null));
        var trigger = HttpTrigger.Parse("default", "so", Metadata(("interceptorRoute", "app"), ("activationThreshold", threshold.ToString(System.Globalization.CultureInfo.InvariantCulture))));

        var readings = HttpTriggerEvaluator.Read(trigger, routes, Load(("default/app", concurrency, 0)), metricName: null);

        Assert.True(readings.Succeeded);
        Assert.Equal(expected, HttpTriggerEvaluator.IsActive(readings, trigger.ActivationThreshold));
    }

    [Fact]
    public void Read_RouteWithNeitherMetric_FailsNamingTheRouteWhileSpecStillAnswers()
    {
        var routes = Catalog(Route("app", null, null));
        var trigger = HttpTrigger.Parse("default", "so", Metadata(("interceptorRoute", "app")));

        var readings = HttpTriggerEvaluator.Read(trigger, routes, Load(("default/app", 1, 1)), metricName: null);
        var specs = HttpTriggerEvaluator.Specs(trigger, routes);

        Assert.Equal(StatusCode.FailedPrecondition, readings.Error);
        Assert.Contains("default/app", readings.Message, StringComparison.Ordinal);
        Assert.Equal([new MetricTarget("http_app_concurrency", HttpTrigger.DefaultTarget)], specs);
    }

    [Fact]
    public void Read_RoutesNotLoadedYet_UnavailableNotZero()
    {
        var trigger = HttpTrigger.Parse("default", "so", Metadata(("interceptorRoute", "app")));

        var readings = HttpTriggerEvaluator.Read(trigger, new RouteCatalog().Current, Load(), metricName: null);

        Assert.Equal(StatusCode.Unavailable, readings.Error);
        Assert.Empty(readings.Values);
    }

    [Theory]
    [InlineData("", new[] { "http_app_concurrency", "http_app_rate" })]
    [InlineData("http_app_concurrency", new[] { "http_app_concurrency" })]
    [InlineData("http_app_rate", new[] { "http_app_rate" })]
    public void Read_MetricNameFilter_ReturnsOnlyTheRequestedMetric(string metricName, string[] expected)
    {
        var routes = Catalog(Route("app", new ConcurrencyTarget(5), new RequestRateTarget(50, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1))));
        var trigger = HttpTrigger.Parse("default", "so", Metadata(("interceptorRoute", "app")));

        var readings = HttpTriggerEvaluator.Read(trigger, routes, Load(("default/app", 2, 0)), metricName);

        Assert.Equal(expected, readings.Values.Select(v => v.Name));
    }

    [Fact]
    public void Read_HttpScaledObjectWithRate_ReportsRateUnderEscapedName()
    {
        var routes = Catalog(Route("web-1", null, new RequestRateTarget(7, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1)), RouteSourceKind.HttpScaledObject));
        var trigger = HttpTrigger.Parse("default", "so", Metadata(("httpScaledObject", "web-1")));
        var load = new HttpLoadSnapshot(new Dictionary<string, RouteLoad> { ["default/web-1"] = new(4, 12.5) }, 4, 1, 1, Now);

        var readings = HttpTriggerEvaluator.Read(trigger, routes, load, metricName: null);

        Assert.Equal([new MetricReading("http-default_002Fweb-1", 12.5)], readings.Values);
    }

    [Theory]
    // concurrency target, requestRate target, expected HPA target
    [InlineData(12, null, 12.0)]
    [InlineData(null, 7, 7.0)]
    [InlineData(null, null, 100.0)] // no metric (not possible once validated): the documented default
    public void Specs_HttpScaledObject_TargetOfItsMetric(int? concurrency, int? rate, double expected)
    {
        var routes = Catalog(Route(
            "web-1",
            concurrency is { } c ? new ConcurrencyTarget(c) : null,
            rate is { } r ? new RequestRateTarget(r, TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1)) : null,
            RouteSourceKind.HttpScaledObject));
        var trigger = HttpTrigger.Parse("default", "so", Metadata(("httpScaledObject", "web-1")));

        var specs = HttpTriggerEvaluator.Specs(trigger, routes);

        Assert.Equal([new MetricTarget("http-default_002Fweb-1", expected)], specs);
    }

    private static Dictionary<string, string> Metadata(params (string Key, string Value)[] entries) => entries.ToDictionary(e => e.Key, e => e.Value);

    private static RouteDefinition Route(string name, ConcurrencyTarget? concurrency, RequestRateTarget? rate, RouteSourceKind source = RouteSourceKind.InterceptorRoute) =>
        new("default", name)
        {
            Source = source,
            Target = new UpstreamRef("127.0.0.1", 80, null),
            Rules = [],
            ScalingMetric = new ScalingMetricDefinition(concurrency, rate),
        };

    private static RouteCatalog.Snapshot Catalog(params RouteDefinition[] routes)
    {
        var catalog = new RouteCatalog();
        catalog.Publish(routes);
        return catalog.Current;
    }

    private static HttpLoadSnapshot Load(params (string Key, int Concurrency, double Rate)[] routes) =>
        new(routes.ToDictionary(r => r.Key, r => new RouteLoad(r.Concurrency, r.Rate)), routes.Sum(r => r.Concurrency), freshReplicas: 1, replicas: 1, Now);
}
