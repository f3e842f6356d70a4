using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Routing;

/// <summary>
/// <c>KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS</c>: <c>/readyz</c> turns 503, saying why, once the routing table has not been
/// confirmed current for longer, and 200 again once it is; on a fake clock.
/// </summary>
public sealed class RouteFreshnessTests
{
    private const string Refresh = "KEDA_HTTP_ROUTING_TABLE_REFRESH_INTERVAL";
    private const string MaxStaleness = "KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS";

    [Fact]
    public void Problem_NoConfirmationWithinMaxStaleness_NamesTheSourceAndWhy_ConfirmationClearsIt()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddDays(1));
        var freshness = new RouteFreshness(Microsoft.Extensions.Options.Options.Create(new InterceptorOptions { RoutingTableMaxStaleness = TimeSpan.FromMinutes(5) }), time);
        var confirmedAt = time.GetTimestamp();
        string? problem = null;
        freshness.Track(() => [new FreshnessConfirmation("interceptorroutes watch", confirmedAt, problem), new FreshnessConfirmation("not started", 0, null)]);
        using var readiness = new ReadinessState(freshness);
        var tables = new RouteTableHolder();
        tables.Publish(new RouteTable([]));

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Null(readiness.NotReadyReason(tables)); // exactly at the limit: still fresh

        problem = "connection refused";
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(
            "the routing table has not been confirmed current within KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS (5m0s): interceptorroutes watch last confirmed 5m1s ago (connection refused)",
            readiness.NotReadyReason(tables));
        Assert.False(readiness.IsReady(tables));

        confirmedAt = time.GetTimestamp();
        Assert.True(readiness.IsReady(tables));
    }

    [Fact]
    public async Task Readyz_RoutesFileUnreadableForLongerThanMaxStaleness_Is503SayingWhy_ThenBackTo200()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var routes = Routes.InterceptorRoute("app", TestUpstream.FreePort());
        await using var interceptor = await TestInterceptor.StartAsync(routes, new Dictionary<string, string?> { [Refresh] = "10s", [MaxStaleness] = "1m" }, time);
        Assert.Equal((200, "OK"), await interceptor.GetReadinessAsync());

        File.Delete(interceptor.RoutesFile);
        // Polls read the file every 2 s and fail; within the limit the table still counts as current.
        for (var i = 0; i < 19; i++)
        {
            time.Advance(TimeSpan.FromSeconds(3));
            await Task.Delay(5);
        }

        Assert.Equal((200, "OK"), await interceptor.GetReadinessAsync());
        var body = "";
        await TestInterceptor.WaitUntilAsync(
            async () =>
            {
                time.Advance(TimeSpan.FromSeconds(1));
                (_, body) = await interceptor.GetReadinessAsync();
                return body.Contains("cannot read the routes file", StringComparison.Ordinal);
            },
            "/readyz says the routes file cannot be read");
        var (status, _) = await interceptor.GetReadinessAsync();
        Assert.Equal(503, status);
        Assert.StartsWith("Service Unavailable: the routing table has not been confirmed current within KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS (1m0s): routes file ", body, StringComparison.Ordinal);
        Assert.Single(interceptor.Table.Routes); // the routes in force stay

        await File.WriteAllTextAsync(interceptor.RoutesFile, routes);
        await TestInterceptor.WaitUntilAsync(
            async () =>
            {
                time.Advance(TimeSpan.FromSeconds(1));
                return await interceptor.GetReadinessAsync() == (200, "OK");
            },
            "/readyz answers 200 once the file reads again");
    }

    [Theory]
    [InlineData(Refresh, "0s", null, "KEDA_HTTP_ROUTING_TABLE_REFRESH_INTERVAL=\"0s\" is not valid")]
    [InlineData(MaxStaleness, "soon", null, "KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS=\"soon\" is not valid")]
    [InlineData(Refresh, "2m", "1m", "KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS=1m0s is shorter than KEDA_HTTP_ROUTING_TABLE_REFRESH_INTERVAL=2m0s")]
    [InlineData(Refresh, "10m", null, "KEDA_HTTP_ROUTING_TABLE_MAX_STALENESS=5m0s is shorter than KEDA_HTTP_ROUTING_TABLE_REFRESH_INTERVAL=10m0s")]
    public async Task BadSetting_StartupFailsNamingIt(string variable, string value, string? maxStaleness, string expected)
    {
        var settings = new Dictionary<string, string?> { [variable] = value };
        if (maxStaleness is not null)
        {
            settings[MaxStaleness] = maxStaleness;
        }

        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() => TestInterceptor.StartAsync(Routes.InterceptorRoute("app", TestUpstream.FreePort()), settings));

        var message = Assert.Single(failure.Failures);
        Assert.StartsWith(expected, message, StringComparison.Ordinal);
    }
}
