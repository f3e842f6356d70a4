using Microsoft.Extensions.Options;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Local;

/// <summary>Start-up checks of <c>UPDRAFT_LOCAL_REPLICAS</c>: its form, its mode, and routes that need it.</summary>
public sealed class LocalStartupTests
{
    private const string Prefix = "updraft-interceptor: ";

    [Theory]
    [InlineData("9092")]
    [InlineData("localhost")]
    [InlineData("127.0.0.1:0")]
    [InlineData("127.0.0.1:70000")]
    [InlineData("http://127.0.0.1:9092")]
    [InlineData("::1:9092")]
    public async Task Start_MalformedSetting_FailsNamingTheSettingAndItsForm(string value)
    {
        var failure = await Assert.ThrowsAsync<OptionsValidationException>(() =>
            TestInterceptor.StartAsync(Routes.InterceptorRoute("app", TestUpstream.FreePort()), new Dictionary<string, string?> { [LocalReplicasSetting.Variable] = value }));

        Assert.Equal(
            $"UPDRAFT_LOCAL_REPLICAS=\"{value}\" is not valid; use the local autoscaler's replicas feed address as host:port, where host is an IPv4 address, an IPv6 address in brackets or a host name, and port is from 1 to 65535, e.g. 127.0.0.1:9092",
            Assert.Single(failure.Failures));
    }

    [Fact]
    public async Task Start_KubernetesModeWithTheSetting_ExitsWith2SayingItIsStandaloneOnly()
    {
        using var directory = new TempDirectory();

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, [], new() { ["UPDRAFT_MODE"] = "kubernetes", [LocalReplicasSetting.Variable] = "127.0.0.1:9092" });

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            [$"{Prefix}UPDRAFT_LOCAL_REPLICAS follows the local autoscaler, which runs in standalone mode only; unset it in Kubernetes mode (UPDRAFT_MODE=kubernetes), where KEDA scales the workloads"],
            result.StderrLines);
    }

    [Fact]
    public async Task Start_StandaloneWithTheSetting_StartsAndShowsTheFeedOnTheStatusPage()
    {
        await using var feed = await TestReplicaFeed.StartAsync();
        var version = feed.Publish(("echo", ["127.0.0.1:1"]));
        await using var interceptor = await LocalWorkloads.StartInterceptorAsync(feed);
        await feed.WaitForAckAsync(version);

        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{interceptor.AdminPort}") };
        var page = await admin.GetStringAsync("/status");

        Assert.Contains("<dt>Local replicas</dt><dd id=\"local-feed\">" + feed.Address + ": connected since ", page, StringComparison.Ordinal);
        Assert.Contains("<li>default/echo: 1 ready: 127.0.0.1:1</li>", page, StringComparison.Ordinal);
        Assert.Contains("local workload echo", page, StringComparison.Ordinal);
    }

    [Fact]
    public void Problem_RouteNamingAWorkloadWithoutTheSetting_NamesTheRouteAndTheSetting()
    {
        var route = LocalWorkloads.Route("echo", "echo.test");

        Assert.Equal([route], LocalWorkloadRoutes.Of([route, StandaloneRoute()]));
        Assert.Equal(
            "route default/echo targets local workload default/echo, but UPDRAFT_LOCAL_REPLICAS is not set; set it to the local autoscaler's replicas feed address (host:port, where host is an IPv4 address, an IPv6 address in brackets or a host name, and port is from 1 to 65535, e.g. 127.0.0.1:9092)",
            LocalWorkloadRoutes.Problem(route));
    }

    private static Updraft.Shared.Routes.RouteDefinition StandaloneRoute() =>
        StandaloneRouteTables.Build(Routes.InterceptorRoute("plain", 8080)).Routes[0].Definition;
}
