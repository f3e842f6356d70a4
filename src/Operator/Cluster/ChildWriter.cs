using System.Net;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;

namespace Updraft.Operator.Cluster;

/// <summary>
/// Creates or corrects the children an object owns (a ScaledObject for an HTTPScaledObject; a Deployment, Services,
/// an InterceptorRoute and a ScaledObject for a Function). Only the fields in the desired document are owned: they
/// are compared with what the cluster has, and written (as a merge patch carrying the resource version they were
/// computed from) only when they differ. A child controlled by something else is never taken over.
/// </summary>
internal sealed class ChildWriter(ObjectWriter writer)
{
    private readonly RecentWrites<JsonObject> _recent = new();

    /// <summary>The freshest copy of a child: the cache's, or what this writer wrote if the cache has not caught up.</summary>
    public JsonObject? Current(ApiResource resource, string key, JsonObject? cached) =>
        _recent.Resolve(resource + "/" + key, cached, VersionOf(cached));

    public void Forget(ApiResource resource, string key) => _recent.Forget(resource + "/" + key);

    /// <param name="resource">The child's kind.</param>
    /// <param name="current">The child as the cache has it (see <see cref="Current"/>), or null.</param>
    /// <param name="desired">
    /// The whole child as it should be: <c>apiVersion</c>, <c>kind</c>, <c>metadata.name</c>/<c>namespace</c>, and the owned
    /// fields (null = absent). Labels and annotations in it are merged key by key.
    /// </param>
    /// <param name="owner">The controller owner reference to set.</param>
    /// <param name="createOnly">Fields written only when the child is created (e.g. a Deployment's replicas, which KEDA owns afterwards).</param>
    /// <param name="cancellationToken">Cancels the writes.</param>
    public async Task<ChildResult> ApplyAsync(ApiResource resource, JsonObject? current, JsonObject desired, JsonObject owner, JsonObject? createOnly, CancellationToken cancellationToken)
    {
        var metadata = (JsonObject)desired["metadata"]!;
        var ns = metadata["namespace"]!.GetValue<string>();
        var name = metadata["name"]!.GetValue<string>();
        var key = resource + "/" + ns + "/" + name;
        if (current is null)
        {
            var body = OwnedFields.WithoutNulls(desired);
            if (createOnly is not null)
            {
                Merge(body, createOnly);
            }

            ((JsonObject)body["metadata"]!)["ownerReferences"] = new JsonArray(owner.DeepClone());
            try
            {
                var created = await writer.CreateAsync(resource, ns, body, cancellationToken);
                _recent.Remember(key, null, created);
                return new ChildResult(ChildOutcome.Created, created, null);
            }
            catch (KubeApiException e) when (e.Status == HttpStatusCode.Conflict)
            {
                // Created meanwhile (by someone else, or the cache was behind): take it from the server and carry on.
                current = await writer.GetAsync(resource, ns, name, cancellationToken);
                if (current is null)
                {
                    throw;
                }
            }
        }

        var control = ControllerOf(current);
        var ownerUid = owner["uid"]?.GetValue<string>();
        if (control is not null && control["uid"]?.GetValue<string>() != ownerUid && !IsStale(control, owner))
        {
            return new ChildResult(ChildOutcome.OwnedElsewhere, current, $"{control["kind"]?.GetValue<string>()} {control["name"]?.GetValue<string>()}");
        }

        var patch = (JsonObject)desired.DeepClone();
        patch.Remove("apiVersion");
        patch.Remove("kind");
        var patchMetadata = (JsonObject)patch["metadata"]!;
        patchMetadata.Remove("name");
        patchMetadata.Remove("namespace");
        if (control is null || control["uid"]?.GetValue<string>() != ownerUid)
        {
            patchMetadata["ownerReferences"] = Adopted(current, owner);
        }

        if (OwnedFields.Match(current, patch))
        {
            return new ChildResult(ChildOutcome.Unchanged, current, null);
        }

        patchMetadata["resourceVersion"] = VersionOf(current);
        var patched = await writer.PatchAsync(resource, ns, name, patch, status: false, cancellationToken);
        _recent.Remember(key, VersionOf(current), patched);
        return new ChildResult(ChildOutcome.Updated, patched, null);
    }

    /// <summary>Deletes a child if it is still the one the cache has; true when something was deleted.</summary>
    public async Task<bool> DeleteAsync(ApiResource resource, JsonObject current, CancellationToken cancellationToken)
    {
        var metadata = current["metadata"]!;
        var ns = metadata["namespace"]!.GetValue<string>();
        var name = metadata["name"]!.GetValue<string>();
        var deleted = await writer.DeleteAsync(resource, ns, name, metadata["uid"]?.GetValue<string>(), cancellationToken);
        _recent.Remember(resource + "/" + ns + "/" + name, VersionOf(current), null);
        return deleted;
    }

    /// <summary>Removes the owner reference with <paramref name="ownerUid"/> from a child, keeping the child.</summary>
    public async Task<bool> OrphanAsync(ApiResource resource, JsonObject current, string ownerUid, CancellationToken cancellationToken)
    {
        if (current["metadata"]?["ownerReferences"] is not JsonArray references || !references.Any(r => r?["uid"]?.GetValue<string>() == ownerUid))
        {
            return false;
        }

        var remaining = new JsonArray();
        foreach (var reference in references)
        {
            if (reference?["uid"]?.GetValue<string>() != ownerUid)
            {
                remaining.Add(reference?.DeepClone());
            }
        }

        var metadata = current["metadata"]!;
        var ns = metadata["namespace"]!.GetValue<string>();
        var name = metadata["name"]!.GetValue<string>();
        var patch = new JsonObject { ["metadata"] = new JsonObject { ["ownerReferences"] = remaining, ["resourceVersion"] = VersionOf(current) } };
        var patched = await writer.PatchAsync(resource, ns, name, patch, status: false, cancellationToken);
        _recent.Remember(resource + "/" + ns + "/" + name, VersionOf(current), patched);
        return true;
    }

    /// <summary>A controller owner reference (<c>controller: true</c>, <c>blockOwnerDeletion: true</c>).</summary>
    public static JsonObject OwnerReference(string apiVersion, string kind, string name, string? uid) => new()
    {
        ["apiVersion"] = apiVersion,
        ["kind"] = kind,
        ["name"] = name,
        ["uid"] = uid,
        ["controller"] = true,
        ["blockOwnerDeletion"] = true,
    };

    /// <summary>The controller owner reference of <paramref name="item"/>, if it has one.</summary>
    public static JsonObject? ControllerOf(JsonObject? item)
    {
        if (item?["metadata"]?["ownerReferences"] is not JsonArray references)
        {
            return null;
        }

        foreach (var reference in references)
        {
            if (reference is JsonObject obj && obj["controller"]?.GetValue<bool>() == true)
            {
                return obj;
            }
        }

        return null;
    }

    /// <summary>True when <paramref name="item"/>'s controller is the owner with <paramref name="uid"/>.</summary>
    public static bool IsControlledBy(JsonObject? item, string? uid) => uid is not null && ControllerOf(item)?["uid"]?.GetValue<string>() == uid;

    public static string? VersionOf(JsonObject? item) => item?["metadata"]?["resourceVersion"]?.GetValue<string>();

    /// <summary>Controlled by an earlier owner of the same kind and name, deleted before the garbage collector got to this child.</summary>
    private static bool IsStale(JsonObject control, JsonObject owner) =>
        control["kind"]?.GetValue<string>() == owner["kind"]?.GetValue<string>()
        && control["name"]?.GetValue<string>() == owner["name"]?.GetValue<string>();

    /// <summary>The child's owner references with <paramref name="owner"/> as controller (other owners kept; a stale controller entry replaced).</summary>
    private static JsonArray Adopted(JsonObject current, JsonObject owner)
    {
        var references = new JsonArray();
        var uid = owner["uid"]?.GetValue<string>();
        if (current["metadata"]?["ownerReferences"] is JsonArray existing)
        {
            foreach (var reference in existing)
            {
                if (reference?["controller"]?.GetValue<bool>() != true && reference?["uid"]?.GetValue<string>() != uid)
                {
                    references.Add(reference?.DeepClone());
                }
            }
        }

        references.Add(owner.DeepClone());
        return references;
    }

    private static void Merge(JsonObject target, JsonObject source)
    {
        foreach (var (name, value) in source)
        {
            if (value is JsonObject child && target[name] is JsonObject existing)
            {
                Merge(existing, child);
            }
            else
            {
                target[name] = value?.DeepClone();
            }
        }
    }
}

internal enum ChildOutcome
{
    Created,
    Updated,
    Unchanged,

    /// <summary>A child of that name exists and is controlled by someone else; left alone.</summary>
    OwnedElsewhere,
}

/// <param name="Outcome">What was done.</param>
/// <param name="Current">The child now (null only when it could not be read).</param>
/// <param name="Controller">For <see cref="ChildOutcome.OwnedElsewhere"/>: <c>Kind name</c> of its controller.</param>
internal sealed record ChildResult(ChildOutcome Outcome, JsonObject? Current, string? Controller);
