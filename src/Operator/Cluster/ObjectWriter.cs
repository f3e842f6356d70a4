using System.Net;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Telemetry;

namespace Updraft.Operator.Cluster;

/// <summary>
/// Every write the operator makes, counted per resource and verb. Patches are JSON merge patches
/// (<c>application/merge-patch+json</c>), which every API server version and custom resource accepts, and carry only
/// the fields the operator owns.
/// </summary>
internal sealed class ObjectWriter(KubeApiClient client, OperatorMetrics metrics, ILogger<ObjectWriter> logger)
{
    private const string Json = "application/json";
    private const string MergePatch = "application/merge-patch+json";

    public async Task<JsonObject> CreateAsync(ApiResource resource, string @namespace, JsonObject body, CancellationToken cancellationToken)
    {
        metrics.Wrote(resource.Plural, "create");
        Log.Wrote(logger, "create", resource.Plural, @namespace + "/" + body["metadata"]?["name"]);
        return await client.SendAsync(HttpMethod.Post, resource.Path(@namespace), body, Json, cancellationToken)
            ?? throw new KubeApiException(HttpStatusCode.InternalServerError, resource.Path(@namespace), "the server answered a create without the object");
    }

    /// <param name="resource">The kind of object.</param>
    /// <param name="namespace">Its namespace.</param>
    /// <param name="name">Its name.</param>
    /// <param name="patch">The merge patch; <c>metadata.resourceVersion</c> in it makes the write fail with 409 if the object changed.</param>
    /// <param name="status">Write through the <c>/status</c> subresource.</param>
    /// <param name="cancellationToken">Cancels the request.</param>
    public async Task<JsonObject> PatchAsync(ApiResource resource, string @namespace, string name, JsonObject patch, bool status, CancellationToken cancellationToken)
    {
        var path = resource.Path(@namespace, name) + (status ? "/status" : "");
        metrics.Wrote(resource.Plural + (status ? "/status" : ""), "patch");
        Log.Wrote(logger, "patch", resource.Plural + (status ? "/status" : ""), @namespace + "/" + name);
        return await client.SendAsync(HttpMethod.Patch, path, patch, MergePatch, cancellationToken)
            ?? throw new KubeApiException(HttpStatusCode.InternalServerError, path, "the server answered a patch without the object");
    }

    /// <summary>Deletes the object if it is still the one with <paramref name="uid"/>; false when it was already gone.</summary>
    public async Task<bool> DeleteAsync(ApiResource resource, string @namespace, string name, string? uid, CancellationToken cancellationToken)
    {
        var options = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "DeleteOptions", ["propagationPolicy"] = "Background" };
        if (uid is not null)
        {
            options["preconditions"] = new JsonObject { ["uid"] = uid };
        }

        metrics.Wrote(resource.Plural, "delete");
        Log.Wrote(logger, "delete", resource.Plural, @namespace + "/" + name);
        try
        {
            await client.SendAsync(HttpMethod.Delete, resource.Path(@namespace, name), options, Json, cancellationToken);
            return true;
        }
        catch (KubeApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>A GET of one object, or null when it does not exist (not counted as a write).</summary>
    public async Task<JsonObject?> GetAsync(ApiResource resource, string @namespace, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await client.SendAsync(HttpMethod.Get, resource.Path(@namespace, name), null, Json, cancellationToken);
        }
        catch (KubeApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
            return null;
        }
    }
}
