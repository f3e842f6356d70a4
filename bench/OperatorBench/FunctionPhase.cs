using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Updraft.Bench.Operator;

/// <summary>
/// The Function phase: <see cref="Count"/> OpenFunction Functions with <c>engine: keda</c> created at once against the
/// running operator. Per Function, from its POST returning: (a) all five children it gets seen in watches (Deployment
/// <c>&lt;fn&gt;</c>, Services <c>&lt;fn&gt;-direct</c> and <c>&lt;fn&gt;</c>, InterceptorRoute <c>&lt;fn&gt;</c>,
/// ScaledObject <c>&lt;fn&gt;</c>; label <c>app.kubernetes.io/managed-by=updraft-operator</c>, attributed by their
/// controlling owner reference), and (b) the Function's <c>Ready</c> condition <c>True</c> seen in a Function watch.
/// The benchmark plays the deployment controller (<see cref="DeploymentController"/>): without it no Function is Ready.
/// </summary>
internal static class FunctionPhase
{
    public const int Count = 500;
    public const string ManagedBySelector = "app.kubernetes.io/managed-by=updraft-operator";

    /// <summary>The children of one keda-engine Function, by kind; Services twice (the pods' and the entry).</summary>
    public static readonly string[] ChildKinds = ["Deployment", "Service (pods, <fn>-direct)", "Service (entry, <fn>)", "InterceptorRoute", "ScaledObject"];

    /// <summary>What the Functions look like, for the report.</summary>
    public const string Specs =
        "5 shapes in turn: the minimal one (image + engine keda); hostname + PathPrefix / + port 9898 + scale options and httpScaledObject (examples/openfunction/keda-function.yaml); " +
        "no hostnames + version + params + labels + 0-3 replicas; two hostnames (one shared, each Function its own path prefix); hostname + min 1 max 5 + target 50, cooldown 60";

    public static string Name(int i) => "fn-" + i.ToString("D4", CultureInfo.InvariantCulture);

    public static async Task<FunctionResults> RunAsync(HttpClient http, OperatorProbe probe, string ns, int creators, TimeSpan timeout, TimeSpan idlePass, CancellationToken cancellationToken)
    {
        var process = probe.Process;
        var before = await probe.ReadMetricsAsync(cancellationToken);
        var failuresBefore = process.CountLines("[5010]");
        process.Process.Refresh();
        var cpuBefore = process.Process.TotalProcessorTime;

        await using var deployments = await DeploymentController.StartAsync(http, ns, cancellationToken);
        var children = new List<ObjectWatch>();
        ObjectWatch? ready = null;
        try
        {
            foreach (var (collection, _, _) in ChildCollections(ns))
            {
                children.Add(await ObjectWatch.StartAsync(http, collection, ManagedBySelector, ChildKey, null, cancellationToken));
            }

            ready = await ObjectWatch.StartAsync(http, $"apis/core.openfunction.io/v1beta2/namespaces/{ns}/functions", null, ReadyKey, null, cancellationToken);

            var collectionPath = $"apis/core.openfunction.io/v1beta2/namespaces/{ns}/functions";
            var posts = await Creation.PostAllAsync(http, collectionPath, Count, creators, Name, i => Function(ns, i), cancellationToken);

            // Bounded: one deadline for every wait of the phase.
            var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
            var collections = ChildCollections(ns);
            for (var w = 0; w < children.Count; w++)
            {
                await children[w].WaitForAsync(Count * collections[w].PerFunction, Remaining(deadline), collections[w].What, cancellationToken);
            }

            try
            {
                await ready.WaitForAsync(Count, Remaining(deadline), "Functions Ready=True", cancellationToken);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"{e.Message}; {await DescribeNotReadyAsync(http, collectionPath, cancellationToken)}", e);
            }

            await probe.WaitIdleAsync(["httpscaledobject", "interceptorroute", "function"], () => deployments.Pending == 0, Remaining(deadline), cancellationToken);
            var after = await probe.ReadMetricsAsync(cancellationToken);
            process.Process.Refresh();
            var cpu = process.Process.TotalProcessorTime - cpuBefore;
            var workingSet = process.Process.WorkingSet64 / (1024.0 * 1024.0);
            var patches = deployments.Patches;
            var patchLags = deployments.Lags;
            var functionEvents = ready.Events.Sum(e => e.Value);

            // The idle pass: nothing changes, so nothing should be written, by the operator or by the played controller.
            await Task.Delay(idlePass, cancellationToken);
            var idle = await probe.ReadMetricsAsync(cancellationToken);

            // Per Function: the last of its children seen, and Ready seen.
            var seen = children.SelectMany(w => w.Seen).ToDictionary(s => s.Key, s => s.Value, StringComparer.Ordinal);
            long ChildAt(int i, int kind) => seen.TryGetValue(ChildName(Name(i), kind), out var at)
                ? at
                : throw new InvalidOperationException($"{ChildKinds[kind]} of Function {Name(i)} was never seen (seen: {string.Join(", ", seen.Keys.Where(k => k.StartsWith(Name(i) + "|", StringComparison.Ordinal)))})");
            var allChildren = Enumerable.Range(0, Count).Select(i => Enumerable.Range(0, ChildKinds.Length).Max(k => ChildAt(i, k))).ToArray();
            var readyAt = Enumerable.Range(0, Count).Select(i => ready.Seen[Name(i)]).ToArray();
            var byKind = new Dictionary<string, List<double>>(StringComparer.Ordinal);
            for (var k = 0; k < ChildKinds.Length; k++)
            {
                var kind = k;
                byKind[ChildKinds[k]] = posts.SinceReturned(i => ChildAt(i, kind));
            }

            var writes = OperatorProbe.Delta(OperatorProbe.WritesBy(before), OperatorProbe.WritesBy(after));
            return new FunctionResults(
                ChildrenLatencies: posts.SinceReturned(i => allChildren[i]),
                ReadyLatencies: posts.SinceReturned(i => readyAt[i]),
                ReadyFromSent: posts.SinceSent(i => readyAt[i]),
                ChildrenByKind: byKind,
                Posts: posts.RoundTrips(),
                FirstToLastReturnedMs: posts.FirstToLastReturnedMs,
                FirstToLastChildrenMs: posts.SinceFirstMs(allChildren.Max()),
                FirstToLastReadyMs: posts.SinceFirstMs(readyAt.Max()),
                Writes: writes.Values.Sum(),
                WritesBy: writes,
                Reconciles: OperatorProbe.Delta(OperatorProbe.Reconciles(before), OperatorProbe.Reconciles(after)),
                DeploymentStatusPatches: patches,
                DeploymentStatusLags: patchLags,
                DeploymentFailure: deployments.Failure,
                Cpu: cpu,
                WorkingSetMiB: workingSet,
                IdleWrites: OperatorProbe.Sum(idle, OperatorProbe.ApiWrites) - OperatorProbe.Sum(after, OperatorProbe.ApiWrites),
                IdleDeploymentStatusPatches: deployments.Patches - patches,
                IdleFunctionEvents: ready.Events.Sum(e => e.Value) - functionEvents,
                FunctionWatchEvents: ready.Events,
                WatchRestarts: children.Sum(w => w.Restarts) + ready.Restarts + deployments.WatchRestarts,
                Listed: children.Sum(w => w.Listed) + ready.Listed,
                ReconcileFailures: process.CountLines("[5010]") - failuresBefore);
        }
        finally
        {
            foreach (var watch in children)
            {
                await watch.DisposeAsync();
            }

            if (ready is not null)
            {
                await ready.DisposeAsync();
            }
        }
    }

    /// <summary>
    /// A Function as users write it, in five shapes taken in turn (see <see cref="Specs"/>): with and without
    /// hostnames, with and without scale options, paths, params and labels.
    /// </summary>
    public static string Function(string ns, int i)
    {
        var name = Name(i);
        var http = new JsonObject { ["engine"] = "keda" };
        var serving = new JsonObject { ["triggers"] = new JsonObject { ["http"] = http } };
        var spec = new JsonObject { ["image"] = "openfunction/sample-go-func:v1", ["serving"] = serving };
        switch (i % 5)
        {
            case 0:
                // examples/openfunction/keda-function-minimal.yaml
                break;
            case 1:
                // examples/openfunction/keda-function.yaml
                spec["version"] = "v2.0.0";
                spec["image"] = "stefanprodan/podinfo";
                http["port"] = 9898;
                http["route"] = new JsonObject
                {
                    ["hostnames"] = new JsonArray(name + ".example.com"),
                    ["rules"] = new JsonArray(new JsonObject { ["matches"] = new JsonArray(new JsonObject { ["path"] = new JsonObject { ["type"] = "PathPrefix", ["value"] = "/" } }) }),
                };
                serving["scaleOptions"] = new JsonObject
                {
                    ["minReplicas"] = 0,
                    ["maxReplicas"] = 10,
                    ["keda"] = new JsonObject { ["httpScaledObject"] = new JsonObject { ["targetPendingRequests"] = 100, ["cooldownPeriod"] = 300 } },
                };
                serving["template"] = new JsonObject { ["containers"] = new JsonArray(new JsonObject { ["name"] = "function", ["imagePullPolicy"] = "IfNotPresent" }) };
                break;
            case 2:
                spec["version"] = "v1.0.0";
                http["port"] = 8080;
                serving["params"] = new JsonObject { ["GREETING"] = "hello", ["TARGET"] = name };
                serving["labels"] = new JsonObject { ["team"] = "bench" };
                serving["scaleOptions"] = new JsonObject { ["minReplicas"] = 0, ["maxReplicas"] = 3 };
                break;
            case 3:
                http["route"] = new JsonObject
                {
                    ["hostnames"] = new JsonArray(name + ".example.com", "api.example.com"),
                    ["rules"] = new JsonArray(new JsonObject { ["matches"] = new JsonArray(new JsonObject { ["path"] = new JsonObject { ["type"] = "PathPrefix", ["value"] = "/" + name } }) }),
                };
                break;
            default:
                spec["version"] = "v1.2.0";
                http["route"] = new JsonObject { ["hostnames"] = new JsonArray(name + ".example.org") };
                serving["scaleOptions"] = new JsonObject
                {
                    ["minReplicas"] = 1,
                    ["maxReplicas"] = 5,
                    ["keda"] = new JsonObject { ["httpScaledObject"] = new JsonObject { ["targetPendingRequests"] = 50, ["cooldownPeriod"] = 60 } },
                };
                break;
        }

        return new JsonObject
        {
            ["apiVersion"] = "core.openfunction.io/v1beta2",
            ["kind"] = "Function",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
            ["spec"] = spec,
        }.ToJsonString();
    }

    // The watched collections of the children, how many of each a Function gets, and what they are.
    private static (string Collection, int PerFunction, string What)[] ChildCollections(string ns) =>
    [
        ($"apis/apps/v1/namespaces/{ns}/deployments", 1, "Function Deployments"),
        ($"api/v1/namespaces/{ns}/services", 2, "Function Services"),
        ($"apis/http.keda.sh/v1beta1/namespaces/{ns}/interceptorroutes", 1, "Function InterceptorRoutes"),
        ($"apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects", 1, "Function ScaledObjects"),
    ];

    private static TimeSpan Remaining(long deadline) => TimeSpan.FromSeconds(Math.Max(0, (deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));

    // "<fn>|<kind index>": the child kinds of ChildKinds, the two Services told apart by name.
    private static string ChildName(string function, int kind) => function + "|" + kind.ToString(CultureInfo.InvariantCulture);

    // A child's first event: keyed by its controlling Function (owner reference) and its kind.
    private static string? ChildKey(string type, JsonElement item)
    {
        if (type is not ("ADDED" or ObjectWatch.ListedType) || ObjectWatch.Name(item) is not { } name || Owner(item) is not { } function)
        {
            return null;
        }

        var kind = item.TryGetProperty("kind", out var k) ? k.GetString() : null;
        var index = kind switch
        {
            "Deployment" => 0,
            "Service" when name != function => 1,
            "Service" => 2,
            "InterceptorRoute" => 3,
            "ScaledObject" => 4,
            _ => -1,
        };
        return index < 0 ? null : ChildName(function, index);
    }

    // The Function that controls the object, if any.
    private static string? Owner(JsonElement item)
    {
        if (!item.GetProperty("metadata").TryGetProperty("ownerReferences", out var owners) || owners.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        foreach (var owner in owners.EnumerateArray())
        {
            if (owner.TryGetProperty("kind", out var kind) && kind.GetString() == "Function"
                && owner.TryGetProperty("controller", out var controller) && controller.ValueKind == JsonValueKind.True)
            {
                return owner.GetProperty("name").GetString();
            }
        }

        return null;
    }

    // A Function whose status has Ready=True.
    private static string? ReadyKey(string type, JsonElement item) =>
        type != "DELETED" && IsReady(item) ? ObjectWatch.Name(item) : null;

    private static bool IsReady(JsonElement item)
    {
        if (!item.TryGetProperty("status", out var status) || status.ValueKind != JsonValueKind.Object
            || !status.TryGetProperty("conditions", out var conditions) || conditions.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        foreach (var condition in conditions.EnumerateArray())
        {
            if (condition.TryGetProperty("type", out var t) && t.GetString() == "Ready")
            {
                return condition.TryGetProperty("status", out var s) && s.GetString() == "True";
            }
        }

        return false;
    }

    // For a timeout: how many Functions stand where, and the first few not Ready with their reasons.
    private static async Task<string> DescribeNotReadyAsync(HttpClient http, string collection, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(collection, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            return $"GET {collection}: {(int)response.StatusCode}";
        }

        var items = (JsonNode.Parse(body)?["items"] as JsonArray ?? []).OfType<JsonObject>().ToList();
        var notReady = items.Where(f => (f["status"]?["conditions"] as JsonArray)?.Any(c => c?["type"]?.GetValue<string>() == "Ready" && c["status"]?.GetValue<string>() == "True") != true).ToList();
        var states = notReady.GroupBy(f => f["status"]?["serving"]?["reason"]?.GetValue<string>() ?? "no status", StringComparer.Ordinal)
            .Select(g => $"{g.Key}: {g.Count()}");
        var examples = notReady.Take(3).Select(f => $"{f["metadata"]?["name"]}: {f["status"]?["serving"]?["message"]}");
        return $"{items.Count} Functions, {notReady.Count} not Ready ({string.Join(", ", states)}); e.g. {string.Join("; ", examples)}";
    }
}

/// <summary>What the Function phase measured (latencies in ms from each Function's POST returning).</summary>
internal sealed record FunctionResults(
    List<double> ChildrenLatencies,
    List<double> ReadyLatencies,
    List<double> ReadyFromSent,
    Dictionary<string, List<double>> ChildrenByKind,
    List<double> Posts,
    double FirstToLastReturnedMs,
    double FirstToLastChildrenMs,
    double FirstToLastReadyMs,
    double Writes,
    Dictionary<string, double> WritesBy,
    Dictionary<string, double> Reconciles,
    int DeploymentStatusPatches,
    List<double> DeploymentStatusLags,
    string? DeploymentFailure,
    TimeSpan Cpu,
    double WorkingSetMiB,
    double IdleWrites,
    int IdleDeploymentStatusPatches,
    int IdleFunctionEvents,
    IReadOnlyDictionary<string, int> FunctionWatchEvents,
    int WatchRestarts,
    int Listed,
    int ReconcileFailures);
