using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Admin;

/// <summary>The admin listener: <c>/queue</c> in the add-on's exact JSON shape, <c>/readyz</c> and <c>/livez</c>.</summary>
public sealed partial class AdminServerTests
{
    private const string Host = "app.example.com";

    [Fact]
    public async Task Queue_AfterRequests_IsExactlyTheAddOnDocument()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        for (var i = 0; i < 2; i++)
        {
            using var response = await interceptor.GetAsync(Host, "/");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync())["default/app"].Concurrency == 0, "the requests are released");
        using var admin = AdminClient(interceptor);
        using var queue = await admin.GetAsync("/queue");

        Assert.Equal(HttpStatusCode.OK, queue.StatusCode);
        Assert.Equal("application/json", queue.Content.Headers.ContentType!.ToString());
        Assert.Equal("""{"default/app":{"Concurrency":0,"RequestCount":2}}""", Encoding.UTF8.GetString(await queue.Content.ReadAsByteArrayAsync()));
    }

    [Fact]
    public async Task Queue_EveryKnownRoute_ListedWithExactPropertyNames()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        var yaml = Routes.Documents(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]),
            Routes.InterceptorRoute("checkout", upstream.Port, hosts: ["shop.example.com"], paths: ["/checkout"], ns: "shop"),
            $$$"""
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {name: no-rules, namespace: idle}
            spec:
              target: {service: 127.0.0.1, port: {{{upstream.Port}}}}
              rules: []
              scalingMetric: {concurrency: {targetValue: 10}}

            """,
            $$$"""
            apiVersion: http.keda.sh/v1alpha1
            kind: HTTPScaledObject
            metadata: {name: legacy, namespace: old}
            spec:
              hosts: [legacy.example.com]
              pathPrefixes: [/v1]
              scaleTargetRef: {name: legacy, kind: Deployment, apiVersion: apps/v1, service: 127.0.0.1, port: {{{upstream.Port}}}}
              replicas: {min: 0, max: 10}

            """);
        await using var interceptor = await TestInterceptor.StartAsync(yaml);
        foreach (var (host, path, times) in new[] { (Host, "/", 1), ("shop.example.com", "/checkout/pay", 2), ("legacy.example.com", "/v1/items", 3) })
        {
            for (var i = 0; i < times; i++)
            {
                using var response = await interceptor.GetAsync(host, path);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }

        await TestInterceptor.WaitUntilAsync(async () => (await interceptor.GetQueueAsync()).Values.All(e => e.Concurrency == 0), "the requests are released");
        using var admin = AdminClient(interceptor);
        using var queue = await admin.GetAsync("/queue");
        var text = await queue.Content.ReadAsStringAsync();

        Assert.Equal("application/json", queue.Content.Headers.ContentType!.ToString());
        // Raw text: no whitespace, the add-on's property names and casing, integers only.
        Assert.Matches(QueueDocument(), text);
        var counts = new Dictionary<string, (int Concurrency, long RequestCount)>();
        using (var document = JsonDocument.Parse(text))
        {
            foreach (var route in document.RootElement.EnumerateObject())
            {
                var properties = route.Value.EnumerateObject().ToList();
                Assert.Equal(["Concurrency", "RequestCount"], properties.Select(p => p.Name));
                counts.Add(route.Name, (properties[0].Value.GetInt32(), properties[1].Value.GetInt64()));
            }
        }

        Assert.Equal(
            new Dictionary<string, (int, long)>
            {
                ["default/app"] = (0, 1),
                ["shop/checkout"] = (0, 2),
                ["idle/no-rules"] = (0, 0),
                ["old/legacy"] = (0, 3),
            },
            counts);
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("POST")]
    [InlineData("HEAD")]
    public async Task Queue_AnyMethod_Answers200(string method)
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        using var admin = AdminClient(interceptor);

        using var response = await admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), "/queue"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType!.ToString());
        if (method != "HEAD")
        {
            Assert.Equal("""{"default/app":{"Concurrency":0,"RequestCount":0}}""", await response.Content.ReadAsStringAsync());
        }
    }

    [Fact]
    public async Task Queue_RequestHeldAtUpstream_ShowsItInFlight()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            arrived.TrySetResult();
            await release.Task.WaitAsync(context.RequestAborted);
        });
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        using var admin = AdminClient(interceptor);

        var pending = interceptor.GetAsync(Host, "/");
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(20));
        var held = await admin.GetStringAsync("/queue");
        release.SetResult();
        using var response = await pending;

        Assert.Equal("""{"default/app":{"Concurrency":1,"RequestCount":1}}""", held);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("/livez")]
    [InlineData("/readyz")]
    public async Task Probe_RoutesLoaded_Returns200Ok(string path)
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        using var admin = AdminClient(interceptor);

        using var response = await admin.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("OK", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Probe_Draining_ReadyzIs503AndLivezStays200()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", upstream.Port, hosts: [Host]));
        using var admin = AdminClient(interceptor);

        interceptor.Services.GetRequiredService<ReadinessState>().BeginDraining();
        using var ready = await admin.GetAsync("/readyz");
        using var live = await admin.GetAsync("/livez");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("Service Unavailable: shutting down", await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    private static HttpClient AdminClient(TestInterceptor interceptor) =>
        new(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{interceptor.AdminPort}") };

    [GeneratedRegex("""^\{"[^"/]+/[^"/]+":\{"Concurrency":\d+,"RequestCount":\d+\}(,"[^"/]+/[^"/]+":\{"Concurrency":\d+,"RequestCount":\d+\})*\}$""")]
    private static partial Regex QueueDocument();
}
