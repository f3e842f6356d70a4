using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;
using Microsoft.Extensions.Time.Testing;
using Updraft.Interceptor.Admin;
using Updraft.Interceptor.Routing;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Admin;

/// <summary>The status page's snapshot, its JSON and its HTML, without a browser or a server.</summary>
public sealed class StatusSnapshotTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Json_RouteState_EveryFieldFromTheRoutesCounters()
    {
        var time = new FakeTimeProvider(Now);
        var holder = Publish(time, Routes.Documents(
            Routes.InterceptorRoute("app", 8081, hosts: ["app.example.com", "*.app.example.com"], paths: ["/api", "/v2/"]),
            Routes.InterceptorRoute("other", 8082)));
        var app = holder.Current.ByKey["default/app"];
        app.Counter.Begin();
        app.Counter.Begin();
        app.Counter.End();
        Assert.True(app.HoldQueue.TryEnter(0));
        app.Metrics.RecordColdStartRejection();
        app.Metrics.RecordColdStartRejection();
        var heldSince = time.GetTimestamp();
        time.Advance(TimeSpan.FromMilliseconds(1500));
        app.HoldQueue.ColdStarts.Released(new object(), heldSince, time);
        time.Advance(TimeSpan.FromSeconds(4));

        var json = Json(holder, time, StatusQuery.Default);

        var route = json["routes"]!["items"]![0]!;
        Assert.Equal("default/app", (string?)route["key"]);
        Assert.Equal(["app.example.com", "*.app.example.com"], route["hosts"]!.AsArray().Select(h => (string?)h));
        Assert.Equal(["/api", "/v2"], route["paths"]!.AsArray().Select(p => (string?)p));
        Assert.Equal("127.0.0.1:8081", (string?)route["target"]);
        Assert.Equal("unknown", (string?)route["readiness"]);
        Assert.Equal(1, (int)route["inFlight"]!);
        Assert.Equal(1, (int)route["held"]!);
        Assert.Equal(2, (long)route["requests"]!);
        Assert.Null(route["ratePerSecond"]); // first look: nothing to compare with yet
        Assert.Equal(2, (long)route["overflowRejections"]!);
        Assert.Equal(1.5, (double)route["lastColdStart"]!["seconds"]!);
        Assert.Equal(4.0, (double)route["lastColdStart"]!["agoSeconds"]!);
        Assert.Equal(1, (int)route["lastColdStart"]!["released"]!);
        var other = json["routes"]!["items"]![1]!;
        Assert.Equal(["*"], other["hosts"]!.AsArray().Select(h => (string?)h));
        Assert.Equal(["/"], other["paths"]!.AsArray().Select(p => (string?)p));
        Assert.Null(other["lastColdStart"]);

        var interceptor = json["interceptor"]!;
        Assert.Equal("standalone", (string?)interceptor["mode"]);
        Assert.True((bool)interceptor["ready"]!);
        Assert.False((bool)interceptor["draining"]!);
        Assert.Equal(1, (long)interceptor["routeTable"]!["version"]!);
        Assert.Equal(5.5, (double)interceptor["routeTable"]!["ageSeconds"]!);
        Assert.Equal(2, (int)interceptor["routeTable"]!["routes"]!);
        Assert.Equal("routes-file", (string?)interceptor["source"]!["kind"]);
        Assert.False((bool)interceptor["source"]!["healthy"]!);
        Assert.Equal(["last reload failed: <bad>"], interceptor["source"]!["details"]!.AsArray().Select(d => (string?)d));
    }

    [Fact]
    public void Json_RequestRate_CountDifferenceOverAtLeastOneSecond()
    {
        var time = new FakeTimeProvider(Now);
        var holder = Publish(time, Routes.InterceptorRoute("app", 8081));
        var counter = holder.Current.ByKey["default/app"].Counter;
        Assert.Null(Rate(holder, time));

        for (var i = 0; i < 10; i++)
        {
            counter.Begin();
            counter.End();
        }

        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Null(Rate(holder, time)); // under a second: the window has not closed
        time.Advance(TimeSpan.FromMilliseconds(1500));
        Assert.Equal(5.0, Rate(holder, time)); // 10 requests in 2 s
        time.Advance(TimeSpan.FromMilliseconds(200));
        Assert.Equal(5.0, Rate(holder, time)); // the same window, looked at again
        time.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(0.0, Rate(holder, time));
    }

    [Fact]
    public void Snapshot_TenThousandRoutes_OnePageWithTheCountOfTheRest()
    {
        var time = new FakeTimeProvider(Now);
        var yaml = Routes.Documents([.. Enumerable.Range(0, 10_000).Select(i => Routes.InterceptorRoute($"r{i}", 8000 + (i % 100), hosts: [$"h{i}.example.com"]))]);
        var holder = Publish(time, yaml);

        var first = StatusSnapshot.Take(holder, Status(time), StatusQuery.Default, time);
        var last = StatusSnapshot.Take(holder, Status(time), new StatusQuery("", 9_950, StatusQuery.MaxLimit), time);
        var filtered = StatusSnapshot.Take(holder, Status(time), new StatusQuery("H999", 0, 10), time);
        var html = StatusPage.Render(first);
        var json = Json(holder, time, StatusQuery.Default);

        Assert.Equal(10_000, first.Matched);
        Assert.Equal(StatusQuery.DefaultLimit, first.Routes.Count);
        // Table order, which is stable from one refresh to the next.
        Assert.Equal(holder.Current.Routes[0].Key, first.Routes[0].Key);
        Assert.Equal(50, last.Routes.Count);
        Assert.Equal(holder.Current.Routes[9_950].Key, last.Routes[0].Key);
        // h999, h9990-h9999: 11 match (hosts compare ignoring case), 10 are shown.
        Assert.Equal(11, filtered.Matched);
        Assert.Equal(10, filtered.Routes.Count);
        Assert.Equal(9_900, (int)json["routes"]!["more"]!);
        Assert.Contains("Routes 1\u2013100 of 10000 (10000 in all); 9900 more", System.Net.WebUtility.HtmlDecode(html), StringComparison.Ordinal);
        Assert.Equal(100, CountOf(html, "<tr data-key="));
        Assert.True(html.Length < 200_000, $"the page is {html.Length} characters");
    }

    [Fact]
    public void Snapshot_ManyHostsAndPaths_ListsAFewAndCountsTheRest()
    {
        var time = new FakeTimeProvider(Now);
        var holder = Publish(time, Routes.InterceptorRoute(
            "wide", 8081, hosts: [.. Enumerable.Range(0, 20).Select(i => $"h{i}.example.com")], paths: [.. Enumerable.Range(0, 11).Select(i => $"/p{i}")]));

        var route = StatusSnapshot.Take(holder, Status(time), StatusQuery.Default, time).Routes.Single();

        Assert.Equal(StatusSnapshot.MaxListed, route.Hosts.Count);
        Assert.Equal(12, route.MoreHosts);
        Assert.Equal(3, route.MorePaths);
        Assert.Contains(route.Hosts[^1] + " +12 more", Text(StatusSnapshot.Take(holder, Status(time), StatusQuery.Default, time)), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", "", "", 0, StatusQuery.DefaultLimit)]
    [InlineData(" app ", "7", "20", 7, 20)]
    [InlineData("x", "-1", "0", 0, StatusQuery.DefaultLimit)]
    [InlineData("x", "abc", "1000000", 0, StatusQuery.MaxLimit)]
    [InlineData("x", "99999999999", "-5", 0, StatusQuery.DefaultLimit)]
    public void Query_OddParameters_ClampedNeverAnError(string filter, string offset, string limit, int expectedOffset, int expectedLimit)
    {
        var query = StatusQuery.From(new QueryCollection(new Dictionary<string, StringValues> { ["filter"] = filter, ["offset"] = offset, ["limit"] = limit }));

        Assert.Equal(filter.Trim(), query.Filter);
        Assert.Equal(expectedOffset, query.Offset);
        Assert.Equal(expectedLimit, query.Limit);
    }

    [Fact]
    public void Query_LongFilter_Truncated()
    {
        var query = StatusQuery.From(new QueryCollection(new Dictionary<string, StringValues> { ["filter"] = new string('a', 5000) }));

        Assert.Equal(StatusQuery.MaxFilterLength, query.Filter.Length);
    }

    [Fact]
    public void Html_HostilePathAndFilter_EncodedEverywhere()
    {
        const string Hostile = "/x\"><script>alert('p')</script><b>&amp;";
        var time = new FakeTimeProvider(Now);
        var holder = Publish(time, Routes.InterceptorRoute("hostile", 8081, paths: [Hostile.Replace("\"", "\\\"", StringComparison.Ordinal)]));
        var filter = "'\"><script>alert(1)</script>hostile";
        var view = StatusSnapshot.Take(holder, Status(time, problem: "<img src=x onerror=alert(2)>"), new StatusQuery(filter, 0, 10), time) with { Matched = 1 };
        view = view with { Routes = StatusSnapshot.Take(holder, Status(time), StatusQuery.Default, time).Routes };

        var html = StatusPage.Render(view);

        Assert.Equal(1, CountOf(html, "<script"));
        Assert.DoesNotContain("<b>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<img", html, StringComparison.Ordinal);
        Assert.Contains("/x&quot;&gt;&lt;script&gt;alert(&#x27;p&#x27;)&lt;/script&gt;&lt;b&gt;&amp;amp;", html, StringComparison.Ordinal);
        Assert.Contains("value=\"&#x27;&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;hostile\"", html, StringComparison.Ordinal);
        Assert.Contains("&lt;img src=x onerror=alert(2)&gt;", html, StringComparison.Ordinal);
        // The paging links carry the filter URL-encoded, then HTML-encoded.
        Assert.DoesNotContain("href=\"?filter='", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Json_HostileText_EscapedForHtmlContextsToo()
    {
        var time = new FakeTimeProvider(Now);
        var holder = Publish(time, Routes.InterceptorRoute("hostile", 8081, paths: ["/</script><script>alert(1)</script>"]));

        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            StatusSnapshot.WriteJson(StatusSnapshot.Take(holder, Status(time), StatusQuery.Default, time), writer);
        }

        var text = Encoding.UTF8.GetString(buffer.ToArray());
        Assert.DoesNotContain("<", text, StringComparison.Ordinal);
        Assert.Equal("/</script><script>alert(1)</script>", (string?)JsonNode.Parse(text)!["routes"]!["items"]![0]!["paths"]![0]);
    }

    [Fact]
    public void ColdStarts_RequestsReleasedByOneReadinessChange_OneColdStartFromTheEarliest()
    {
        var time = new FakeTimeProvider(Now);
        var history = new Updraft.Interceptor.ColdStart.ColdStartHistory();
        var flip = new object();
        var early = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(1));
        var late = time.GetTimestamp();
        time.Advance(TimeSpan.FromSeconds(2));

        history.Released(flip, late, time);
        history.Released(flip, early, time);
        var first = history.Last!;
        time.Advance(TimeSpan.FromSeconds(10));
        var again = time.GetTimestamp();
        time.Advance(TimeSpan.FromMilliseconds(250));
        history.Released(new object(), again, time);

        Assert.Equal(TimeSpan.FromSeconds(3), first.Duration);
        Assert.Equal(2, first.Released);
        Assert.Equal(Now + TimeSpan.FromSeconds(3), first.ReadyAt);
        Assert.Equal(TimeSpan.FromMilliseconds(250), history.Last!.Duration);
        Assert.Equal(1, history.Last.Released);
    }

    [Theory]
    [InlineData(0.25, "0.25 s")]
    [InlineData(12.34, "12.3 s")]
    [InlineData(125, "2 min 5 s")]
    [InlineData(7260, "2 h 1 min")]
    public void Seconds_ForPeople(double seconds, string expected) => Assert.Equal(expected, StatusPage.Seconds(seconds));

    /// <summary>The page as text (the encoder writes some characters, such as '+' and non-ASCII, as references).</summary>
    private static string Text(StatusView view) => System.Net.WebUtility.HtmlDecode(StatusPage.Render(view));

    private static RouteTableHolder Publish(TimeProvider time, string yaml)
    {
        var holder = new RouteTableHolder(time);
        holder.Publish(StandaloneRouteTables.Build(yaml));
        return holder;
    }

    private static InterceptorStatus Status(FakeTimeProvider time, string? problem = "<bad>") => new(
        "standalone",
        Ready: true,
        Draining: false,
        TableVersion: 1,
        TableAge: TimeSpan.FromSeconds(5.5),
        RouteCount: 0,
        new RouteSourceHealth("routes-file", Healthy: problem is null, problem is null ? [] : ["last reload failed: " + problem], []),
        time.GetUtcNow());

    private static JsonNode Json(RouteTableHolder holder, FakeTimeProvider time, StatusQuery query)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer))
        {
            StatusSnapshot.WriteJson(StatusSnapshot.Take(holder, Status(time), query, time), writer);
        }

        return JsonNode.Parse(buffer.ToArray())!;
    }

    private static double? Rate(RouteTableHolder holder, FakeTimeProvider time) =>
        (double?)Json(holder, time, StatusQuery.Default)["routes"]!["items"]![0]!["ratePerSecond"];

    private static int CountOf(string text, string value)
    {
        var count = 0;
        for (var at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + 1, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }
}
