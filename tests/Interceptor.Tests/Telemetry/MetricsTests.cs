using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Telemetry;

/// <summary><c>/metrics</c> with the add-on's names and labels (§1.11 of the reference), read as Prometheus text.</summary>
public sealed class MetricsTests
{
    private const string Host = "shop.example.com";

    private static readonly string[] RequestLabels = ["code", "method", "route_name", "route_namespace"];

    [Fact]
    public async Task RequestCount_AfterRequests_OneSeriesPerCodeMethodAndRoute()
    {
        await using var upstream = await StatusUpstreamAsync();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("checkout", upstream.Port, hosts: [Host], ns: "shop"));

        for (var i = 0; i < 3; i++)
        {
            await SendAsync(interceptor, HttpMethod.Get, Host, "/status/200", HttpStatusCode.OK);
        }

        await SendAsync(interceptor, HttpMethod.Post, Host, "/status/418", (HttpStatusCode)418);
        var (_, samples) = await ScrapeAfterAsync(interceptor, 4);

        var series = samples.Where(s => s.Name == "interceptor_request_count_total").ToList();
        Assert.All(series, s => Assert.Equal(RequestLabels, s.Labels.Keys.Order(StringComparer.Ordinal)));
        Assert.Equal(3, Value(samples, "interceptor_request_count_total", ("code", "200"), ("method", "GET"), ("route_name", "checkout"), ("route_namespace", "shop")));
        Assert.Equal(1, Value(samples, "interceptor_request_count_total", ("code", "418"), ("method", "POST"), ("route_name", "checkout"), ("route_namespace", "shop")));
        Assert.Equal(4, series.Sum(s => s.Value));
    }

    [Fact]
    public async Task RequestDuration_AfterRequests_HistogramWithTheAddOnBucketsAndLabels()
    {
        await using var upstream = await StatusUpstreamAsync();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("checkout", upstream.Port, hosts: [Host], ns: "shop"));

        for (var i = 0; i < 3; i++)
        {
            await SendAsync(interceptor, HttpMethod.Get, Host, "/status/200", HttpStatusCode.OK);
        }

        var (text, samples) = await ScrapeAfterAsync(interceptor, 3);
        (string, string)[] labels = [("code", "200"), ("method", "GET"), ("route_name", "checkout"), ("route_namespace", "shop")];

        Assert.Contains("# TYPE interceptor_request_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Equal(3, Value(samples, "interceptor_request_duration_seconds_count", labels));
        Assert.True(Value(samples, "interceptor_request_duration_seconds_sum", labels) > 0);
        var buckets = samples.Where(s => s.Name == "interceptor_request_duration_seconds_bucket" && Matches(s, labels)).ToList();
        Assert.Equal(
            ["0.005", "0.01", "0.025", "0.05", "0.075", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5", "7.5", "10", "+Inf"],
            buckets.Select(b => b.Labels["le"]));
        Assert.Equal(3, buckets[^1].Value);
        Assert.True(buckets.Zip(buckets.Skip(1)).All(p => p.First.Value <= p.Second.Value), "buckets are cumulative");
        Assert.All(
            samples.Where(s => s.Name.StartsWith("interceptor_request_duration_seconds", StringComparison.Ordinal)),
            s => Assert.Equal(
                (s.Name.EndsWith("_bucket", StringComparison.Ordinal) ? [.. RequestLabels, "le"] : RequestLabels).Order(StringComparer.Ordinal),
                s.Labels.Keys.Order(StringComparer.Ordinal)));
    }

    [Fact]
    public async Task Concurrency_RequestHeld_GaugeCountsItForItsRouteOnly()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var held = await TestUpstream.StartAsync(async context =>
        {
            arrived.TrySetResult();
            await release.Task.WaitAsync(context.RequestAborted);
        });
        await using var other = await TestUpstream.StartNamedAsync("other");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("slow", held.Port, hosts: ["slow.example.com"], ns: "shop"),
            Routes.InterceptorRoute("fast", other.Port, hosts: ["fast.example.com"], ns: "shop")));

        var pending = interceptor.GetAsync("slow.example.com", "/");
        try
        {
            await arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
            await SendAsync(interceptor, HttpMethod.Get, "fast.example.com", "/", HttpStatusCode.OK);
            await SendAsync(interceptor, HttpMethod.Get, "unknown.example.com", "/", HttpStatusCode.NotFound);
            var whileHeld = Parse(await interceptor.GetMetricsTextAsync());

            Assert.Equal(1, Value(whileHeld, "interceptor_request_concurrency", ("route_name", "slow"), ("route_namespace", "shop")));
            Assert.Equal(0, Value(whileHeld, "interceptor_request_concurrency", ("route_name", "fast"), ("route_namespace", "shop")));
            // One series per route, and none for requests that match no route.
            Assert.Equal(
                ["fast", "slow"],
                whileHeld.Where(s => s.Name == "interceptor_request_concurrency").Select(s => s.Labels["route_name"]).Order(StringComparer.Ordinal));
            Assert.All(
                whileHeld.Where(s => s.Name == "interceptor_request_concurrency"),
                s => Assert.Equal(["route_name", "route_namespace"], s.Labels.Keys.Order(StringComparer.Ordinal)));
        }
        finally
        {
            release.TrySetResult();
        }

        using var response = await pending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await TestInterceptor.WaitUntilAsync(
            async () => Value(Parse(await interceptor.GetMetricsTextAsync()), "interceptor_request_concurrency", ("route_name", "slow"), ("route_namespace", "shop")) == 0,
            "the gauge returns to 0");
    }

    [Fact]
    public async Task RequestCount_UnknownHost_EmptyRouteLabelsAndNoTraceOfTheHost()
    {
        await using var upstream = await StatusUpstreamAsync();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("checkout", upstream.Port, hosts: [Host], ns: "shop"));
        var hostToken = "h" + Guid.NewGuid().ToString("N");
        var pathToken = "p" + Guid.NewGuid().ToString("N");

        await SendAsync(interceptor, HttpMethod.Get, hostToken + ".example.net", "/" + pathToken, HttpStatusCode.NotFound);
        await SendAsync(interceptor, HttpMethod.Get, hostToken + ".example.net:8080", "/" + pathToken, HttpStatusCode.NotFound);
        var (text, samples) = await ScrapeAfterAsync(interceptor, 2);

        Assert.Equal(2, Value(samples, "interceptor_request_count_total", ("code", "404"), ("method", "GET"), ("route_name", ""), ("route_namespace", "")));
        Assert.Equal(2, Value(samples, "interceptor_request_duration_seconds_count", ("code", "404"), ("method", "GET"), ("route_name", ""), ("route_namespace", "")));
        Assert.DoesNotContain(hostToken, text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(pathToken, text, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(samples, s => s.Name == "interceptor_request_count_total" && s.Labels["route_name"] == "checkout");
        Assert.DoesNotContain(samples, s => s.Name == "interceptor_request_concurrency" && s.Labels["route_name"] == "");
    }

    [Theory]
    [InlineData("GET", "GET")]
    [InlineData("POST", "POST")]
    [InlineData("PUT", "PUT")]
    [InlineData("DELETE", "DELETE")]
    [InlineData("PATCH", "PATCH")]
    [InlineData("OPTIONS", "OPTIONS")]
    [InlineData("HEAD", "HEAD")]
    [InlineData("FOO", "_OTHER")]
    [InlineData("PROPFIND", "_OTHER")]
    public async Task RequestCount_Method_RecordedWithBoundedMethodLabel(string method, string label)
    {
        await using var upstream = await StatusUpstreamAsync();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("checkout", upstream.Port, hosts: [Host], ns: "shop"));

        await SendAsync(interceptor, new HttpMethod(method), Host, "/status/200", HttpStatusCode.OK);
        await SendAsync(interceptor, new HttpMethod(method), "unknown.example.net", "/", HttpStatusCode.NotFound);
        var (_, samples) = await ScrapeAfterAsync(interceptor, 2);

        Assert.Equal(1, Value(samples, "interceptor_request_count_total", ("code", "200"), ("method", label), ("route_name", "checkout"), ("route_namespace", "shop")));
        Assert.Equal(1, Value(samples, "interceptor_request_count_total", ("code", "404"), ("method", label), ("route_name", ""), ("route_namespace", "")));
        Assert.All(samples.Where(s => s.Name == "interceptor_request_count_total"), s => Assert.Equal(label, s.Labels["method"]));
    }

    /// <summary>An upstream that answers <c>/status/N</c> with status N, anything else with 200.</summary>
    private static Task<TestUpstream> StatusUpstreamAsync() =>
        TestUpstream.StartAsync(context =>
        {
            var segments = context.Request.Path.Value!.Split('/', StringSplitOptions.RemoveEmptyEntries);
            context.Response.StatusCode = segments is ["status", var code] ? int.Parse(code, CultureInfo.InvariantCulture) : 200;
            return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.WriteAsync("done");
        });

    private static async Task SendAsync(TestInterceptor interceptor, HttpMethod method, string host, string path, HttpStatusCode expected)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Host = host;
        using var response = await interceptor.Client.SendAsync(request);
        Assert.Equal(expected, response.StatusCode);
        await response.Content.ReadAsByteArrayAsync();
    }

    [Fact]
    public async Task TargetInfo_Scraped_OneWithTheAddOnsServiceNameAndTheVersion()
    {
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("checkout", 9, hosts: [Host], ns: "shop"));

        var text = await interceptor.GetMetricsTextAsync();

        Assert.Contains("# TYPE target_info gauge", text, StringComparison.Ordinal);
        var info = Assert.Single(Parse(text), s => s.Name == "target_info");
        Assert.Equal(1, info.Value);
        Assert.Equal(new Dictionary<string, string> { ["service_name"] = "keda-http-interceptor", ["service_version"] = Updraft.Interceptor.Telemetry.InterceptorMetrics.Version }, info.Labels);
        Assert.False(string.IsNullOrEmpty(Updraft.Interceptor.Telemetry.InterceptorMetrics.Version));
    }

    [Fact]
    public async Task GcCommittedMemory_Scraped_AGaugeOfTheHeapsCommittedBytes()
    {
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("checkout", 9, hosts: [Host], ns: "shop"));
        GC.Collect();

        var text = await interceptor.GetMetricsTextAsync();

        Assert.Contains("# TYPE dotnet_gc_last_collection_memory_committed_size_bytes gauge", text, StringComparison.Ordinal);
        var committed = Assert.Single(Parse(text), s => s.Name == "dotnet_gc_last_collection_memory_committed_size_bytes");
        // Set when scraped (an unset gauge reads 0): at least the heap that survived the collection above, and no more
        // than the process has mapped.
        Assert.InRange(committed.Value, 1024 * 1024, System.Diagnostics.Process.GetCurrentProcess().VirtualMemorySize64);
    }

    /// <summary>
    /// Scrapes once <paramref name="requests"/> requests are recorded in both the counter and the histogram: a request
    /// is recorded just after its response completes, so the client can see the response first.
    /// </summary>
    private static async Task<(string Text, List<Sample> Samples)> ScrapeAfterAsync(TestInterceptor interceptor, int requests)
    {
        var text = "";
        var samples = new List<Sample>();
        await TestInterceptor.WaitUntilAsync(
            async () =>
            {
                text = await interceptor.GetMetricsTextAsync();
                samples = Parse(text);
                return samples.Where(s => s.Name == "interceptor_request_count_total").Sum(s => s.Value) == requests
                    && samples.Where(s => s.Name == "interceptor_request_duration_seconds_count").Sum(s => s.Value) == requests;
            },
            $"{requests} requests are recorded");
        return (text, samples);
    }

    private static bool Matches(Sample sample, (string Name, string Value)[] labels) =>
        labels.All(l => sample.Labels.TryGetValue(l.Name, out var v) && v == l.Value);

    /// <summary>The value of the one sample named <paramref name="name"/> with exactly <paramref name="labels"/> (plus none other than <c>le</c>).</summary>
    private static double Value(List<Sample> samples, string name, params (string Name, string Value)[] labels) =>
        Assert.Single(samples, s => s.Name == name && s.Labels.Count == labels.Length && Matches(s, labels)).Value;

    /// <summary>Parses Prometheus text exposition: <c>name{label="value",...} value</c> per line, comments skipped.</summary>
    private static List<Sample> Parse(string text)
    {
        var samples = new List<Sample>();
        foreach (var line in text.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            var labels = new Dictionary<string, string>(StringComparer.Ordinal);
            var brace = line.IndexOf('{', StringComparison.Ordinal);
            var space = line.IndexOf(' ', StringComparison.Ordinal);
            string name;
            int rest;
            if (brace >= 0 && brace < space)
            {
                name = line[..brace];
                var i = brace + 1;
                while (line[i] != '}')
                {
                    var eq = line.IndexOf('=', i);
                    var labelName = line[i..eq];
                    Assert.Equal('"', line[eq + 1]);
                    var value = new StringBuilder();
                    var j = eq + 2;
                    for (; line[j] != '"'; j++)
                    {
                        if (line[j] == '\\')
                        {
                            j++;
                            value.Append(line[j] == 'n' ? '\n' : line[j]);
                        }
                        else
                        {
                            value.Append(line[j]);
                        }
                    }

                    labels.Add(labelName, value.ToString());
                    i = line[j + 1] == ',' ? j + 2 : j + 1;
                }

                rest = i + 1;
            }
            else
            {
                name = line[..space];
                rest = space;
            }

            var valueText = line[rest..].Trim().Split(' ')[0];
            var number = valueText switch
            {
                "+Inf" => double.PositiveInfinity,
                "-Inf" => double.NegativeInfinity,
                "NaN" => double.NaN,
                _ => double.Parse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture),
            };
            samples.Add(new Sample(name, labels, number));
        }

        return samples;
    }

    private sealed record Sample(string Name, Dictionary<string, string> Labels, double Value);
}
