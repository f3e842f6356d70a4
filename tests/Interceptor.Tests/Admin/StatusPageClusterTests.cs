using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Kubernetes;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Interceptor.Tests.Admin;

/// <summary>The status page's view of Kubernetes mode: the watches' health, against an API server on loopback.</summary>
public sealed class StatusPageClusterTests : IAsyncLifetime
{
    private FakeApiServer _api = null!;
    private string _directory = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeApiServer.StartAsync();
        _directory = Directory.CreateTempSubdirectory("updraft-k8s-status-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    [Fact]
    public async Task StatusJson_KubernetesMode_EveryWatchSyncedAndTheRoute()
    {
        _api.Upsert("/apis/http.keda.sh/v1beta1/interceptorroutes", ClusterObjects.Route("shop", "web", "web.test", service: "web"));
        await using var interceptor = await TestInterceptor.StartInClusterAsync(_api.WriteKubeconfig(Path.Combine(_directory, "kubeconfig")));
        await TestInterceptor.WaitUntilAsync(async () => await interceptor.GetReadyStatusAsync() == 200, "/readyz answers 200");
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{interceptor.AdminPort}") };

        var status = (await admin.GetFromJsonAsync<JsonNode>("/status.json"))!;

        var interceptorStatus = status["interceptor"]!;
        Assert.Equal("kubernetes", (string?)interceptorStatus["mode"]);
        Assert.True((bool)interceptorStatus["ready"]!);
        var source = interceptorStatus["source"]!;
        Assert.Equal("kubernetes", (string?)source["kind"]);
        Assert.True((bool)source["healthy"]!);
        var watches = source["watches"]!.AsArray().Select(w => ((string?)w!["resource"], (bool)w["synced"]!)).ToList();
        Assert.Contains(("interceptorroutes", true), watches);
        Assert.Contains(("httpscaledobjects", true), watches);
        Assert.Contains(("services", true), watches);
        Assert.Contains(("endpointslices", true), watches);
        var route = Assert.Single(status["routes"]!["items"]!.AsArray())!;
        Assert.Equal("shop/web", (string?)route["key"]);
        Assert.Equal(["web.test"], route["hosts"]!.AsArray().Select(h => (string?)h));
    }
}
