using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Updraft.Bench.Operator;

/// <summary>
/// A watch on the KEDA ScaledObjects of one namespace, opened from the resourceVersion of a list (so nothing created
/// after <see cref="StartAsync"/> returns is missed), recording the <see cref="Stopwatch"/> time at which the first
/// <c>ADDED</c> event of each name was read from the newline-delimited JSON stream.
/// </summary>
/// <remarks>
/// kube-apiserver closes a watch whose reader falls behind its small per-watcher buffer for a moment (on 2 busy cores,
/// a burst of 1,000 writes can do that). Like an informer, the watch then resumes from the last resourceVersion it
/// read; the events in between are delivered on the new stream, a few milliseconds late. Should the server answer 410
/// Gone instead, the names a fresh list shows are taken as seen at that list's time. Both are counted and reported.
/// </remarks>
internal sealed class ScaledObjectWatch : IAsyncDisposable
{
    private const int MaxRestarts = 50;
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, long> _added = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int> _events = new(StringComparer.Ordinal);
    private readonly HttpClient _http;
    private readonly string _collection;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _finished = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Lock _gate = new();
    private HttpResponseMessage? _current;
    private string _resourceVersion;
    private volatile string? _ended;
    private int _restarts;
    private int _listed;

    private ScaledObjectWatch(HttpClient http, string collection, string resourceVersion, HttpResponseMessage first)
    {
        _http = http;
        _collection = collection;
        _resourceVersion = resourceVersion;
        _current = first;
        // A thread of its own, reading with blocking calls: an event's time is taken when its line arrives, not when a
        // busy thread pool gets round to a continuation (the 32 creators keep it busy).
        new Thread(Run) { IsBackground = true, Name = "watch " + collection }.Start();
    }

    /// <summary>Names seen so far, with the time their first <c>ADDED</c> event was read.</summary>
    public IReadOnlyDictionary<string, long> Added => _added;

    /// <summary>Events read so far by type (<c>ADDED</c>, <c>MODIFIED</c>, <c>DELETED</c>, <c>ERROR</c>).</summary>
    public IReadOnlyDictionary<string, int> Events => new Dictionary<string, int>(_events, StringComparer.Ordinal);

    /// <summary>Times the server closed the stream and the watch resumed from the last resourceVersion read.</summary>
    public int Restarts => Volatile.Read(ref _restarts);

    /// <summary>Names taken from a list after a 410 Gone rather than from an event (their time is the list's).</summary>
    public int Listed => Volatile.Read(ref _listed);

    public static async Task<ScaledObjectWatch> StartAsync(HttpClient http, string ns, CancellationToken cancellationToken)
    {
        var collection = $"apis/keda.sh/v1alpha1/namespaces/{ns}/scaledobjects";
        var list = await ListAsync(http, collection, cancellationToken);
        var resourceVersion = list["metadata"]?["resourceVersion"]?.GetValue<string>()
            ?? throw new InvalidOperationException($"GET {collection}: the list has no resourceVersion");
        // The response headers arrive once the server has registered the watch.
        using var request = WatchRequest(collection, resourceVersion);
        var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        await EnsureSuccessAsync(response, collection);
        return new ScaledObjectWatch(http, collection, resourceVersion, response);
    }

    /// <summary>Waits until <paramref name="count"/> names have been added; throws after <paramref name="timeout"/> or when the watch gave up.</summary>
    public async Task WaitForAsync(int count, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (_added.Count < count)
        {
            if (_ended is { } ended)
            {
                throw new InvalidOperationException($"the ScaledObject watch on {_collection} ended ({ended}) with {_added.Count} of {count} seen");
            }

            if (Stopwatch.GetTimestamp() > deadline)
            {
                throw new TimeoutException($"only {_added.Count} of {count} ScaledObjects were seen within {timeout.TotalSeconds:0} s");
            }

            await Task.Delay(5, cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        lock (_gate)
        {
            // Unblocks the thread's read.
            _current?.Dispose();
        }

        await _finished.Task.WaitAsync(TimeSpan.FromSeconds(30));
        _stop.Dispose();
    }

    private static HttpRequestMessage WatchRequest(string collection, string resourceVersion) =>
        // timeoutSeconds bounds the watch on the server's side too; a run takes a few minutes at most.
        new(HttpMethod.Get, $"{collection}?watch=true&resourceVersion={resourceVersion}&timeoutSeconds=1800");

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string collection)
    {
        if (!response.IsSuccessStatusCode)
        {
            var body = await response.Content.ReadAsStringAsync();
            response.Dispose();
            throw new HttpRequestException($"watch {collection}: {(int)response.StatusCode}: {body}", null, response.StatusCode);
        }
    }

    private static async Task<JsonObject> ListAsync(HttpClient http, string collection, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(collection, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {collection}: {(int)response.StatusCode}: {body}");
        }

        return JsonNode.Parse(body) as JsonObject ?? throw new InvalidOperationException($"GET {collection}: not an object");
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
        using var request = WatchRequest(_collection, _resourceVersion);
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

            var metadata = item.GetProperty("metadata");
            if (type == "ADDED" && metadata.GetProperty("name").GetString() is { } name)
            {
                _added.TryAdd(name, read);
            }

            if (metadata.TryGetProperty("resourceVersion", out var version) && version.GetString() is { } resourceVersion)
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
        using var request = new HttpRequestMessage(HttpMethod.Get, _collection);
        using var response = _http.Send(request, timeout.Token);
        using var reader = new StreamReader(response.Content.ReadAsStream());
        var body = reader.ReadToEnd();
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"GET {_collection}: {(int)response.StatusCode}: {body}");
        }

        var list = JsonNode.Parse(body) as JsonObject ?? throw new InvalidOperationException($"GET {_collection}: not an object");
        var listed = Stopwatch.GetTimestamp();
        foreach (var item in list["items"] as JsonArray ?? [])
        {
            if (item?["metadata"]?["name"]?.GetValue<string>() is { } name && _added.TryAdd(name, listed))
            {
                Interlocked.Increment(ref _listed);
            }
        }

        _resourceVersion = list["metadata"]?["resourceVersion"]?.GetValue<string>() ?? _resourceVersion;
    }
}
