using OpenTelemetry;
using OpenTelemetry.Metrics;
using Updraft.Interceptor.Telemetry;

namespace Updraft.Interceptor.Tests.Telemetry;

/// <summary>Recording a request on the OTLP instruments, with the OpenTelemetry SDK listening: the same series, no allocation.</summary>
public sealed class InterceptorInstrumentsTests
{
    private const int Requests = 1000;

    [Fact]
    public void Record_SdkListening_AllocatesNothingPerRequestAndCountsEachOne()
    {
        using var metrics = new InterceptorMetrics(() => []);
        var exporter = new LastExport();
        using var reader = new BaseExportingMetricReader(exporter);
        using var provider = Sdk.CreateMeterProviderBuilder().AddMeter(InterceptorInstruments.MeterName).AddReader(reader).Build();
        // A route no other test uses: an SDK in this process listens to every meter of this name, other tests' too.
        var route = metrics.ForRoute("unit", "instruments");
        // The first request of a series creates it (the Prometheus children, the attributes, the SDK's metric point).
        route.Record("GET", 200, 0.01);
        route.Record("POST", 503, 0.02);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Requests; i++)
        {
            route.Record("GET", 200, 0.01);
            route.Record("POST", 503, 0.02);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(reader.Collect());
        Assert.Equal(Requests + 1, exporter.Sums["interceptor.request.count GET 200 instruments unit"]);
        Assert.Equal(Requests + 1, exporter.Sums["interceptor.request.count POST 503 instruments unit"]);
        Assert.Equal(Requests + 1, exporter.Counts["interceptor.request.duration GET 200 instruments unit"]);
    }

    [Fact]
    public void Record_OtlpMetricsOff_NoInstrumentsAndNothingAllocated()
    {
        using var metrics = new InterceptorMetrics();
        var route = metrics.ForRoute("unit", "instruments");
        route.Record("GET", 200, 0.01);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < Requests; i++)
        {
            route.Record("GET", 200, 0.01);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Null(metrics.Instruments);
        Assert.Empty(route.ConcurrencyTags);
    }

    /// <summary>Keeps the last collected values by "instrument method code route_name route_namespace".</summary>
    private sealed class LastExport : BaseExporter<Metric>
    {
        public Dictionary<string, long> Sums { get; } = [];

        public Dictionary<string, long> Counts { get; } = [];

        public override ExportResult Export(in Batch<Metric> batch)
        {
            foreach (var metric in batch)
            {
                foreach (ref readonly var point in metric.GetMetricPoints())
                {
                    var tags = new Dictionary<string, object?>();
                    foreach (var tag in point.Tags)
                    {
                        tags[tag.Key] = tag.Value;
                    }

                    var key = $"{metric.Name} {tags.GetValueOrDefault("method")} {tags.GetValueOrDefault("code")} {tags.GetValueOrDefault("route_name")} {tags.GetValueOrDefault("route_namespace")}";
                    if (metric.MetricType == MetricType.LongSumNonMonotonic)
                    {
                        continue;
                    }

                    if (metric.MetricType == MetricType.Histogram)
                    {
                        Counts[key] = point.GetHistogramCount();
                    }
                    else
                    {
                        Sums[key] = point.GetSumLong();
                    }
                }
            }

            return ExportResult.Success;
        }
    }
}
