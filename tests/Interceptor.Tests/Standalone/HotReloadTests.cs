using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Tests.Common;

namespace Updraft.Interceptor.Tests.Standalone;

/// <summary>
/// Standalone mode re-reads the routes file when it changes: a good version replaces the table atomically (counters
/// of remaining routes carry on), a bad one is counted in <c>interceptor_route_reloads_total{result="error"}</c> and
/// the previous routes stay. Each test runs once with an atomic replace and once with an in-place rewrite.
/// </summary>
public sealed partial class HotReloadTests
{
    public enum FileWrite
    {
        /// <summary>Write a temp file beside it, then rename over it (editors, ConfigMap-style swaps).</summary>
        AtomicReplace,

        /// <summary>Truncate and rewrite the same file.</summary>
        InPlace,
    }

    public enum BrokenFile
    {
        NotYaml,
        NotYamlUnclosedFlow,
        DuplicateName,
        NestedBrackets,
        AliasBomb,
    }

    [Theory]
    [InlineData(FileWrite.AtomicReplace)]
    [InlineData(FileWrite.InPlace)]
    public async Task Reload_AddRemoveAndChangeRoutes_TakesEffect(FileWrite how)
    {
        await using var a = await TestUpstream.StartNamedAsync("a");
        await using var b = await TestUpstream.StartNamedAsync("b");
        await using var c = await TestUpstream.StartNamedAsync("c");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("one", a.Port, hosts: ["one.example.com"]),
            Routes.InterceptorRoute("two", b.Port, hosts: ["two.example.com"])));
        Assert.Equal("a", await BodyAsync(interceptor, "one.example.com"));
        Assert.Equal("b", await BodyAsync(interceptor, "two.example.com"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(interceptor, "three.example.com"));

        Write(interceptor.RoutesFile, how, Routes.Documents(
            Routes.InterceptorRoute("one", c.Port, hosts: ["one.example.com"], paths: ["/api"]),
            Routes.InterceptorRoute("three", a.Port, hosts: ["three.example.com"])));
        await TestInterceptor.WaitUntilAsync(
            () => Task.FromResult(interceptor.Table.ByKey.Keys.Order(StringComparer.Ordinal).SequenceEqual(["default/one", "default/three"])),
            "the new routes file is applied");

        Assert.Equal("c", await BodyAsync(interceptor, "one.example.com", "/api/x"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(interceptor, "one.example.com", "/other"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(interceptor, "two.example.com"));
        Assert.Equal("a", await BodyAsync(interceptor, "three.example.com"));
        Assert.Equal(["default/one", "default/three"], (await interceptor.GetQueueAsync()).Keys.Order(StringComparer.Ordinal));
        var metrics = await interceptor.GetMetricsTextAsync();
        Assert.Equal(2, MetricValue(metrics, "interceptor_routes"));
        if (how == FileWrite.AtomicReplace)
        {
            // A rename is seen whole, so exactly one more reload; an in-place rewrite may be seen half-written first.
            Assert.Equal(2, ReloadCount(metrics, "success"));
            Assert.Equal(0, ReloadCount(metrics, "error"));
        }
    }

    [Theory]
    [InlineData(FileWrite.AtomicReplace)]
    [InlineData(FileWrite.InPlace)]
    public async Task Reload_RemainingRoutes_KeepRequestCount(FileWrite how)
    {
        await using var a = await TestUpstream.StartNamedAsync("a");
        await using var b = await TestUpstream.StartNamedAsync("b");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.Documents(
            Routes.InterceptorRoute("kept", a.Port, hosts: ["kept.example.com"]),
            Routes.InterceptorRoute("changed", a.Port, hosts: ["changed.example.com"])));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal("a", await BodyAsync(interceptor, "kept.example.com"));
            Assert.Equal("a", await BodyAsync(interceptor, "changed.example.com"));
        }

        Assert.Equal(3, (await interceptor.GetQueueAsync())["default/kept"].RequestCount);

        // "kept" is unchanged, "changed" gets a new upstream and host, "added" is new.
        Write(interceptor.RoutesFile, how, Routes.Documents(
            Routes.InterceptorRoute("kept", a.Port, hosts: ["kept.example.com"]),
            Routes.InterceptorRoute("changed", b.Port, hosts: ["changed2.example.com"]),
            Routes.InterceptorRoute("added", b.Port, hosts: ["added.example.com"])));
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(interceptor.Table.ByKey.ContainsKey("default/added")), "the new routes file is applied");

        var queue = await interceptor.GetQueueAsync();
        Assert.Equal(3, queue["default/kept"].RequestCount);
        Assert.Equal(3, queue["default/changed"].RequestCount);
        Assert.Equal(0, queue["default/added"].RequestCount);

        Assert.Equal("a", await BodyAsync(interceptor, "kept.example.com"));
        Assert.Equal("b", await BodyAsync(interceptor, "changed2.example.com"));
        Assert.Equal("b", await BodyAsync(interceptor, "added.example.com"));
        queue = await interceptor.GetQueueAsync();
        Assert.Equal(4, queue["default/kept"].RequestCount);
        Assert.Equal(4, queue["default/changed"].RequestCount);
        Assert.Equal(1, queue["default/added"].RequestCount);
        var metrics = await interceptor.GetMetricsTextAsync();
        Assert.Equal(4, RequestCountMetric(metrics, "kept"));
        Assert.Equal(4, RequestCountMetric(metrics, "changed"));
    }

    [Theory]
    [InlineData(FileWrite.AtomicReplace, BrokenFile.NotYaml)]
    [InlineData(FileWrite.AtomicReplace, BrokenFile.NotYamlUnclosedFlow)]
    [InlineData(FileWrite.AtomicReplace, BrokenFile.DuplicateName)]
    [InlineData(FileWrite.AtomicReplace, BrokenFile.NestedBrackets)]
    [InlineData(FileWrite.AtomicReplace, BrokenFile.AliasBomb)]
    [InlineData(FileWrite.InPlace, BrokenFile.NotYaml)]
    [InlineData(FileWrite.InPlace, BrokenFile.NotYamlUnclosedFlow)]
    [InlineData(FileWrite.InPlace, BrokenFile.DuplicateName)]
    [InlineData(FileWrite.InPlace, BrokenFile.NestedBrackets)]
    [InlineData(FileWrite.InPlace, BrokenFile.AliasBomb)]
    public async Task Reload_BrokenFile_KeepsPreviousRoutesCountsErrorAndAppliesNextGoodFile(FileWrite how, BrokenFile broken)
    {
        await using var a = await TestUpstream.StartNamedAsync("a");
        await using var b = await TestUpstream.StartNamedAsync("b");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", a.Port, hosts: ["app.example.com"]));
        Assert.Equal("a", await BodyAsync(interceptor, "app.example.com"));
        var before = await interceptor.GetMetricsTextAsync();
        Assert.Equal(1, ReloadCount(before, "success"));
        Assert.Equal(0, ReloadCount(before, "error"));

        // The broken versions would move "app" to upstream b (and most would add "other") if they were applied.
        var good = Routes.Documents(
            Routes.InterceptorRoute("app", b.Port, hosts: ["app.example.com"]),
            Routes.InterceptorRoute("other", b.Port, hosts: ["other.example.com"]));
        Write(interceptor.RoutesFile, how, broken switch
        {
            BrokenFile.NotYaml => good + "spec: [unclosed\n",
            BrokenFile.NotYamlUnclosedFlow => good + "---\nspec: [unclosed\nkind: InterceptorRoute\n",
            BrokenFile.NestedBrackets => good + "---\n" + HostileYaml.NestedBrackets,
            BrokenFile.AliasBomb => Routes.Documents(HostileYaml.AliasBomb(b.Port), good),
            _ => Routes.Documents(good, Routes.InterceptorRoute("other", a.Port, hosts: ["dup.example.com"])),
        });
        await TestInterceptor.WaitUntilAsync(async () => ReloadCount(await interceptor.GetMetricsTextAsync(), "error") >= 1, "the broken file is rejected");

        Assert.Equal("a", await BodyAsync(interceptor, "app.example.com"));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(interceptor, "other.example.com"));
        Assert.Equal(["default/app"], interceptor.Table.ByKey.Keys.ToArray());
        var afterBroken = await interceptor.GetMetricsTextAsync();
        Assert.Equal(1, ReloadCount(afterBroken, "success"));
        Assert.Equal(1, MetricValue(afterBroken, "interceptor_routes"));

        Write(interceptor.RoutesFile, how, good);
        await TestInterceptor.WaitUntilAsync(() => Task.FromResult(interceptor.Table.ByKey.ContainsKey("default/other")), "the good file is applied");

        Assert.Equal("b", await BodyAsync(interceptor, "app.example.com"));
        Assert.Equal("b", await BodyAsync(interceptor, "other.example.com"));
        var afterGood = await interceptor.GetMetricsTextAsync();
        Assert.True(ReloadCount(afterGood, "success") >= 2);
        Assert.True(ReloadCount(afterGood, "error") >= 1);
        Assert.Equal(2, MetricValue(afterGood, "interceptor_routes"));
        Assert.Equal(3, (await interceptor.GetQueueAsync())["default/app"].RequestCount); // one request per phase
    }

    [Fact]
    public async Task Reload_FileDeletedThenRestored_KeepsRoutesAndAppliesItAgain()
    {
        await using var a = await TestUpstream.StartNamedAsync("a");
        await using var interceptor = await TestInterceptor.StartAsync(Routes.InterceptorRoute("app", a.Port, hosts: ["app.example.com"]));
        var content = await File.ReadAllTextAsync(interceptor.RoutesFile);

        File.Delete(interceptor.RoutesFile);
        await TestInterceptor.WaitUntilAsync(async () => ReloadCount(await interceptor.GetMetricsTextAsync(), "error") >= 1, "the missing file is reported");

        Assert.Equal("a", await BodyAsync(interceptor, "app.example.com"));

        Write(interceptor.RoutesFile, FileWrite.AtomicReplace, content);
        await TestInterceptor.WaitUntilAsync(async () => ReloadCount(await interceptor.GetMetricsTextAsync(), "success") >= 2, "the restored file is applied");

        Assert.Equal("a", await BodyAsync(interceptor, "app.example.com"));
        Assert.Equal(2, (await interceptor.GetQueueAsync())["default/app"].RequestCount);
    }

    private static void Write(string path, FileWrite how, string content)
    {
        if (how == FileWrite.InPlace)
        {
            File.WriteAllText(path, content);
            return;
        }

        var temp = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.tmp");
        File.WriteAllText(temp, content);
        File.Move(temp, path, overwrite: true);
    }

    private static async Task<string> BodyAsync(TestInterceptor interceptor, string host, string path = "/")
    {
        using var response = await interceptor.GetAsync(host, path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static async Task<HttpStatusCode> StatusAsync(TestInterceptor interceptor, string host, string path = "/")
    {
        using var response = await interceptor.GetAsync(host, path);
        return response.StatusCode;
    }

    private static double ReloadCount(string metrics, string result) =>
        MetricValue(metrics, $"interceptor_route_reloads_total{{result=\"{result}\"}}");

    private static double RequestCountMetric(string metrics, string routeName)
    {
        var total = 0.0;
        foreach (Match match in RequestCountLine().Matches(metrics))
        {
            if (match.Groups["labels"].Value.Contains($"route_name=\"{routeName}\"", StringComparison.Ordinal))
            {
                total += double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    /// <summary>The value of the sample written exactly as <paramref name="series"/>; 0 when it is absent.</summary>
    private static double MetricValue(string metrics, string series)
    {
        foreach (var line in metrics.Split('\n'))
        {
            if (line.StartsWith(series + " ", StringComparison.Ordinal))
            {
                return double.Parse(line[(series.Length + 1)..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        return 0;
    }

    [GeneratedRegex(@"^interceptor_request_count_total\{(?<labels>[^}]*)\} (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex RequestCountLine();
}
