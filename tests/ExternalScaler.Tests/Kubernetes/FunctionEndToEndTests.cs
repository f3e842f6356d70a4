using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Kubernetes;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Hosting;
using Updraft.Protos.ExternalScaler;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Kubernetes;

/// <summary>
/// An OpenFunction Function with <c>engine: keda</c>, end to end on one real kube-apiserver: the operator writes its
/// children, a real interceptor process and the scaler (both in Kubernetes mode) consume them, and the test plays the
/// kubelet: the function's "pod" is a local server whose EndpointSlice the test writes when it says the pod is ready.
/// A request to the function's cluster name is held while it is at zero, the scaler reports the route active on
/// KEDA's stream, and the request is answered once the pod is ready.
/// </summary>
[Collection(SharedRealApiServer.Name)]
public sealed class FunctionEndToEndTests(RealApiServer api)
{
    private const string Namespace = "fn-e2e";
    private const string AdminNamespace = "updraft-system";
    private const string AdminService = "updraft-fn-interceptor-admin";
    private static readonly ApiResource SliceApi = ApiResource.EndpointSlicesV1Beta1;

    [Fact]
    public async Task KedaFunction_ColdRequestIsHeld_ScalerGoesActive_AndThePodAnswersOnceReady()
    {
        await api.ApplyCrdsWithKedaAsync();
        await api.EnsureNamespaceAsync(Namespace);
        await api.EnsureNamespaceAsync(AdminNamespace);
        await using var pod = await TestUpstream.StartNamedAsync("hello from the function");

        var adminPort = TestUpstream.FreePort();
        await api.CreateAsync($"/api/v1/namespaces/{AdminNamespace}/services", ClusterObjects.Service(AdminNamespace, AdminService, ("admin", adminPort)));
        await api.CreateAsync(
            $"/apis/discovery.k8s.io/v1beta1/namespaces/{AdminNamespace}/endpointslices",
            ClusterObjects.Slice(SliceApi, AdminNamespace, AdminService + "-1", AdminService, adminPort, ready: ["127.0.0.1"], portName: "admin"));

        await using var operatorApp = await StartOperatorAsync();
        using var directory = new TempDirectory();
        await using var interceptor = InterceptorProcess.Start(directory.Path, [], new Dictionary<string, string>
        {
            ["UPDRAFT_MODE"] = "kubernetes",
            ["UPDRAFT_KUBECONFIG"] = api.Kubeconfig,
            ["KEDA_HTTP_ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
            ["KEDA_HTTP_WATCH_NAMESPACE"] = Namespace,
            ["UPDRAFT_KUBE_RETRY_MAX"] = "500ms",
        });
        var (proxyPort, _) = await interceptor.WaitForPortsAsync();
        await using var scaler = await ScalerHarness.StartAsync("", interceptors: 0, waitForCounts: false, settings: new Dictionary<string, string?>
        {
            ["UPDRAFT_MODE"] = "kubernetes",
            ["UPDRAFT_KUBECONFIG"] = api.Kubeconfig,
            ["UPDRAFT_ROUTES_FILE"] = null,
            ["UPDRAFT_INTERCEPTORS"] = null,
            ["KEDA_HTTP_WATCH_NAMESPACE"] = Namespace,
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE"] = AdminNamespace,
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE"] = AdminService,
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
            ["KEDA_HTTP_QUEUE_TICK_DURATION"] = "500ms",
        });

        await api.CreateAsync($"/apis/core.openfunction.io/v1beta2/namespaces/{Namespace}/functions", new JsonObject
        {
            ["apiVersion"] = "core.openfunction.io/v1beta2",
            ["kind"] = "Function",
            ["metadata"] = new JsonObject { ["name"] = "hello", ["namespace"] = Namespace },
            ["spec"] = new JsonObject
            {
                ["version"] = "v1.0.0",
                ["image"] = "example/hello",
                ["serving"] = new JsonObject
                {
                    ["triggers"] = new JsonObject { ["http"] = new JsonObject { ["engine"] = "keda", ["port"] = pod.Port } },
                    ["scaleOptions"] = new JsonObject { ["minReplicas"] = 0, ["maxReplicas"] = 3 },
                },
            },
        });

        // The operator's ScaledObject is what KEDA would poll: read its trigger, as KEDA does.
        JsonObject? scaledObject = null;
        await WaitUntilAsync(async () => (scaledObject = await api.GetAsync($"/apis/keda.sh/v1alpha1/namespaces/{Namespace}/scaledobjects/hello")) is not null, "the operator writes the ScaledObject");
        var trigger = scaledObject!["spec"]!["triggers"]![0]!;
        Assert.Equal("external-push", trigger["type"]!.GetValue<string>());
        var reference = new ScaledObjectRef { Name = "hello", Namespace = Namespace };
        reference.ScalerMetadata.Add("interceptorRoute", trigger["metadata"]!["interceptorRoute"]!.GetValue<string>());

        // At zero: no ready endpoint. KEDA's stream says inactive.
        await api.CreateAsync(
            $"/apis/discovery.k8s.io/v1beta1/namespaces/{Namespace}/endpointslices",
            ClusterObjects.Slice(SliceApi, Namespace, "hello-direct-1", "hello-direct", pod.Port, ready: [], notReady: ["127.0.0.1"]));
        using var stream = scaler.Client.StreamIsActive(reference);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}"), Timeout = TimeSpan.FromSeconds(60) };
        await WaitUntilAsync(async () =>
        {
            using var probe = new HttpRequestMessage(HttpMethod.Get, "/") { Headers = { Host = "unrouted.example" } };
            using var answer = await client.SendAsync(probe);
            return answer.StatusCode == HttpStatusCode.NotFound;
        }, "the interceptor serves");
        await WaitUntilAsync(async () => await scaler.MetricAsync(reference, "http_hello_concurrency") == 0, "the scaler knows the Function's route");
        using (var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}") })
        {
            // The interceptor watches on its own: it must have the route before a request can be held for it.
            await WaitUntilAsync(async () => (await admin.GetStringAsync("/queue")).Contains($"\"{Namespace}/hello\"", StringComparison.Ordinal), "the interceptor knows the Function's route");
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, "/greet") { Headers = { Host = $"hello.{Namespace}" } };
        var held = client.SendAsync(request);
        using var streamTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var active = false;
        while (!active && await stream.ResponseStream.MoveNext(streamTimeout.Token))
        {
            active = stream.ResponseStream.Current.Result;
        }

        Assert.True(active, "the scaler pushes active for the cold Function");
        Assert.False(held.IsCompleted, "the request is held while no pod is ready");

        // The "pod" is ready: the held request is answered by it.
        await api.ReplaceAsync(
            $"/apis/discovery.k8s.io/v1beta1/namespaces/{Namespace}/endpointslices/hello-direct-1",
            ClusterObjects.Slice(SliceApi, Namespace, "hello-direct-1", "hello-direct", pod.Port, ready: ["127.0.0.1"]));
        using var response = await held.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hello from the function", await response.Content.ReadAsStringAsync());
    }

    private async Task<OperatorApp> StartOperatorAsync()
    {
        var app = OperatorApplication.Build([], new Dictionary<string, string?>
        {
            ["UPDRAFT_KUBECONFIG"] = api.Kubeconfig,
            ["KEDA_HTTP_OPERATOR_NAMESPACE"] = AdminNamespace,
            ["KEDA_HTTP_OPERATOR_WATCH_NAMESPACE"] = Namespace,
            ["UPDRAFT_OPERATOR_METRICS_BIND_ADDRESS"] = "127.0.0.1:0",
            ["UPDRAFT_OPERATOR_HEALTH_PROBE_BIND_ADDRESS"] = "127.0.0.1:0",
            ["UPDRAFT_LOG_LEVEL"] = "warning",
        }, podNamespaceFile: "/nonexistent/namespace");
        await app.StartAsync();
        return new OperatorApp(app);
    }

    private sealed class OperatorApp(Microsoft.AspNetCore.Builder.WebApplication app) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await app.StopAsync();
            await app.DisposeAsync();
        }
    }
}
