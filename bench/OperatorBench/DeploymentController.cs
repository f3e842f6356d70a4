using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;

namespace Updraft.Bench.Operator;

/// <summary>
/// Plays kube-controller-manager's deployment controller, which does not run next to the test API server: without it
/// no Deployment ever gets <c>status.observedGeneration</c>, so no keda-engine Function (which is Ready once its
/// Deployment is rolled out) would ever be Ready. For every Deployment of one namespace seen in a watch, and again for
/// each new generation, it patches <c>/status</c> as that controller does on its first sync of a new Deployment,
/// before any pod runs: <c>observedGeneration</c>, the replica counts of <c>spec.replicas</c> (none available),
/// <c>Progressing=True</c>, and <c>Available=False</c> (<c>True</c> at zero replicas).
/// </summary>
/// <remarks>
/// <see cref="Workers"/> patches at once, as the controller's default <c>--concurrent-deployment-syncs=5</c>. These
/// writes are the benchmark's, not the operator's: they are counted here and reported apart, with their own lag (the
/// Deployment's event read → its status patch returned), so the reader sees what the played controller adds.
/// </remarks>
internal sealed class DeploymentController : IAsyncDisposable
{
    public const int Workers = 5;

    private readonly HttpClient _http;
    private readonly string _ns;
    private readonly Channel<(string Name, long Generation, int Replicas, long Seen)> _queue = Channel.CreateUnbounded<(string, long, int, long)>();
    private readonly ConcurrentQueue<double> _lags = new();
    private readonly ConcurrentDictionary<string, long> _queued = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _workers;
    private ObjectWatch? _watch;
    private int _patches;
    private int _pending;
    private volatile string? _failure;

    private DeploymentController(HttpClient http, string ns)
    {
        _http = http;
        _ns = ns;
        _workers = [.. Enumerable.Range(0, Workers).Select(_ => Task.Run(WorkAsync))];
    }

    /// <summary>Per status patch: the Deployment's event read → the patch returned (ms).</summary>
    public List<double> Lags => [.. _lags];

    /// <summary>Status patches written so far.</summary>
    public int Patches => Volatile.Read(ref _patches);

    /// <summary>Deployments waiting for (or in) a status patch.</summary>
    public int Pending => Volatile.Read(ref _pending);

    /// <summary>The first patch that failed (other than a Deployment deleted meanwhile), or null.</summary>
    public string? Failure => _failure;

    /// <summary>The watch's restarts (the server closed it and it resumed).</summary>
    public int WatchRestarts => _watch?.Restarts ?? 0;

    public static async Task<DeploymentController> StartAsync(HttpClient http, string ns, CancellationToken cancellationToken)
    {
        var controller = new DeploymentController(http, ns);
        try
        {
            controller._watch = await ObjectWatch.StartAsync(http, $"apis/apps/v1/namespaces/{ns}/deployments", null, static (_, _) => null, controller.Observe, cancellationToken);
            return controller;
        }
        catch
        {
            await controller.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_watch is not null)
        {
            await _watch.DisposeAsync();
        }

        _queue.Writer.TryComplete();
        await _stop.CancelAsync();
        await Task.WhenAll(_workers).WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(static _ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }

    // On the watch's thread: queue a patch for each generation not observed yet (once per generation).
    private void Observe(string type, JsonElement item)
    {
        var seen = Stopwatch.GetTimestamp();
        if (type == "DELETED" || ObjectWatch.Name(item) is not { } name)
        {
            return;
        }

        var metadata = item.GetProperty("metadata");
        var generation = metadata.TryGetProperty("generation", out var g) ? g.GetInt64() : 1;
        var observed = item.TryGetProperty("status", out var status) && status.TryGetProperty("observedGeneration", out var o) ? o.GetInt64() : 0;
        if (observed >= generation)
        {
            return;
        }

        var queued = _queued.GetOrAdd(name, 0);
        if (queued >= generation || !_queued.TryUpdate(name, generation, queued))
        {
            return;
        }

        var replicas = item.TryGetProperty("spec", out var spec) && spec.TryGetProperty("replicas", out var r) ? r.GetInt32() : 1;
        Interlocked.Increment(ref _pending);
        _queue.Writer.TryWrite((name, generation, replicas, seen));
    }

    private async Task WorkAsync()
    {
        try
        {
            await foreach (var (name, generation, replicas, seen) in _queue.Reader.ReadAllAsync(_stop.Token))
            {
                try
                {
                    if (await PatchAsync(name, generation, replicas))
                    {
                        _lags.Enqueue(Stopwatch.GetElapsedTime(seen).TotalMilliseconds);
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !_stop.IsCancellationRequested)
                {
                    _failure ??= $"PATCH deployments/{name}/status: {e.Message}";
                }
                finally
                {
                    Interlocked.Decrement(ref _pending);
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    // False when the Deployment is gone.
    private async Task<bool> PatchAsync(string name, long generation, int replicas)
    {
        var now = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        var status = new JsonObject
        {
            ["observedGeneration"] = generation,
            ["replicas"] = replicas,
            ["updatedReplicas"] = replicas,
            ["readyReplicas"] = null,
            ["availableReplicas"] = null,
            ["unavailableReplicas"] = replicas > 0 ? replicas : null,
            ["conditions"] = new JsonArray(
                new JsonObject
                {
                    ["type"] = "Available",
                    ["status"] = replicas > 0 ? "False" : "True",
                    ["reason"] = replicas > 0 ? "MinimumReplicasUnavailable" : "MinimumReplicasAvailable",
                    ["message"] = replicas > 0 ? "Deployment does not have minimum availability." : "Deployment has minimum availability.",
                    ["lastUpdateTime"] = now,
                    ["lastTransitionTime"] = now,
                },
                new JsonObject
                {
                    ["type"] = "Progressing",
                    ["status"] = "True",
                    ["reason"] = "NewReplicaSetCreated",
                    ["message"] = $"Created new replica set \"{name}-bench\"",
                    ["lastUpdateTime"] = now,
                    ["lastTransitionTime"] = now,
                }),
        };
        using var content = new StringContent(new JsonObject { ["status"] = status }.ToJsonString(), Encoding.UTF8, "application/merge-patch+json");
        using var request = new HttpRequestMessage(HttpMethod.Patch, $"apis/apps/v1/namespaces/{_ns}/deployments/{name}/status") { Content = content };
        using var response = await _http.SendAsync(request, _stop.Token);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }

        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(_stop.Token)}");
        }

        Interlocked.Increment(ref _patches);
        return true;
    }
}
