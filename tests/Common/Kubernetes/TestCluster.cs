using System.Net;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Model;

namespace Updraft.Tests.Common.Kubernetes;

/// <summary>
/// What a scenario needs from an API server, so the same scenario runs against the in-process fake (current API
/// shapes, <c>discovery.k8s.io/v1</c>) and the real kube-apiserver (v1.20, <c>discovery.k8s.io/v1beta1</c>).
/// </summary>
internal interface ITestCluster : IAsyncDisposable
{
    public string Kubeconfig { get; }

    /// <summary>The EndpointSlice version this server serves (and the catalog should pick).</summary>
    public ApiResource EndpointSlices { get; }

    /// <summary>A new namespace of its own for one test.</summary>
    public Task<string> CreateNamespaceAsync();

    /// <summary>Creates the object, or replaces it when one with its namespace/name exists.</summary>
    public Task PutAsync(ApiResource resource, JsonObject value);

    public Task DeleteAsync(ApiResource resource, string @namespace, string name);
}

internal sealed class FakeCluster : ITestCluster
{
    private readonly string _directory;
    private int _namespaces;

    private FakeCluster(FakeApiServer server, string directory)
    {
        Server = server;
        _directory = directory;
        Kubeconfig = server.WriteKubeconfig(Path.Combine(directory, "kubeconfig"));
    }

    public FakeApiServer Server { get; }

    public string Kubeconfig { get; }

    public ApiResource EndpointSlices => Server.DiscoveryVersions.Contains("v1") ? ApiResource.EndpointSlicesV1 : ApiResource.EndpointSlicesV1Beta1;

    public static async Task<FakeCluster> StartAsync()
    {
        var server = await FakeApiServer.StartAsync();
        return new FakeCluster(server, Directory.CreateTempSubdirectory("updraft-fake-kube-").FullName);
    }

    public Task<string> CreateNamespaceAsync() => Task.FromResult("ns" + Interlocked.Increment(ref _namespaces));

    public Task PutAsync(ApiResource resource, JsonObject value)
    {
        Server.Upsert(resource.Path(null), value);
        return Task.CompletedTask;
    }

    public Task DeleteAsync(ApiResource resource, string @namespace, string name)
    {
        Assert.True(Server.Delete(resource.Path(null), @namespace, name), $"{@namespace}/{name} did not exist");
        return Task.CompletedTask;
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        Directory.Delete(_directory, recursive: true);
    }
}

/// <summary>The shared real server; namespaces are never deleted (there is no namespace controller), the server is.</summary>
internal sealed class RealCluster(RealApiServer server) : ITestCluster
{
    public string Kubeconfig => server.Kubeconfig;

    public ApiResource EndpointSlices => ApiResource.EndpointSlicesV1Beta1;

    public async Task<string> CreateNamespaceAsync()
    {
        var name = "t-" + Guid.NewGuid().ToString("N")[..10];
        await server.CreateNamespaceAsync(name);
        return name;
    }

    public async Task PutAsync(ApiResource resource, JsonObject value)
    {
        var metadata = value["metadata"]!;
        var ns = metadata["namespace"]!.GetValue<string>();
        var path = resource.Path(ns) + "/" + metadata["name"]!.GetValue<string>();
        try
        {
            await server.CreateAsync(resource.Path(ns), value);
        }
        catch (HttpRequestException e) when (e.StatusCode == HttpStatusCode.Conflict)
        {
            await server.ReplaceAsync(path, value);
        }
    }

    public async Task DeleteAsync(ApiResource resource, string @namespace, string name) =>
        Assert.True(await server.DeleteAsync(resource.Path(@namespace) + "/" + name), $"{@namespace}/{name} did not exist");

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
