using System.Net;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Admin;

/// <summary>
/// The status page in a real headless Chromium against a real interceptor on loopback (standalone routes file): the
/// browser runs the page's own script, so what these tests see is what a person sees, refreshes included.
/// </summary>
public sealed partial class StatusPageBrowserTests
{
    private const string Host = "app.example.com";

    /// <summary>A path prefix no route file should be able to inject with (no spaces: the route rules forbid them).</summary>
    private const string HostilePath = "/x\"><script>document.title='pwned'</script><b>bold</b>&amp;<img/src=x/onerror=document.title='img'>";

    [Fact]
    public async Task Page_RunningInterceptor_ShowsEveryRouteAfterItsOwnRefresh()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("app", upstream.Port, hosts: [Host], paths: ["/api"]),
            Routes.InterceptorRoute("checkout", upstream.Port, hosts: ["shop.example.com"], ns: "shop")));
        using (var response = await interceptor.GetAsync(Host, "/api/items"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Ten seconds of virtual time: the script's one-second poll runs several times before the DOM is dumped.
        var dom = await HeadlessChromium.DumpDomAsync($"http://127.0.0.1:{interceptor.AdminPort}/", 10_000);

        var refreshes = int.Parse(RefreshesPattern().Match(dom).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(refreshes >= 1, "the page's script never refreshed: " + dom);
        var app = RowPattern("default/app").Match(dom);
        Assert.True(app.Success, "no row for default/app: " + dom);
        Assert.Contains("app.example.com", app.Value, StringComparison.Ordinal);
        Assert.Contains("/api", app.Value, StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1:{upstream.Port}", app.Value, StringComparison.Ordinal);
        Assert.Matches("<td class=\"requests\"[^>]*>1</td>", app.Value);
        Assert.Matches("<td class=\"ready is-ready\"[^>]*>ready</td>", app.Value);
        Assert.True(RowPattern("shop/checkout").IsMatch(dom), "no row for shop/checkout: " + dom);
        Assert.Contains("Routes 1\u20132 of 2", dom, StringComparison.Ordinal);
        Assert.Matches("<dd id=\"source\"[^>]*>routes-file: healthy</dd>", dom);
    }

    [Fact]
    public async Task Page_RequestHeldOnColdRoute_AppearsAsHeldThenClearsWithTheColdStart()
    {
        var port = TestUpstream.FreePort();
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", port, hosts: [Host]));
        await using var browser = await HeadlessChromium.OpenAsync($"http://127.0.0.1:{interceptor.AdminPort}/");
        const string Held = "document.querySelector('tr[data-key=\"default/app\"] td.held').textContent";
        // Loaded, with nothing held, and the script has refreshed at least once.
        await browser.WaitUntilAsync($"document.readyState === 'complete' && Number(document.body.dataset.refreshes) >= 1 && {Held} === '0'", "the page is loaded and refreshing");
        var refreshesBefore = (int)(await browser.EvaluateAsync("Number(document.body.dataset.refreshes)"))!;
        // Gone if the page were reloaded: then the script's refresh would not be what shows the change.
        await browser.EvaluateAsync("window.loadedOnce = true");

        var pending = interceptor.GetAsync(Host, "/hello");
        // Only the page's own refresh can change this cell: nothing reloads the page.
        await browser.WaitUntilAsync($"{Held} === '1'", "the page shows the held request");
        Assert.False(pending.IsCompleted);
        Assert.True((int)(await browser.EvaluateAsync("Number(document.body.dataset.refreshes)"))! > refreshesBefore);
        Assert.Equal("not ready", (string?)await browser.EvaluateAsync("document.querySelector('tr[data-key=\"default/app\"] td.ready').textContent"));
        Assert.True((bool)(await browser.EvaluateAsync("window.loadedOnce === true"))!);

        await using var upstream = await TestUpstream.StartOnPortAsync(port, context => context.Response.WriteAsync("late"));
        using var response = await pending;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await browser.WaitUntilAsync(
            $"{Held} === '0' && document.querySelector('tr[data-key=\"default/app\"] td.coldstart').textContent !== 'none'",
            "the page shows the cold start done");
        Assert.Matches(@"^\d+\.\d+ s, .* ago$", (string?)await browser.EvaluateAsync("document.querySelector('tr[data-key=\"default/app\"] td.coldstart').textContent"));
    }

    [Fact]
    public async Task Page_HostileRoutePath_ShownAsTextBeforeAndAfterRefresh()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("a");
        var yamlPath = HostilePath.Replace("\"", "\\\"", StringComparison.Ordinal);
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("hostile", upstream.Port, hosts: [Host], paths: [yamlPath]));
        // The filter box echoes its text too.
        var filter = Uri.EscapeDataString("\"><script>document.title='filter'</script>");
        await using var browser = await HeadlessChromium.OpenAsync($"http://127.0.0.1:{interceptor.AdminPort}/?filter={filter}");
        const string Paths = "document.querySelector('tr[data-key=\"default/hostile\"]') ? document.querySelector('tr[data-key=\"default/hostile\"] td.paths').textContent : null";
        await browser.WaitUntilAsync("document.readyState === 'complete'", "the page is loaded");

        // Server-rendered (the filter matches nothing yet: the row is absent, the filter box holds the text as typed).
        Assert.Equal("\"><script>document.title='filter'</script>", (string?)await browser.EvaluateAsync("document.getElementById('filter').value"));
        await browser.EvaluateAsync("document.getElementById('filter').value = 'hostile'; document.getElementById('filter').dispatchEvent(new Event('input')); true");
        // Drawn by the script from /status.json.
        await browser.WaitUntilAsync($"({Paths}) !== null", "the script draws the hostile route");
        Assert.Equal(HostilePath, (string?)await browser.EvaluateAsync(Paths));
        await AssertNothingInjectedAsync(browser);

        // The server-rendered page of the same route.
        // The old page is marked: its script may already show '?filter=hostile' in the address, and the condition must
        // hold on the new document, not on the one being left.
        await browser.EvaluateAsync("window.leaving = true; location.href = '/?filter=hostile'; true");
        await browser.WaitUntilAsync($"window.leaving === undefined && location.search === '?filter=hostile' && document.readyState === 'complete' && ({Paths}) !== null", "the filtered page is loaded");
        Assert.Equal(HostilePath, (string?)await browser.EvaluateAsync(Paths));
        await AssertNothingInjectedAsync(browser);
    }

    private static async Task AssertNothingInjectedAsync(HeadlessChromium browser)
    {
        Assert.Equal("Updraft interceptor status", (string?)await browser.EvaluateAsync("document.title"));
        Assert.Equal(1.0, (double)(await browser.EvaluateAsync("document.scripts.length"))!);
        Assert.Equal(0.0, (double)(await browser.EvaluateAsync("document.querySelectorAll('tbody b, tbody img, tbody script').length"))!);
    }

    private static Regex RowPattern(string key) => new($"<tr data-key=\"{Regex.Escape(key)}\">.*?</tr>", RegexOptions.Singleline);

    [GeneratedRegex("data-refreshes=\"(\\d+)\"")]
    private static partial Regex RefreshesPattern();
}
