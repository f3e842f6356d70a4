using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Kubernetes.Model;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Interceptor.Tests.Kubernetes;

/// <summary>
/// The upstream protocol in Kubernetes mode follows the Service port's <c>appProtocol</c>, as in the add-on: an
/// h2c-only workload (a gRPC server, say) is reached over HTTP/2 with prior knowledge when its port says
/// <c>kubernetes.io/h2c</c>, and the answer flips as soon as the Service changes.
/// </summary>
public sealed class ClusterProtocolTests : IAsyncLifetime
{
    private const string Services = "/api/v1/services";
    private FakeApiServer _api = null!;
    private string _directory = null!;

    public async Task InitializeAsync()
    {
        _api = await FakeApiServer.StartAsync();
        _directory = Directory.CreateTempSubdirectory("updraft-k8s-h2c-").FullName;
    }

    public async Task DisposeAsync()
    {
        await _api.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }

    private static object Service(string? appProtocol) => new
    {
        apiVersion = "v1",
        kind = "Service",
        metadata = new { name = "grpc", @namespace = "shop" },
        spec = new { ports = new[] { new { name = "h2", port = 80, protocol = "TCP", appProtocol } } },
    };

    [Fact]
    public async Task ServicePortAppProtocolH2c_ForwardsOverHttp2PriorKnowledge()
    {
        await using var upstream = await TestUpstream.StartAsync(context => context.Response.WriteAsync(context.Request.Protocol), HttpProtocols.Http2);
        _api.Upsert(Services, Service("kubernetes.io/h2c"));
        _api.Upsert("/apis/discovery.k8s.io/v1/endpointslices", ClusterObjects.Slice(ApiResource.EndpointSlicesV1, "shop", "grpc-1", "grpc", upstream.Port, ready: ["127.0.0.1"], portName: "h2"));
        _api.Upsert("/apis/http.keda.sh/v1beta1/interceptorroutes", ClusterObjects.Route("shop", "grpc", "grpc.test", service: "grpc"));
        await using var interceptor = await TestInterceptor.StartInClusterAsync(_api.WriteKubeconfig(Path.Combine(_directory, "kubeconfig")));
        await TestInterceptor.WaitUntilAsync(async () => await interceptor.GetReadyStatusAsync() == 200, "/readyz answers 200");

        using (var response = await interceptor.GetAsync("grpc.test", "/"))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("HTTP/2", await response.Content.ReadAsStringAsync());
        }

        // Without the appProtocol the interceptor speaks HTTP/1.1, which Kestrel's h2c-only endpoint turns away.
        _api.Upsert(Services, Service(null));
        await TestInterceptor.WaitUntilAsync(async () =>
        {
            using var response = await interceptor.GetAsync("grpc.test", "/");
            return response.StatusCode == HttpStatusCode.BadRequest
                && (await response.Content.ReadAsStringAsync()).Contains("HTTP/1.x request was sent to an HTTP/2 only endpoint", StringComparison.Ordinal);
        }, "HTTP/1.1 is used once the Service no longer says h2c");
    }
}
