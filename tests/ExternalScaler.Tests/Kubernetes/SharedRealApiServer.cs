using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.ExternalScaler.Tests.Kubernetes;

/// <summary>One real kube-apiserver shared by the tests that need it (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class SharedRealApiServer : ICollectionFixture<RealApiServer>
{
    public const string Name = "real kube-apiserver (scaler)";

    /// <summary>Creates the namespace unless it exists (the server is shared, and namespaces are never deleted).</summary>
    public static async Task EnsureNamespaceAsync(RealApiServer api, string name)
    {
        using var response = await api.Http.PostAsJsonAsync("api/v1/namespaces", new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Namespace",
            ["metadata"] = new JsonObject { ["name"] = name },
        });
        if (response.StatusCode != HttpStatusCode.Conflict)
        {
            response.EnsureSuccessStatusCode();
        }
    }
}
