using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Updraft.Bench.Operator;

/// <summary>
/// A watch on one collection (optionally label-selected), opened from the resourceVersion of a list (so nothing created
/// after <see cref="StartAsync"/> returns is missed), recording the <see cref="Stopwatch"/> time at which each key was
/// first seen: the caller's <see cref="KeyOf"/> maps an event (or an object of a re-list) to the key it stands for, or
/// to null when it marks nothing (e.g. the name of a ScaledObject on <c>ADDED</c>, or the name of a Function once an
/// event shows it <c>Ready=True</c>). An optional observer sees every object read, on the watch's own thread.
/// </summary>
/// <remarks>
/// kube-apiserver closes a watch whose reader falls behind its small per-watcher buffer for a moment (on 2 busy cores,
/// a burst of 1,000 writes can do that). Like an informer, the watch then resumes from the last resourceVersion it
/// read; the events in between are delivered on the new stream, a few milliseconds late. Should the server answer 410
/// Gone instead, the objects a fresh list shows are passed as <see cref="ListedType"/> and their keys taken as seen at
/// that list's time. Both are counted and reported.
/// </remarks>
internal sealed class ObjectWatch : IAsyncDisposable
{
    /// <summary>The <c>type</c> passed to <see cref="KeyOf"/> and the observer for an object read from a re-list after 410 Gone.</summary>
    public const string ListedType = "LISTED";

    private const int MaxRestarts = 50;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, long> _seen = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _events = new(StringComparer.Ordinal);
    private readonly HttpClient _http;
    private readonly string _collection;
    private readonly string _query;
    private readonly KeyOf _keyOf;
    private readonly Action<string, JsonElement>? _observer;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private HttpResponseMessage? _current;
    private string _resourceVersion;
    private volatile string? _ended;
    private int _restarts;
    private int _listed;
    private int _disposed;

    private ObjectWatch(HttpClient http, string collection, string query, string resourceVersion, HttpResponseMessage first, KeyOf keyOf, Action<string, JsonElement>? observer)
    {
        _http = http;
        _collection = collection;
        _query = query;
        _resourceVersion = resourceVersion;
        _current = first;
        _keyOf = keyOf;
        _observer = observer;
        // A thread of its own, reading with blocking calls: an event's time is taken when its line arrives, not when a
        // busy thread pool gets round to a continuation (the 32 creators keep it busy).
        new Thread(Run) { IsBackground = true, Name = "watch " + collection }.Start();
    }

    /// <summary>The key an event stands for (first seen = the time its line was read), or null when it marks nothing.</summary>
    /// <param name="type"><c>ADDED</c>, <c>MODIFIED</c>, <c>DELETED</c>, or <see cref="ListedType"/>.</param>
    /// <param name="item">The object.</param>
    public delegate string? KeyOf(string type, JsonElement item);

    /// <summary>Keys seen so far, with the time each was first seen.</summary>
    public IReadOnlyDictionary<string, long> Seen => _seen;

    /// <summary>Events read so far by type (<c>ADDED</c>, <c>MODIFIED</c>, <c>DELETED</c>, <c>ERROR</c>).</summary>
    public IReadOnlyDictionary<string, int> Events => new Dictionary<string, int>(_events, StringComparer.Ordinal);

    /// <summary>Times the server closed the stream and the watch resumed from the last resourceVersion read.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>Keys taken from a list after a 410 Gone rather than from an event (their time is the list's).</summary>
    public int Listed => Volatile.Read(ref _listed);

    /// <summary>The ScaledObjects of <paramref name="ns"/>, each seen at its first <c>ADDED</c> event (key: its name).</summary>
    public static Task<ObjectWatch> ScaledObjectsAsync(HttpClient http, string ns, CancellationToken cancellationToken) =>
        StartAsync(http, $"apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects", null, static (type, item) => type is "ADDED" or ListedType ? Name(item) : null, null, cancellationToken);

    /// <summary>Lists <paramref name="collection"/> (objects that exist already are not passed on) and watches it from the list's resourceVersion.</summary>
    /// <param name="http">The API server's client.</param>
    /// <param name="collection">E.g. <c>apis/apps/v1/namespaces/ns/deployments</c>.</param>
    /// <param name="labelSelector">Only the objects it selects, or null for all.</param>
    /// <param name="keyOf">What each event marks as seen.</param>
    /// <param name="observer">Sees every object read (type and object), on the watch's thread: keep it short.</param>
    /// <param name="cancellationToken">Cancels the start only.</param>
    public static async Task<ObjectWatch> StartAsync(HttpClient http, string collection, string? labelSelector, KeyOf keyOf, Action<string, JsonElement>? observer, CancellationToken cancellationToken)
    {
        var query = labelSelector is null ? "" : "labelSelector=" + Uri.EscapeDataString(labelSelector);
        using var listResponse = await http.GetAsync(Url(collection, query, null), cancellationToken);
        var body = await listResponse.Content.ReadAsStringAsync(cancellationToken);
        if (!listResponse.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {collection}: {(int)listResponse.StatusCode}: {body}");
        }

        var resourceVersion = (JsonNode.Parse(body)?["metadata"]?["resourceVersion"]?.GetValue<string>())
            ?? throw new InvalidOperationException($"GET {collection}: the list has no resourceVersion");
        // The response headers arrive once the server has registered the watch.
        using var request = WatchRequest(collection, query, resourceVersion);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await EnsureSuccessAsync(response, collection);
        return new ObjectWatch(http, collection, query, resourceVersion, response, keyOf, observer);
    }

    /// <summary>An object's <c>metadata.name</c>.</summary>
    public static string? Name(JsonElement item) =>
        item.TryGetProperty("metadata", out var metadata) && metadata.TryGetProperty("name", out var name) ? name.GetString() : null;

    /// <summary>Waits until <paramref name="count"/> keys have been seen; throws after <paramref name="timeout"/> or when the watch gave up.</summary>
    /// <param name="count">How many keys.</param>
    /// <param name="timeout">The bound.</param>
    /// <param name="what">What the keys are, for the messages (e.g. <c>ScaledObjects</c>).</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    public async Task WaitForAsync(int count, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (_seen.Count < count)
        {
            if (_ended is { } ended)
            {
                throw new InvalidOperationException($"the watch on {_collection} ended ({ended}) with {_seen.Count} of {count} {what} seen");
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"only {_seen.Count} of {count} {what} were seen within {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(5, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stop.CancelAsync();
        lock (_gate)
        {
            // Unblocks the thread's read.
            _current?.Dispose();
        }

        await _finished.Task.WaitAsync(TimeSpan.FromSeconds(30));
        _stop.Dispose();
    }

    private static string Url(string collection, string query, string? resourceVersion)
    {
        // timeoutSeconds bounds the watch on the server's side too; a run takes a few minutes at most.
        var watch = resourceVersion is null ? "" : $"watch=true&resourceVersion={resourceVersion}&timeoutSeconds=1800";
        var parameters = string.Join('&', new[] { watch, query }.Where(p => p.Length > 0));
        return parameters.Length == 0 ? collection : collection + "?" + parameters;
    }

    private static HttpRequestMessage WatchRequest(string collection, string query, string resourceVersion) =>
        new(HttpMethod.Get, Url(collection, query, resourceVersion));

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string collection)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync();
            response.Dispose();
            throw new HttpRequestException($"watch {collection}: {(int)response.StatusCode}: {body}", null, response.StatusCode);
        }
    }

    private void Run()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var gone = false;
                HttpResponseMessage? response;
                lock (_gate)
                {
                    response = _current;
                }

                try
                {
                    gone = response is not null && ReadStream(response);
                }
                catch (Exception e) when (e is IOException or HttpRequestException or ObjectDisposedException)
                {
                    // The stream broke (or DisposeAsync closed it); resume below unless stopping.
                }

                lock (_gate)
                {
                    _current?.Dispose();
                    _current = null;
                }

                if (_stop.IsCancellationRequested)
                {
                    return;
                }

                if (Interlocked.Increment(ref _restarts) > MaxRestarts)
                {
                    _ended = $"the server closed the watch more than {MaxRestarts} times";
                    return;
                }

                if (gone)
                {
                    Relist();
                }

                var reopened = Open();
                if (reopened.StatusCode == HttpStatusCode.Gone)
                {
                    reopened.Dispose();
                    Relist();
                    reopened = Open();
                }

                if (!reopened.IsSuccessStatusCode)
                {
                    var status = reopened.StatusCode;
                    reopened.Dispose();
                    throw new HttpRequestException($"watch {_collection}: {(int)status}", null, status);
                }

                lock (_gate)
                {
                    if (_stop.IsCancellationRequested)
                    {
                        reopened.Dispose();
                        return;
                    }

                    _current = reopened;
                }
            }
        }
        catch (Exception e) when (!_stop.IsCancellationRequested)
        {
            _ended = e.Message;
        }
        catch (Exception)
        {
            // Stopping: whatever the closed stream threw does not matter.
        }
        finally
        {
            _finished.TrySetResult();
        }
    }

    private HttpResponseMessage Open()
    {
        using var request = WatchRequest(_collection, _query, _resourceVersion);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(RequestTimeout);
        return _http.Send(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
    }

    // Reads one stream to its end; true when the server said 410 Gone (the resourceVersion is too old to resume from).
    private bool ReadStream(HttpResponseMessage response)
    {
        using var reader = new StreamReader(response.Content.ReadAsStream());
        while (reader.ReadLine() is { } line)
        {
            var read = Stopwatch.GetTimestamp();
            if (line.Length == 0)
            {
                continue;
            }

            using var document = JsonDocument.Parse(line);
            var type = document.RootElement.GetProperty("type").GetString() ?? "";
            _events.AddOrUpdate(type, 1, static (_, count) => count + 1);
            var item = document.RootElement.GetProperty("object");
            if (type == "ERROR")
            {
                if (item.TryGetProperty("code", out var code) && code.GetInt32() == (int)HttpStatusCode.Gone)
                {
                    return true;
                }

                throw new InvalidOperationException("ERROR event: " + line);
            }

            if (_keyOf(type, item) is { } key)
            {
                _seen.TryAdd(key, read);
            }

            _observer?.Invoke(type, item);
            if (item.GetProperty("metadata").TryGetProperty("resourceVersion", out var version) && version.GetString() is { } resourceVersion)
            {
                _resourceVersion = resourceVersion;
            }
        }

        return false;
    }

    private void Relist()
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(RequestTimeout);
        using var request = new HttpRequestMessage(HttpMethod.Get, Url(_collection, _query, null));
        using var response = _http.Send(request, timeout.Token);
        using var reader = new StreamReader(response.Content.ReadAsStream());
        var body = reader.ReadToEnd();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {_collection}: {(int)response.StatusCode}: {body}");
        }

        var listed = Stopwatch.GetTimestamp();
        using var list = JsonDocument.Parse(body);
        if (list.RootElement.TryGetProperty("items", out var items) && items.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in items.EnumerateArray())
            {
                if (_keyOf(ListedType, item) is { } key && _seen.TryAdd(key, listed))
                {
                    Interlocked.Increment(ref _listed);
                }

                _observer?.Invoke(ListedType, item);
            }
        }

        if (list.RootElement.TryGetProperty("metadata", out var metadata) && metadata.TryGetProperty("resourceVersion", out var version) && version.GetString() is { } resourceVersion)
        {
            _resourceVersion = resourceVersion;
        }
    }
}
