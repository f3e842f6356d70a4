using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Updraft.Kubernetes.Client;

namespace Updraft.Operator.Cluster;

/// <summary>
/// Whether a <c>scaleTargetRef</c> names something KEDA can scale: a kind the API server serves, with a <c>/scale</c>
/// subresource. Answers come from the server's discovery documents (readable by every authenticated user), cached
/// per group version for a few minutes so that a thousand objects cost one request.
/// </summary>
internal sealed class ScaleTargets(KubeApiClient client, TimeProvider time)
{
    private const int MaxEntries = 256;
    private static readonly TimeSpan CacheFor = TimeSpan.FromMinutes(2);
    private readonly ConcurrentDictionary<string, (DateTimeOffset Expires, Task<JsonArray?> Resources)> _discovery = new(StringComparer.Ordinal);

    /// <returns>Null when KEDA can scale it, otherwise what is wrong (for the condition's message).</returns>
    /// <exception cref="KubeApiException">Discovery failed for another reason than "not served" (the reconcile retries).</exception>
    public async Task<string?> ProblemAsync(string apiVersion, string kind, CancellationToken cancellationToken)
    {
        var resources = await ResourcesAsync(apiVersion, cancellationToken);
        if (resources is null)
        {
            return $"spec.scaleTargetRef.apiVersion: the API server does not serve {apiVersion}";
        }

        string? plural = null;
        foreach (var resource in resources)
        {
            if (resource?["kind"]?.GetValue<string>() == kind && resource["name"]?.GetValue<string>() is { } name && !name.Contains('/', StringComparison.Ordinal))
            {
                plural = name;
                break;
            }
        }

        if (plural is null)
        {
            return $"spec.scaleTargetRef.kind: {apiVersion} has no kind {kind}";
        }

        foreach (var resource in resources)
        {
            if (resource?["name"]?.GetValue<string>() == plural + "/scale")
            {
                return null;
            }
        }

        return $"spec.scaleTargetRef.kind: {kind} ({apiVersion}) has no /scale subresource, so KEDA cannot scale it";
    }

    private async Task<JsonArray?> ResourcesAsync(string apiVersion, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_discovery.TryGetValue(apiVersion, out var cached) && cached.Expires > now && !cached.Resources.IsFaulted && !cached.Resources.IsCanceled)
        {
            return await cached.Resources.WaitAsync(cancellationToken);
        }

        // Users choose the apiVersion: expired answers are dropped so that the cache stays as small as what is in use.
        if (_discovery.Count >= MaxEntries)
        {
            foreach (var (key, entry) in _discovery)
            {
                if (entry.Expires <= now)
                {
                    _discovery.TryRemove(key, out _);
                }
            }
        }

        var fetch = FetchAsync(apiVersion);
        _discovery[apiVersion] = (now + CacheFor, fetch);
        return await fetch.WaitAsync(cancellationToken);
    }

    private async Task<JsonArray?> FetchAsync(string apiVersion)
    {
        var path = apiVersion.Contains('/', StringComparison.Ordinal) ? "/apis/" + apiVersion : "/api/" + apiVersion;
        // Shared by every caller, so no caller's token: bounded by its own timeout instead.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            var list = await client.SendAsync(HttpMethod.Get, path, null, "application/json", timeout.Token);
            return list?["resources"] as JsonArray ?? [];
        }
        catch (KubeApiException e) when (e.Status == HttpStatusCode.NotFound)
        {
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
