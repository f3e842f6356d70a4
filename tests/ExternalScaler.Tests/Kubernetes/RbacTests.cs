using System.Globalization;
using System.Net;
using Grpc.Core;
using Grpc.Health.V1;
using Updraft.ExternalScaler.Hosting;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Interceptor.Tests.Kubernetes;
using Updraft.Kubernetes.Model;
using Updraft.Protos.ExternalScaler;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.ExternalScaler.Tests.Infrastructure.ScalerHarness;

namespace Updraft.ExternalScaler.Tests.Kubernetes;

/// <summary>
/// The chart's roles (<c>charts/updraft/rbac/</c>) are exactly enough: against the real kube-apiserver with RBAC on,
/// an interceptor and a scaler that authenticate as users bound only through those roles sync, serve and count; an
/// interceptor with the scaler's narrower rights never becomes ready and says why.
/// </summary>
[Collection(SharedRealApiServer.Name)]
public sealed class RbacTests(RealApiServer api)
{
    private const string AdminNamespace = "updraft-system";
    private const string AdminService = "updraft-interceptor-admin";
    private static readonly ApiResource SliceApi = ApiResource.EndpointSlicesV1Beta1;

    [Fact]
    public async Task DocumentedRoles_AreEnoughForBothComponents_AndTheScalersRoleIsNotEnoughForAnInterceptor()
    {
        await api.ApplyCrdsAsync();
        await api.EnsureNamespaceAsync(AdminNamespace);
        await api.EnsureNamespaceAsync("rbac");
        await ApplyRolesAsync();

        await using var upstream = await TestUpstream.StartNamedAsync("pod-rbac");
        await api.CreateAsync("/api/v1/namespaces/rbac/services", ClusterObjects.Service("rbac", "app", ("http", 80)));
        await api.CreateAsync("/apis/discovery.k8s.io/v1beta1/namespaces/rbac/endpointslices", ClusterObjects.Slice(SliceApi, "rbac", "app-1", "app", upstream.Port, ready: ["127.0.0.1"]));
        await api.CreateAsync("/apis/http.keda.sh/v1beta1/namespaces/rbac/interceptorroutes", ClusterObjects.Route("rbac", "web", "rbac.test"));
        var adminPort = TestUpstream.FreePort();
        await api.CreateAsync(
            $"/apis/discovery.k8s.io/v1beta1/namespaces/{AdminNamespace}/endpointslices",
            ClusterObjects.Slice(SliceApi, AdminNamespace, "rbac-admin", AdminService + "-rbac", adminPort, ready: ["127.0.0.1"], portName: "admin"));

        using var directory = new TempDirectory();
        var interceptorConfig = KubeconfigFor(directory.Path, "updraft-interceptor-token");
        var scalerConfig = KubeconfigFor(directory.Path, "updraft-scaler-token");

        await using var interceptor = InterceptorProcess.Start(directory.Path, [], Settings(interceptorConfig, adminPort));
        var (proxyPort, _) = await interceptor.WaitForPortsAsync();
        await WaitUntilAsync(async () => await ReadyzAsync(adminPort) == HttpStatusCode.OK, "the interceptor with its documented role syncs");
        using (var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}") })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/");
            request.Headers.Host = "rbac.test";
            using var response = await client.SendAsync(request);
            Assert.Equal("pod-rbac", await response.Content.ReadAsStringAsync());
        }

        await using var scaler = await ScalerHarness.StartAsync("", interceptors: 0, waitForCounts: false, settings: new Dictionary<string, string?>
        {
            ["UPDRAFT_MODE"] = "kubernetes",
            ["UPDRAFT_KUBECONFIG"] = scalerConfig,
            ["UPDRAFT_ROUTES_FILE"] = null,
            ["UPDRAFT_INTERCEPTORS"] = null,
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE"] = AdminNamespace,
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE"] = AdminService + "-rbac",
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
            ["KEDA_HTTP_QUEUE_TICK_DURATION"] = "500ms",
        });
        await WaitUntilAsync(
            async () => (await scaler.Health.CheckAsync(new HealthCheckRequest { Service = ScalerApplication.ReadinessService })).Status == HealthCheckResponse.Types.ServingStatus.Serving,
            "the scaler with its documented roles syncs and hears the interceptor");
        var reference = Ref("web-so", ("interceptorRoute", "web"));
        reference.Namespace = "rbac";
        // Ready means synced; the interceptor's counts may still be a tick away on a loaded machine (Unavailable until then).
        GetMetricsResponse? metrics = null;
        await WaitUntilAsync(
            async () =>
            {
                try
                {
                    metrics = await scaler.Client.GetMetricsAsync(new GetMetricsRequest { ScaledObjectRef = reference, MetricName = "http_web_concurrency" });
                    return true;
                }
                catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable)
                {
                    return false;
                }
            },
            "the scaler answers GetMetrics from the interceptor's counts");
        Assert.Equal(0, metrics!.MetricValues.Single().MetricValueFloat);

        // The scaler's rights lack Services, ConfigMaps and EndpointSlices outside its namespace.
        var underPrivilegedAdmin = TestUpstream.FreePort();
        await using var underPrivileged = InterceptorProcess.Start(directory.Path, [], Settings(scalerConfig, underPrivilegedAdmin));
        await underPrivileged.WaitForPortsAsync();
        await WaitUntilAsync(() => Task.FromResult(underPrivileged.StdoutLines.Any(l => l.Contains("403", StringComparison.Ordinal))), "the under-privileged interceptor reports 403 Forbidden");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, await ReadyzAsync(underPrivilegedAdmin));
    }

    /// <summary>Creates the chart's roles (charts/updraft/rbac/); each binding also names the test user of the same name.</summary>
    private Task ApplyRolesAsync() => api.ApplyChartRolesAsync(AdminNamespace);

    private string KubeconfigFor(string directory, string token)
    {
        var path = Path.Combine(directory, token + ".kubeconfig");
        File.WriteAllText(path, File.ReadAllText(api.Kubeconfig).Replace(RealApiServer.KnownToken, token, StringComparison.Ordinal));
        return path;
    }

    private static Dictionary<string, string> Settings(string kubeconfig, int adminPort) => new()
    {
        ["UPDRAFT_MODE"] = "kubernetes",
        ["UPDRAFT_KUBECONFIG"] = kubeconfig,
        ["KEDA_HTTP_ADMIN_PORT"] = adminPort.ToString(CultureInfo.InvariantCulture),
        ["UPDRAFT_KUBE_RETRY_MAX"] = "500ms",
    };

    private static async Task<HttpStatusCode> ReadyzAsync(int adminPort)
    {
        using var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}"), Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await admin.GetAsync("/readyz");
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
    }
}
