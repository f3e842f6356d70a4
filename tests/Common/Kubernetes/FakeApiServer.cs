using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Updraft.Tests.Common.Kubernetes;

/// <summary>
/// An in-process HTTP server on loopback speaking the Kubernetes list/watch protocol, for API shapes the real
/// kube-apiserver built here (v1.20) cannot serve (<c>discovery.k8s.io/v1</c>) and for faults that are hard to cause
/// on a real server on demand (a watch closed mid-stream, <c>410 Gone</c>, error answers).
/// </summary>
/// <remarks>
/// Objects are JSON documents kept per collection (<c>/apis/group/version/plural</c> or <c>/api/v1/plural</c>);
/// namespaced paths filter by namespace. Every write gets the next resource version and is appended to an event log
/// that watches replay from the version they ask for. Versions older than <see cref="Compact"/> answer 410.
/// </remarks>
public sealed class FakeApiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Dictionary<string, JsonObject>> _collections = new(StringComparer.Ordinal);
    private readonly List<(long Version, string Collection, string Type, JsonObject Object, JsonObject? Previous)> _log = [];
    private readonly ConcurrentDictionary<Channel<string?>, string> _watchers = new();
    private readonly ConcurrentQueue<int> _failures = new();
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _held = new(StringComparer.Ordinal);
    private long _version = 100;
    private long _compactedBefore;

    private FakeApiServer(WebApplication app)
    {
        _app = app;
    }

    /// <summary>Versions of <c>discovery.k8s.io</c> the discovery document lists.</summary>
    public string[] DiscoveryVersions { get; set; } = ["v1"];

    /// <summary>Requests answered so far, by path and query (for asserting what a client asked).</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public int OpenWatches => _watchers.Count;

    /// <summary>Collections answered with 404, as for a CRD that is not installed.</summary>
    public ConcurrentDictionary<string, bool> Unserved { get; } = new(StringComparer.Ordinal);

    /// <summary>Collections whose every list and watch is answered with the given status (e.g. 500) until removed.</summary>
    public ConcurrentDictionary<string, int> Failing { get; } = new(StringComparer.Ordinal);

    public Uri Address { get; private set; } = null!;

    /// <summary>A kubeconfig pointing at this server, written to <paramref name="path"/>.</summary>
    public string WriteKubeconfig(string path)
    {
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake
              cluster:
                server: {Address.ToString().TrimEnd('/')}
            users:
            - name: fake
              user:
                token: fake-token
            contexts:
            - name: fake
              context:
                cluster: fake
                user: fake
            current-context: fake
            """);
        return path;
    }

    public static async Task<FakeApiServer> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeApiServer(app);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Address = new Uri(address);
        return server;
    }

    /// <summary>Creates or replaces an object (by namespace/name) in <paramref name="collection"/> (e.g. <c>/api/v1/services</c>).</summary>
    public long Upsert(string collection, object value)
    {
        // A copy, so that a caller changing its object afterwards does not change what the server holds.
        var node = value is JsonObject given ? given.DeepClone().AsObject() : JsonSerializer.SerializeToNode(value, JsonSerializerOptions.Web)!.AsObject();
        lock (_gate)
        {
            var items = Collection(collection);
            var key = KeyOf(node);
            items.TryGetValue(key, out var previous);
            var type = previous is null ? "ADDED" : "MODIFIED";
            var version = ++_version;
            var metadata = node["metadata"]!.AsObject();
            metadata["resourceVersion"] = version.ToString(CultureInfo.InvariantCulture);
            metadata["creationTimestamp"] ??= DateTimeOffset.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
            items[key] = node;
            Publish(version, collection, type, node, previous);
            return version;
        }
    }

    public bool Delete(string collection, string @namespace, string name)
    {
        lock (_gate)
        {
            var items = Collection(collection);
            var key = @namespace + "/" + name;
            if (!items.Remove(key, out var node))
            {
                return false;
            }

            var version = ++_version;
            node = node.DeepClone().AsObject();
            node["metadata"]!["resourceVersion"] = version.ToString(CultureInfo.InvariantCulture);
            Publish(version, collection, "DELETED", node, null);
            return true;
        }
    }

    /// <summary>Forgets history: watches from any version before now answer 410 Gone (as after etcd compaction).</summary>
    public void Compact()
    {
        lock (_gate)
        {
            _compactedBefore = _version + 1;
            _log.Clear();
        }
    }

    /// <summary>Ends every open watch stream (as an API server restart or a load balancer would).</summary>
    public void CloseWatches()
    {
        foreach (var watcher in _watchers.Keys)
        {
            watcher.Writer.TryComplete();
        }
    }

    /// <summary>Sends an <c>ERROR</c> event with code 410 on every open watch, then ends them (the in-stream form of Gone).</summary>
    public void ExpireWatches()
    {
        Compact();
        var gone = """{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure","message":"too old resource version","reason":"Expired","code":410}}""";
        foreach (var watcher in _watchers.Keys)
        {
            watcher.Writer.TryWrite(gone);
            watcher.Writer.TryComplete();
        }
    }

    /// <summary>Sends a <c>BOOKMARK</c> with the current version on every open watch.</summary>
    public void Bookmark()
    {
        string line;
        lock (_gate)
        {
            line = """{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":""" + "\"" + _version.ToString(CultureInfo.InvariantCulture) + "\"}}}";
        }

        foreach (var watcher in _watchers.Keys)
        {
            watcher.Writer.TryWrite(line);
        }
    }

    /// <summary>The next <paramref name="count"/> requests are answered with <paramref name="status"/>.</summary>
    public void FailNext(int count, int status = 500)
    {
        for (var i = 0; i < count; i++)
        {
            _failures.Enqueue(status);
        }
    }

    /// <summary>Drops failures queued by <see cref="FailNext"/> that have not been used.</summary>
    public void StopFailing() => _failures.Clear();

    /// <summary>Requests for <paramref name="collection"/> (lists and watches) wait until <see cref="Release"/>, as on a slow server.</summary>
    public void Hold(string collection) => _held.TryAdd(collection, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));

    /// <summary>Answers the requests <see cref="Hold"/> kept waiting, and those that follow.</summary>
    public void Release(string collection)
    {
        if (_held.TryRemove(collection, out var gate))
        {
            gate.TrySetResult();
        }
    }

    private Dictionary<string, JsonObject> Collection(string collection)
    {
        if (!_collections.TryGetValue(collection, out var items))
        {
            items = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
            _collections[collection] = items;
        }

        return items;
    }

    private void Publish(long version, string collection, string type, JsonObject node, JsonObject? previous)
    {
        _log.Add((version, collection, type, node, previous));
        foreach (var (watcher, filter) in _watchers)
        {
            if (EventFor(filter, collection, type, node, previous) is { } line)
            {
                watcher.Writer.TryWrite(line);
            }
        }
    }

    /// <summary>
    /// The event a watch with <paramref name="filter"/> sees, as the real server does for selectors: an object modified
    /// into the selection is ADDED, one modified out of it is DELETED.
    /// </summary>
    private static string? EventFor(string filter, string collection, string type, JsonObject node, JsonObject? previous)
    {
        var now = Matches(filter, collection, node);
        var before = previous is not null && Matches(filter, collection, previous);
        return (type, now, before) switch
        {
            ("MODIFIED", true, false) => Event("ADDED", node),
            ("MODIFIED", false, true) => Event("DELETED", node),
            (_, true, _) => Event(type, node),
            _ => null,
        };
    }

    private static string Event(string type, JsonObject node) =>
        new JsonObject { ["type"] = type, ["object"] = node.DeepClone() }.ToJsonString();

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        Requests.Enqueue(request.Path + request.QueryString);
        if (_failures.TryDequeue(out var failure))
        {
            await WriteStatusAsync(context, failure, "injected failure");
            return;
        }

        var path = request.Path.Value!;
        if (path == "/apis/discovery.k8s.io")
        {
            var versions = new JsonArray();
            foreach (var served in DiscoveryVersions)
            {
                versions.Add(new JsonObject { ["groupVersion"] = "discovery.k8s.io/" + served, ["version"] = served });
            }

            await context.Response.WriteAsJsonAsync(new JsonObject { ["kind"] = "APIGroup", ["name"] = "discovery.k8s.io", ["versions"] = versions });
            return;
        }

        if (path == "/version")
        {
            await context.Response.WriteAsJsonAsync(new JsonObject { ["gitVersion"] = "v1.99.0-fake" });
            return;
        }

        if (!TrySplit(path, out var collection, out var ns))
        {
            await WriteStatusAsync(context, 404, "not found");
            return;
        }

        if (_held.TryGetValue(collection, out var held))
        {
            await held.Task.WaitAsync(context.RequestAborted);
        }

        if (Unserved.ContainsKey(collection))
        {
            await WriteStatusAsync(context, 404, "the server could not find the requested resource");
            return;
        }

        if (Failing.TryGetValue(collection, out var failingStatus))
        {
            await WriteStatusAsync(context, failingStatus, "injected failure of " + collection);
            return;
        }

        var selector = request.Query["labelSelector"].ToString();
        if (request.Query["watch"] == "true" || request.Query["watch"] == "1")
        {
            await WatchAsync(context, collection, ns, selector);
            return;
        }

        JsonArray items = [];
        string version;
        lock (_gate)
        {
            foreach (var node in Collection(collection).Values)
            {
                if ((ns is null || Namespace(node) == ns) && SelectorMatches(selector, node))
                {
                    items.Add(node.DeepClone());
                }
            }

            version = _version.ToString(CultureInfo.InvariantCulture);
        }

        await context.Response.WriteAsJsonAsync(new JsonObject
        {
            ["kind"] = "List",
            ["metadata"] = new JsonObject { ["resourceVersion"] = version },
            ["items"] = items,
        });
    }

    private async Task WatchAsync(HttpContext context, string collection, string? ns, string selector)
    {
        var from = long.Parse(context.Request.Query["resourceVersion"].ToString() is { Length: > 0 } text ? text : "0", CultureInfo.InvariantCulture);
        var channel = Channel.CreateUnbounded<string?>();
        var filter = (ns ?? "") + "|" + selector + "|" + collection;
        lock (_gate)
        {
            if (from < _compactedBefore - 1)
            {
                context.Response.StatusCode = 410;
            }
            else
            {
                foreach (var (version, eventCollection, type, node, previous) in _log)
                {
                    if (version > from && EventFor(filter, eventCollection, type, node, previous) is { } line)
                    {
                        channel.Writer.TryWrite(line);
                    }
                }

                _watchers[channel] = filter;
            }
        }

        if (context.Response.StatusCode == 410)
        {
            await WriteStatusAsync(context, 410, "too old resource version");
            return;
        }

        try
        {
            context.Response.ContentType = "application/json";
            await context.Response.StartAsync(context.RequestAborted);
            await foreach (var line in channel.Reader.ReadAllAsync(context.RequestAborted))
            {
                await context.Response.WriteAsync(line + "\n", Encoding.UTF8, context.RequestAborted);
                await context.Response.Body.FlushAsync(context.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            _watchers.TryRemove(channel, out _);
        }
    }

    private static bool Matches(string filter, string collection, JsonObject node)
    {
        var parts = filter.Split('|', 3);
        return parts[2] == collection && (parts[0].Length == 0 || Namespace(node) == parts[0]) && SelectorMatches(parts[1], node);
    }

    /// <summary>Equality selectors only (<c>a=b,c=d</c>), which is all Updraft sends.</summary>
    private static bool SelectorMatches(string selector, JsonObject node)
    {
        if (selector.Length == 0)
        {
            return true;
        }

        var labels = node["metadata"]?["labels"] as JsonObject;
        foreach (var term in selector.Split(','))
        {
            var (key, value) = (term.Split('=', 2)[0], term.Split('=', 2)[1]);
            if (labels?[key]?.GetValue<string>() != value)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary><c>/api/v1/namespaces/ns/services</c> → (<c>/api/v1/services</c>, <c>ns</c>).</summary>
    private static bool TrySplit(string path, out string collection, out string? ns)
    {
        var segments = path.Trim('/').Split('/');
        var prefix = segments[0] == "api" ? 2 : segments[0] == "apis" ? 3 : -1;
        ns = null;
        collection = "";
        if (prefix < 0 || segments.Length < prefix + 1)
        {
            return false;
        }

        var head = "/" + string.Join('/', segments[..prefix]);
        if (segments.Length == prefix + 3 && segments[prefix] == "namespaces")
        {
            ns = segments[prefix + 1];
            collection = head + "/" + segments[prefix + 2];
            return true;
        }

        if (segments.Length == prefix + 1)
        {
            collection = head + "/" + segments[prefix];
            return true;
        }

        return false;
    }

    private static string? Namespace(JsonObject node) => node["metadata"]?["namespace"]?.GetValue<string>();

    private static string KeyOf(JsonObject node) => Namespace(node) + "/" + node["metadata"]!["name"]!.GetValue<string>();

    private static Task WriteStatusAsync(HttpContext context, int code, string message)
    {
        context.Response.StatusCode = code;
        return context.Response.WriteAsJsonAsync(new JsonObject { ["kind"] = "Status", ["status"] = "Failure", ["message"] = message, ["code"] = code });
    }

    public async ValueTask DisposeAsync()
    {
        CloseWatches();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
