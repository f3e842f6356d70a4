using System.Globalization;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Updraft.ExternalScaler.Routes;
using Updraft.ExternalScaler.Telemetry;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.ExternalScaler.Tests.Kubernetes;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Telemetry;

/// <summary>
/// The add-on's scaler metrics (<c>scaler_pinger_*</c>, <c>target_info</c>) and the route table's rebuild time, scraped
/// from a real scaler's <c>/metrics</c> while it follows real interceptors (streaming), the add-on's kind of replica
/// (<c>/queue</c> only), and an address where nothing listens.
/// </summary>
public sealed class PingerMetricsTests
{
    private const string Endpoints = "scaler_pinger_endpoints";
    private const string Unreachable = "scaler_pinger_unreachable_pods";
    private const string Errors = "scaler_pinger_fetch_errors_total";
    private const string FetchCount = "scaler_pinger_fetch_duration_seconds_count";
    private const string RoutesBuilt = "scaler_routing_table_last_rebuild_timestamp_seconds";

    private static readonly string Routes = RoutesYaml.InterceptorRoute("app", 9, "app.test");

    [Fact]
    public async Task PingerMetrics_TwoStreamingInterceptorsThenOneStops_EndpointsUnreachableAndErrorsMove()
    {
        await using var harness = await ScalerHarness.StartAsync(Routes, interceptors: 2);
        var healthy = await WaitForAsync(harness, m => m[Endpoints] == 2 && m[Unreachable] == 0 && m[FetchCount] >= 4, "both replicas followed and fetched from");

        await harness.Interceptors[1].StopAsync();
        var oneDown = await WaitForAsync(harness, m => m[Unreachable] == 1 && m[Errors] > healthy[Errors], "the stopped replica is unreachable");
        var later = await WaitForAsync(harness, m => m[Unreachable] == 1 && m[Errors] > oneDown[Errors] && m[FetchCount] > oneDown[FetchCount], "errors and fetches keep counting");

        Assert.Equal(2, oneDown[Endpoints]); // still in the list: the scaler keeps dialling it
        Assert.Equal(2, later[Endpoints]);
        Assert.True(later[FetchCount] > healthy[FetchCount]);
    }

    [Fact]
    public async Task PingerMetrics_QueueOnlyReplicaAndDeadAddress_PollsObservedInTheAddOnsBucketsAndErrorsCounted()
    {
        await using var polled = await FakeInterceptor.StartAsync();
        polled.Report("default/app", concurrency: 1, requestCount: 0);
        var dead = $"127.0.0.1:{FreePort()}";
        await using var harness = await ScalerHarness.StartAsync(Routes, interceptors: 0, extraInterceptorAddresses: [polled.Address, dead], waitForCounts: false);

        // The queue-only replica is polled once its stream attempt failed (that attempt is a failed fetch too).
        await WaitUntilAsync(() => Task.FromResult(Volatile.Read(ref polled.Polls) >= 2), "the queue-only replica is polled");
        var first = await WaitForAsync(harness, m => m[Endpoints] == 2 && m[Unreachable] == 1 && m[Errors] >= 1, "one replica answers, one refuses");
        var later = await WaitForAsync(harness, m => m[Errors] > first[Errors] && m[FetchCount] > first[FetchCount], "both keep counting");
        var text = await ScrapeTextAsync(harness);

        Assert.True(later[FetchCount] >= 3);
        string[] buckets = ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5", "+Inf"];
        var seen = text.Split('\n')
            .Where(l => l.StartsWith("scaler_pinger_fetch_duration_seconds_bucket{le=\"", StringComparison.Ordinal))
            .Select(l => l.Split('"')[1])
            .ToArray();
        Assert.Equal(buckets, seen);
        var all = Parse(text);
        Assert.Equal(all[FetchCount], all["scaler_pinger_fetch_duration_seconds_bucket{le=\"+Inf\"}"]);
        Assert.Contains("# TYPE scaler_pinger_fetch_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE scaler_pinger_fetch_errors_total counter", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE scaler_pinger_unreachable_pods gauge", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE scaler_pinger_endpoints gauge", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TargetInfo_Scraped_OneWithTheAddOnsServiceNameAndTheVersion()
    {
        await using var harness = await ScalerHarness.StartAsync(Routes, interceptors: 0, waitForCounts: false);

        var text = await ScrapeTextAsync(harness);

        Assert.Contains("# TYPE target_info gauge", text, StringComparison.Ordinal);
        var line = Assert.Single(text.Split('\n'), l => l.StartsWith("target_info{", StringComparison.Ordinal));
        Assert.Equal($"target_info{{service_name=\"keda-http-external-scaler\",service_version=\"{ScalerMetrics.Version}\"}} 1", line);
        Assert.False(string.IsNullOrEmpty(ScalerMetrics.Version));
    }

    [Fact]
    public async Task RoutingTableRebuildTimestamp_RoutesFileChanges_MovesForward()
    {
        await using var harness = await ScalerHarness.StartAsync(Routes, interceptors: 0, waitForCounts: false);
        var loaded = await WaitForAsync(harness, m => m[RoutesBuilt] > 0, "the routes are loaded");
        var catalog = harness.Services.GetRequiredService<RouteCatalog>();

        var rewritten = DateTimeOffset.UtcNow;
        await File.WriteAllTextAsync(harness.RoutesFile, RoutesYaml.Documents(Routes, RoutesYaml.InterceptorRoute("other", 9, "other.test")));
        await WaitUntilAsync(() => Task.FromResult(catalog.Current.Routes.Count == 2), "the new routes are loaded");
        var rebuilt = await ScrapeAsync(harness);

        Assert.InRange(loaded[RoutesBuilt], DateTimeOffset.UtcNow.AddMinutes(-5).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds());
        Assert.True(rebuilt[RoutesBuilt] > loaded[RoutesBuilt]);
        Assert.True(rebuilt[RoutesBuilt] >= rewritten.ToUnixTimeMilliseconds() / 1000.0, "the rebuild is the reload after the rewrite");
    }

    [Fact]
    public async Task Resync_KubernetesModeWithoutAnyChange_RebuildsTheRouteTableEveryPeriod()
    {
        await using var cluster = await FakeCluster.StartAsync();
        cluster.UpsertRoute("app");
        var settings = cluster.Settings(FreePort());
        settings["KEDA_HTTP_SCALER_CONFIG_MAP_INFORMER_RSYNC_PERIOD"] = "1s";
        await using var scaler = await ScalerHarness.StartAsync("", interceptors: 0, settings: settings, waitForCounts: false);
        var catalog = scaler.Services.GetRequiredService<RouteCatalog>();
        await WaitUntilAsync(() => Task.FromResult(catalog.Current.Loaded), "the routes are synced");
        var first = catalog.Current;
        var firstScrape = await ScrapeAsync(scaler);

        await WaitUntilAsync(() => Task.FromResult(!ReferenceEquals(catalog.Current, first)), "a resync rebuilds the routes");
        var second = await WaitForAsync(scaler, m => m[RoutesBuilt] > firstScrape[RoutesBuilt], "the rebuild time moves");

        Assert.Equal(["default/app"], catalog.Current.Routes.Select(r => r.Key));
        Assert.True(second[RoutesBuilt] > 0);
    }

    private static async Task<Dictionary<string, double>> WaitForAsync(ScalerHarness harness, Func<Dictionary<string, double>, bool> condition, string what)
    {
        Dictionary<string, double> metrics = [];
        await WaitUntilAsync(async () => condition(metrics = await ScrapeAsync(harness)), what);
        return metrics;
    }

    private static async Task<Dictionary<string, double>> ScrapeAsync(ScalerHarness harness) => Parse(await ScrapeTextAsync(harness));

    private static async Task<string> ScrapeTextAsync(ScalerHarness harness)
    {
        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        return await http.GetStringAsync(new Uri($"http://{IPAddress.Loopback}:{harness.MetricsPort}/metrics"));
    }

    /// <summary>Every sample by its series (name and labels as written).</summary>
    private static Dictionary<string, double> Parse(string text)
    {
        var samples = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            samples[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return samples;
    }
}
