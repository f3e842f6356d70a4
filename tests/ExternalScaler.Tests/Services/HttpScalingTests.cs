using System.Net;
using Grpc.Core;
using Microsoft.AspNetCore.Http;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Services;

/// <summary>KEDA's view of HTTP routes: specs, values, activation and push, against real interceptors.</summary>
public sealed class HttpScalingTests
{
    private const string Host = "app.example.com";

    [Fact]
    public async Task GetMetricSpec_InterceptorRouteWithBothMetrics_ReturnsAddOnNamesAndTargets()
    {
        await using var harness = await StartAsync(RoutesYaml.InterceptorRoute("app", FreePort(), Host,
            "{concurrency: {targetValue: 7}, requestRate: {targetValue: 30, window: 1m, granularity: 1s}}"));

        var spec = await harness.Client.GetMetricSpecAsync(Ref("so", ("interceptorRoute", "app")));

        Assert.Equal(
            [("http_app_concurrency", 7.0, 7L), ("http_app_rate", 30.0, 30L)],
            spec.MetricSpecs.Select(s => (s.MetricName, s.TargetSizeFloat, s.TargetSize)));
    }

    [Fact]
    public async Task GetMetricSpec_HttpScaledObject_UsesEscapedNameAndTarget()
    {
        await using var harness = await StartAsync(RoutesYaml.HttpScaledObject("xkcd", FreePort(), Host, "{concurrency: {targetValue: 12}}"));

        var spec = await harness.Client.GetMetricSpecAsync(Ref("so", ("httpScaledObject", "xkcd")));

        var single = Assert.Single(spec.MetricSpecs);
        Assert.Equal("http-default_002Fxkcd", single.MetricName);
        Assert.Equal(12, single.TargetSizeFloat);
    }

    [Fact]
    public async Task GetMetricSpec_HttpScaledObjectWithRequestRate_TargetIsTheRateTarget()
    {
        await using var harness = await StartAsync(RoutesYaml.HttpScaledObject("xkcd", FreePort(), Host, "{requestRate: {targetValue: 7, window: 1m, granularity: 1s}}"));

        var spec = await harness.Client.GetMetricSpecAsync(Ref("so", ("httpScaledObject", "xkcd")));

        var single = Assert.Single(spec.MetricSpecs);
        Assert.Equal(("http-default_002Fxkcd", 7.0, 7L), (single.MetricName, single.TargetSizeFloat, single.TargetSize));
    }

    [Theory]
    [InlineData("interceptorRoute", "missing", "http_missing_concurrency", StatusCode.NotFound, "default/missing")]
    [InlineData("httpScaledObject", "missing", "http-default_002Fmissing", StatusCode.NotFound, "default/missing")]
    [InlineData("interceptorTargetPendingRequests", "lots", "http-default_002Fso", StatusCode.InvalidArgument, "interceptorTargetPendingRequests")]
    [InlineData("somethingElse", "x", "http-default_002Fso", StatusCode.InvalidArgument, "interceptorRoute")]
    [InlineData("activationThreshold", "-1", "http-default_002Fso", StatusCode.InvalidArgument, "activationThreshold")]
    public async Task BadMetadata_SpecStillAnswersAndMetricsFailNamingTheKey(string key, string value, string defaultMetric, StatusCode code, string named)
    {
        await using var harness = await StartAsync(RoutesYaml.InterceptorRoute("app", FreePort(), Host));
        var reference = Ref("so", (key, value));

        var spec = await harness.Client.GetMetricSpecAsync(reference);
        var metrics = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference }));
        var active = await Assert.ThrowsAsync<RpcException>(async () => await harness.Client.IsActiveAsync(reference));

        var single = Assert.Single(spec.MetricSpecs);
        Assert.Equal(defaultMetric, single.MetricName);
        Assert.Equal(100, single.TargetSizeFloat);
        Assert.Equal(code, metrics.StatusCode);
        Assert.Contains(named, metrics.Status.Detail, StringComparison.Ordinal);
        Assert.Equal(code, active.StatusCode);
    }

    [Fact]
    public async Task StreamIsActive_FirstRequestToColdRoute_PushesTrueWhileTheRequestIsHeld()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context => await release.Task.WaitAsync(context.RequestAborted));
        // A long tick: only the interceptor's push can make the answer arrive while the request is held.
        await using var harness = await StartAsync(
            RoutesYaml.InterceptorRoute("app", upstream.Port, Host),
            settings: new Dictionary<string, string?> { ["KEDA_HTTP_QUEUE_TICK_DURATION"] = "60s", ["KEDA_HTTP_SCALER_STREAM_INTERVAL_MS"] = "60000" });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var stream = harness.Client.StreamIsActive(Ref("so", ("interceptorRoute", "app")), cancellationToken: cancel.Token);
        Assert.True(await stream.ResponseStream.MoveNext(cancel.Token));
        Assert.False(stream.ResponseStream.Current.Result);

        using var client = harness.ProxyClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = Host } };
        var pending = client.SendAsync(request);
        // Well under the 60 s tick and interval: only the push chain (interceptor -> scaler -> stream) answers in time.
        using var pushDeadline = CancellationTokenSource.CreateLinkedTokenSource(cancel.Token);
        pushDeadline.CancelAfter(TimeSpan.FromSeconds(15));
        Assert.True(await stream.ResponseStream.MoveNext(pushDeadline.Token));

        Assert.True(stream.ResponseStream.Current.Result);
        Assert.False(pending.IsCompleted);
        release.SetResult();
        using var response = await pending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task GetMetrics_HeldRequestsOnTwoInterceptors_SumConcurrencyAndFilterByName()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var arrived = 0;
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            Interlocked.Increment(ref arrived);
            await release.Task.WaitAsync(context.RequestAborted);
        });
        await using var harness = await StartAsync(
            RoutesYaml.InterceptorRoute("app", upstream.Port, Host, "{concurrency: {targetValue: 5}, requestRate: {targetValue: 50, window: 1m, granularity: 1s}}"),
            interceptors: 2);
        var reference = Ref("so", ("interceptorRoute", "app"));
        using var first = harness.ProxyClient(0);
        using var second = harness.ProxyClient(1);
        var pending = new List<Task<HttpResponseMessage>>();
        for (var i = 0; i < 5; i++)
        {
            var client = i < 3 ? first : second;
            pending.Add(client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = Host } }));
        }

        await WaitUntilAsync(async () =>
        {
            var values = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = "http_app_concurrency" });
            return values.MetricValues.Single().MetricValueFloat == 5;
        }, "the scaler sums 3 + 2 in-flight requests");
        var concurrency = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = "http_app_concurrency" });
        var both = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference });
        var active = await harness.Client.IsActiveAsync(reference);
        var wrongName = await Assert.ThrowsAsync<RpcException>(async () =>
            await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = "http_other_rate" }));

        Assert.Equal(5, Volatile.Read(ref arrived));
        var value = Assert.Single(concurrency.MetricValues);
        Assert.Equal(("http_app_concurrency", 5.0, 5L), (value.MetricName, value.MetricValueFloat, value.MetricValue_));
        Assert.Equal(["http_app_concurrency", "http_app_rate"], both.MetricValues.Select(v => v.MetricName));
        Assert.True(active.Result);
        Assert.Equal(StatusCode.NotFound, wrongName.StatusCode);

        release.SetResult();
        foreach (var response in await Task.WhenAll(pending))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }

        await WaitUntilAsync(async () =>
        {
            var values = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = "http_app_concurrency" });
            return values.MetricValues.Single().MetricValueFloat == 0;
        }, "the requests ended");
    }

    [Fact]
    public async Task GetMetrics_RequestRate_CountsRequestsPerGranularity()
    {
        await using var upstream = await TestUpstream.StartAsync(context => context.Response.WriteAsync("ok"));
        await using var harness = await StartAsync(
            RoutesYaml.InterceptorRoute("app", upstream.Port, Host, "{requestRate: {targetValue: 50, window: 1h, granularity: 1s}}"));
        var reference = Ref("so", ("interceptorRoute", "app"));

        // One request in a one-hour window: the add-on rounds 1/3600 to 0 and never wakes the workload (#1692).
        using var client = harness.ProxyClient();
        using (var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = Host } }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await WaitUntilAsync(async () => (await harness.Client.IsActiveAsync(reference)).Result, "a lone request activates the route");
        var values = await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference });

        var rate = Assert.Single(values.MetricValues);
        Assert.Equal("http_app_rate", rate.MetricName);
        Assert.InRange(rate.MetricValueFloat, double.Epsilon, 1.0);
        Assert.Equal(1, rate.MetricValue_);
    }

    [Fact]
    public async Task GetMetrics_FleetTrigger_SumsConcurrencyOfEveryRoute()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context => await release.Task.WaitAsync(context.RequestAborted));
        await using var harness = await StartAsync(RoutesYaml.Documents(
            RoutesYaml.InterceptorRoute("a", upstream.Port, "a.example.com"),
            RoutesYaml.InterceptorRoute("b", upstream.Port, "b.example.com")));
        var reference = Ref("interceptor", ("interceptorTargetPendingRequests", "200"));
        using var client = harness.ProxyClient();
        var pending = new[]
        {
            client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = "a.example.com" } }),
            client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = "b.example.com" } }),
        };

        var spec = await harness.Client.GetMetricSpecAsync(reference);
        await WaitUntilAsync(async () =>
            (await harness.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference })).MetricValues.Single().MetricValueFloat == 2,
            "both routes' requests are summed");

        Assert.Equal(("http-default_002Finterceptor", 200.0), (spec.MetricSpecs.Single().MetricName, spec.MetricSpecs.Single().TargetSizeFloat));
        release.SetResult();
        foreach (var response in await Task.WhenAll(pending))
        {
            response.Dispose();
        }
    }

    [Fact]
    public async Task StreamMetricSpec_TargetChangesInRoutesFile_SendsCurrentThenUpdatedSpec()
    {
        var port = FreePort();
        await using var harness = await StartAsync(RoutesYaml.InterceptorRoute("app", port, Host, "{concurrency: {targetValue: 10}}"));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var stream = harness.Client.StreamMetricSpec(Ref("so", ("interceptorRoute", "app")), cancellationToken: cancel.Token);

        Assert.True(await stream.ResponseStream.MoveNext(cancel.Token));
        Assert.Equal(10, stream.ResponseStream.Current.MetricSpecs.Single().TargetSizeFloat);
        await File.WriteAllTextAsync(harness.RoutesFile, RoutesYaml.InterceptorRoute("app", port, Host, "{concurrency: {targetValue: 25}}"));
        Assert.True(await stream.ResponseStream.MoveNext(cancel.Token));

        Assert.Equal(("http_app_concurrency", 25.0), (stream.ResponseStream.Current.MetricSpecs.Single().MetricName, stream.ResponseStream.Current.MetricSpecs.Single().TargetSizeFloat));
        Assert.Equal(25, (await harness.Client.GetMetricSpecAsync(Ref("so", ("interceptorRoute", "app")))).MetricSpecs.Single().TargetSizeFloat);
    }
}
