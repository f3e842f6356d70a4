using System.Net;
using System.Text.Json.Nodes;
using Updraft.Interceptor.Tests.Kubernetes;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.ExternalScaler.Tests.Kubernetes;

/// <summary>
/// The chart's InterceptorRoute CRD as the real kube-apiserver enforces it: what the add-on's CRD requires is refused
/// when missing, before any Updraft component sees the object.
/// </summary>
[Collection(SharedRealApiServer.Name)]
public sealed class CrdValidationTests(RealApiServer api)
{
    private const string Namespace = "crd-validation";
    private const string Routes = "/apis/http.keda.sh/v1beta1/namespaces/" + Namespace + "/interceptorroutes";

    [Fact]
    public async Task Create_InterceptorRouteWithoutSpec_RefusedNamingSpec()
    {
        await api.ApplyCrdsAsync();
        await api.EnsureNamespaceAsync(Namespace);
        var name = "no-spec-" + Guid.NewGuid().ToString("N")[..8];
        var withoutSpec = new JsonObject
        {
            ["apiVersion"] = "http.keda.sh/v1beta1",
            ["kind"] = "InterceptorRoute",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = Namespace },
        };

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => api.CreateAsync(Routes, withoutSpec));
        var stored = await api.GetAsync(Routes + "/" + name);
        var valid = await api.CreateAsync(Routes, ClusterObjects.Route(Namespace, "with-spec-" + Guid.NewGuid().ToString("N")[..8], "crd.test"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("spec", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Required value", refused.Message, StringComparison.Ordinal);
        Assert.Null(stored);
        Assert.NotNull(valid["spec"]);
    }

    [Fact]
    public async Task Create_InterceptorRouteWithPlaceholderWithoutResponse_RefusedNamingTheField()
    {
        await api.ApplyCrdsAsync();
        await api.EnsureNamespaceAsync(Namespace);
        var route = ClusterObjects.Route(Namespace, "placeholder-" + Guid.NewGuid().ToString("N")[..8], "crd.test", coldStart: new { placeholder = new { } });

        var refused = await Assert.ThrowsAsync<HttpRequestException>(() => api.CreateAsync(Routes, route));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, refused.StatusCode);
        Assert.Contains("spec.coldStart.placeholder.response", refused.Message, StringComparison.Ordinal);
    }
}
