using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Kubernetes;
using Updraft.Kubernetes.Model;
using Updraft.Tests.Common.Kubernetes;
using Xunit.Abstractions;

namespace Updraft.Interceptor.Tests.Faults;

/// <summary>
/// The Kubernetes-mode row of the fault matrix: the interceptor binary in Kubernetes mode against the real
/// kube-apiserver, which restarts (every watch breaks, etcd keeps the data) in the middle of a bounded load.
/// </summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class ApiServerRestartFaultTests(RealApiServer server, ITestOutputHelper output)
{
    private const int Requests = 3_000;
    private const int Loops = 6;

    /// <summary>
    /// Larger than the standalone rows' bound: in Kubernetes mode nothing forces a full collection from outside, so
    /// both figures are the least of several samples and still carry older garbage. A leak of the load's requests
    /// (over 20 KB each, see UpstreamFaultMatrixTests.HangHold_…) would be about 60 MB.
    /// </summary>
    private const long HeapGrowthBound = 24L << 20;

    [Fact]
    public async Task ApiServerRestartsDuringLoad_KnownRoutesServeEveryRequest_RouteCreatedAfterwardsServes_QueueAndHeapReturn()
    {
        await server.ApplyCrdsAsync();
        var ns = "faults-" + Guid.NewGuid().ToString("N")[..8];
        await server.CreateNamespaceAsync(ns);
        await using var upstream = await TestUpstream.StartNamedAsync("pod-a");
        await server.CreateAsync($"/api/v1/namespaces/{ns}/services", ClusterObjects.Service(ns, "app", ("http", 80)));
        await server.CreateAsync(
            $"/apis/discovery.k8s.io/v1beta1/namespaces/{ns}/endpointslices",
            ClusterObjects.Slice(ApiResource.EndpointSlicesV1Beta1, ns, "app-1", "app", upstream.Port, ready: ["127.0.0.1"]));
        var routes = $"/apis/http.keda.sh/v1beta1/namespaces/{ns}/interceptorroutes";
        await server.CreateAsync(routes, ClusterObjects.Route(ns, "web", "web.test"));
        await using var interceptor = await InterceptorChild.StartKubernetesAsync(server.Kubeconfig, new()
        {
            ["KEDA_HTTP_WATCH_NAMESPACE"] = ns,
            ["UPDRAFT_KUBE_RETRY_MAX"] = "500ms",
        });
        using var client = FaultLoad.Client(interceptor.Address, interceptor.ProxyPort);
        await WaitForStatusAsync(client, "web.test", "200");
        var warmUp = Start(client, Requests / 5);
        await warmUp.WaitAsync(TimeSpan.FromSeconds(60));
        var baseline = await interceptor.SettledHeapBytesAsync("web.test");

        var load = Start(client, Requests);
        await Poll.UntilAsync(() => Task.FromResult(load.Completed >= 50), "the load is running");
        var before = load.Completed;
        await server.RestartAsync();
        var during = load.Completed - before;
        await server.CreateAsync(routes, ClusterObjects.Route(ns, "late", "late.test"));
        await WaitForStatusAsync(client, "late.test", "200");
        await load.WaitAsync(TimeSpan.FromSeconds(60));

        await interceptor.WaitForIdleAsync(ns + "/web");
        var after = await interceptor.SettledHeapBytesAsync("web.test");
        output.WriteLine($"outcomes: {load}; {during} answered during the restart; heap {baseline >> 10} KiB → {after >> 10} KiB");
        Assert.Equal(Requests, load.Count("200"));
        Assert.True(during > 0, "no request was answered while the API server restarted");
        Assert.True(after <= baseline + HeapGrowthBound, $"the settled heap grew from {baseline} B to {after} B");
    }

    /// <summary>Loops that pace themselves (10 ms between requests), so the load spans the seconds a restart takes.</summary>
    private static FaultLoad Start(HttpClient client, int requests) =>
        FaultLoad.Start(requests, Loops, async (_, token) =>
        {
            using var request = FaultLoad.Get("web.test");
            var outcome = await FaultLoad.SendAsync(client, request, token);
            await Task.Delay(10, CancellationToken.None);
            return outcome;
        });

    private static Task WaitForStatusAsync(HttpClient client, string host, string status) =>
        Poll.UntilAsync(async () =>
        {
            using var request = FaultLoad.Get(host);
            return await FaultLoad.SendAsync(client, request, CancellationToken.None) == status;
        }, $"{host} answers {status}");
}
