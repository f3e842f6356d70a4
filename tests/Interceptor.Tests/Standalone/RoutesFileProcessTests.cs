using System.Net;
using System.Text.RegularExpressions;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Tests.Common;

namespace Updraft.Interceptor.Tests.Standalone;

/// <summary>
/// The real interceptor binary (a child process, as users run it) following its routes file: a hostile version is
/// rejected with one log line while the previous routes keep serving, and a version without routes is a warning.
/// </summary>
public sealed partial class RoutesFileProcessTests
{
    // The process died on the first (stack overflow) and grew by gigabytes on the second before this was fixed.
    [Theory]
    [InlineData("brackets")]
    [InlineData("alias bomb")]
    public async Task Reload_HostileRoutesFile_LogsTheLimitAndKeepsServing(string hostile)
    {
        await using var upstream = await TestUpstream.StartNamedAsync("up");
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", Routes.InterceptorRoute("app", upstream.Port));
        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"]);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{(await process.WaitForPortsAsync()).Proxy}") };
        Assert.Equal("up", await client.GetStringAsync("/"));

        directory.Write("routes.yaml", hostile == "brackets" ? HostileYaml.NestedBrackets : HostileYaml.AliasBomb(port: 1));
        var logged = await process.WaitForStdoutAsync(NotApplied());

        var problem = hostile == "brackets" ? HostileYaml.NestedBracketsProblem : HostileYaml.AliasBombProblem;
        Assert.EndsWith($"Routes file routes.yaml was not applied; the previous routes stay in force: {problem}", logged, StringComparison.Ordinal);
        Assert.False(process.HasExited);
        Assert.Equal("up", await client.GetStringAsync("/"));
        Assert.Empty(process.StderrLines);
    }

    [Fact]
    public async Task Reload_FileEmptied_WarnsThatEveryRouteIsGone()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("up");
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", Routes.Documents(Routes.InterceptorRoute("one", upstream.Port, hosts: ["one.example.com"]), Routes.InterceptorRoute("two", upstream.Port)));
        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"]);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{(await process.WaitForPortsAsync()).Proxy}") };
        Assert.Equal("up", await client.GetStringAsync("/"));

        directory.Write("routes.yaml", "");
        var warning = await process.WaitForStdoutAsync(NoRoutes());

        Assert.Contains("warn: ", warning, StringComparison.Ordinal);
        Assert.EndsWith("Routes file routes.yaml now has no routes (it had 2); every request is answered 404 until routes are added", warning, StringComparison.Ordinal);
        using var response = await client.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.DoesNotContain(process.StdoutLines, line => line.Contains("Loaded 0 routes", StringComparison.Ordinal));
    }

    [GeneratedRegex("was not applied")]
    private static partial Regex NotApplied();

    [GeneratedRegex("now has no routes")]
    private static partial Regex NoRoutes();
}
