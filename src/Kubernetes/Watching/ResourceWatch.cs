using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.Extensions.Logging;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;

namespace Updraft.Kubernetes.Watching;

/// <summary>
/// Keeps an up-to-date copy of one kind of object: list, then watch from the list's resource version (with
/// bookmarks), re-list on <c>410 Gone</c>, resume the watch from the last version seen when the stream ends or
/// breaks, and back off on errors. The copy is an immutable dictionary swapped atomically after each event, so
/// readers never see half of a re-list.
/// </summary>
/// <remarks>
/// A resource the server does not serve (404, e.g. a CRD that is not installed) counts as empty and synced; it is
/// listed again every <see cref="WatchTuning.MaxBackoff"/>. Handlers registered with <see cref="Subscribe"/> run on
/// the watch loop, after the copy was updated: they must be quick (signal a rebuild, update one entry). A handler
/// that throws is logged and does not disturb the watch or the other handlers.
/// </remarks>
public sealed class ResourceWatch<T> : IWatchHealth
    where T : class
{
    private readonly KubeApiClient _client;
    private readonly string _path;
    private readonly string _name;
    private readonly string? _labelSelector;
    private readonly WatchTuning _tuning;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly JsonTypeInfo<T> _type;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ImmutableDictionary<string, T> _items = ImmutableDictionary.Create<string, T>(StringComparer.Ordinal);
    private Subscription[] _subscriptions = [];
    private long _lists;
    private long _failures;
    private long _confirmedAt;
    private string? _lastProblem;
    private CancellationTokenSource? _currentAttempt;
    // Each object's metadata.resourceVersion as last listed or watched (the watch loop's own): a re-list that finds the
    // same set changes nothing and tells no subscriber.
    private ImmutableDictionary<string, string?> _objectVersions = ImmutableDictionary.Create<string, string?>(StringComparer.Ordinal);
    private volatile bool _refreshing;

    public ResourceWatch(KubeApiClient client, ApiResource resource, string? @namespace, string? labelSelector, TimeProvider time, ILogger logger, WatchTuning? tuning = null)
    {
        _client = client;
        Resource = resource;
        _path = resource.Path(@namespace);
        _name = resource.ToString();
        _labelSelector = labelSelector;
        _time = time;
        _logger = logger;
        _tuning = tuning ?? WatchTuning.Default;
        _type = KubeJsonContext.Default.GetTypeInfo(typeof(T)) as JsonTypeInfo<T>
            ?? throw new NotSupportedException($"{typeof(T).Name} has no JSON metadata: add it to {nameof(KubeJsonContext)}");
    }

    public ApiResource Resource { get; }

    /// <summary>The resource, as messages name it.</summary>
    public string Name => _name;

    public string Plural => Resource.Plural;

    /// <summary>Every object, by <c>namespace/name</c>. One atomic snapshot; never half-updated.</summary>
    public ImmutableDictionary<string, T> Items => Volatile.Read(ref _items);

    /// <summary>Completes after the first full list.</summary>
    public Task Synced => _synced.Task;

    /// <summary>Full lists done so far (1 after the first sync; more after <c>410 Gone</c>, errors or <see cref="Refresh"/>).</summary>
    public long Lists => Interlocked.Read(ref _lists);

    /// <summary>Failed list or watch requests so far.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>
    /// When the server last showed that <see cref="Items"/> is current (a <see cref="TimeProvider"/> timestamp; 0 before
    /// the first list): a list, a watch it accepted, an event or bookmark, a watch it ended, a 404 for a resource it
    /// does not serve. A watch that hangs or a server that cannot be reached leaves it where it was.
    /// </summary>
    public long ConfirmedAt => Interlocked.Read(ref _confirmedAt);

    /// <summary>Why the last list or watch request failed, or null when the last one succeeded.</summary>
    public string? LastProblem => Volatile.Read(ref _lastProblem);

    /// <summary>
    /// Ends the current list or watch request and lists afresh, then watches from there: a watch whose connection
    /// silently died, or a server that stopped sending, is found now rather than when the watch times out, and a
    /// healthy server confirms <see cref="ConfirmedAt"/> again with the list. Does nothing between attempts (while
    /// backing off after a failure).
    /// </summary>
    public void Refresh()
    {
        if (Volatile.Read(ref _currentAttempt) is { } watch)
        {
            _refreshing = true;
            try
            {
                watch.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // That watch just ended.
            }
        }
    }

    private void Confirm()
    {
        Interlocked.Exchange(ref _confirmedAt, _time.GetTimestamp());
        Volatile.Write(ref _lastProblem, null);
    }

    /// <summary>The resource version of the last list or event seen.</summary>
    public string? ResourceVersion { get; private set; }

    /// <summary>
    /// Registers a handler called after every change to <see cref="Items"/> (inline on the watch loop, in registration
    /// order). A handler that throws is logged and the other handlers still run; the watch is not disturbed (no re-list).
    /// </summary>
    /// <returns>Disposing it removes the handler (safe to call twice, safe from inside a handler). Disposed on the watch
    /// loop (from a handler), the handler is not called again, not even for the change being handled; disposed from
    /// another thread, a call that was already starting may still run once.</returns>
    public IDisposable Subscribe(Action<WatchChange<T>> handler)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var subscription = new Subscription(this, handler);
        while (true)
        {
            var current = Volatile.Read(ref _subscriptions);
            Subscription[] next = [.. current, subscription];
            if (Interlocked.CompareExchange(ref _subscriptions, next, current) == current)
            {
                return subscription;
            }
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_tuning.MinBackoff, _tuning.MaxBackoff);
        string? version = null;
        long? notServedSince = null;
        var refreshed = false;
        while (!cancellationToken.IsCancellationRequested)
        {
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            _refreshing = false;
            Volatile.Write(ref _currentAttempt, attempt);
            try
            {
                if (version is null)
                {
                    version = await ListAsync(quietIfUnchanged: refreshed, attempt.Token);
                    refreshed = false;
                    notServedSince = null;
                    backoff.Reset();
                }

                var (next, events) = await WatchAsync(version, attempt.Token);
                if (next is null)
                {
                    Log.Gone(_logger, _name);
                }
                else if (events > 0)
                {
                    backoff.Reset();
                }

                version = next;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (_refreshing && e is OperationCanceledException or IOException or HttpRequestException)
            {
                // Refresh ended the attempt: list afresh at once.
                version = null;
                refreshed = true;
            }
            catch (KubeApiException e) when (e.Status == HttpStatusCode.NotFound)
            {
                version = null;
                notServedSince ??= _time.GetTimestamp();
                if (!Items.IsEmpty && _time.GetElapsedTime(notServedSince.Value) < _tuning.NotServedGrace)
                {
                    // Served a moment ago: most likely the API server is restarting and has not installed the CRD yet.
                    // The objects stay until the grace passes (a CRD that is really deleted deletes them first anyway).
                    Interlocked.Increment(ref _failures);
                    var delay = backoff.Next();
                    var problem = $"{_path} answered 404; keeping the {Items.Count} known objects for up to {_tuning.NotServedGrace.TotalSeconds:0} s";
                    Volatile.Write(ref _lastProblem, problem);
                    Log.WatchFailed(_logger, _name, problem, delay);
                    await DelayAsync(delay, cancellationToken);
                    continue;
                }

                if (!Items.IsEmpty || !_synced.Task.IsCompleted)
                {
                    Log.NotServed(_logger, _name, _path);
                    Replace(ImmutableDictionary.Create<string, T>(StringComparer.Ordinal), version: null);
                }

                // The server answered: not served is an up-to-date answer (nothing to route).
                Confirm();
                await DelayAsync(_tuning.MaxBackoff, cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or KubeApiException or JsonException or OperationCanceledException)
            {
                Interlocked.Increment(ref _failures);
                var delay = backoff.Next();
                Volatile.Write(ref _lastProblem, e.InnerException is null ? e.Message : $"{e.Message} ({e.InnerException.Message})");
                Log.WatchFailed(_logger, _name, e.Message, delay);
                await DelayAsync(delay, cancellationToken);
            }
            catch (Exception e)
            {
                // A defect in the watch itself must not end it for good: list afresh, so every consumer is handed a
                // complete state again. (Handler exceptions never get here: Notify isolates them.)
                Interlocked.Increment(ref _failures);
                var delay = backoff.Next();
                Volatile.Write(ref _lastProblem, e.Message);
                Log.WatchDefect(_logger, _name, delay, e);
                version = null;
                await DelayAsync(delay, cancellationToken);
            }
        }
    }

    private async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(delay, _time, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Lists everything (in pages) and replaces the copy in one swap. Returns the version to watch from.</summary>
    /// <param name="quietIfUnchanged">
    /// A re-list that <see cref="Refresh"/> asked for: when it finds every object at the version already known, the
    /// subscribers are not told (nothing changed). Any other list tells them, as it may follow a change the watch
    /// missed, or a resource that was not served before (a CRD installed since, still without objects).
    /// </param>
    /// <param name="cancellationToken">Ends the list.</param>
    private async Task<string> ListAsync(bool quietIfUnchanged, CancellationToken cancellationToken)
    {
        var builder = ImmutableDictionary.CreateBuilder<string, T>(StringComparer.Ordinal);
        var versions = ImmutableDictionary.CreateBuilder<string, string?>(StringComparer.Ordinal);
        string? token = null;
        string? version;
        do
        {
            var query = new StringBuilder(_path).Append("?limit=").Append(_tuning.PageSize.ToString(CultureInfo.InvariantCulture));
            AppendSelector(query);
            if (token is not null)
            {
                query.Append("&continue=").Append(Uri.EscapeDataString(token));
            }

            using var response = await _client.GetAsync(query.ToString(), cancellationToken);
            await EnsureSuccessAsync(response, cancellationToken);
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            var list = await JsonSerializer.DeserializeAsync(body, KubeJsonContext.Default.KubeListJsonElement, cancellationToken)
                ?? throw new JsonException($"empty list from {_path}");
            foreach (var item in list.Items ?? [])
            {
                if (KeyOf(item) is { } key && item.Deserialize(_type) is { } value)
                {
                    builder[key] = value;
                    versions[key] = VersionOf(item);
                }
            }

            token = string.IsNullOrEmpty(list.Metadata?.Continue) ? null : list.Metadata.Continue;
            version = list.Metadata?.ResourceVersion;
        }
        while (token is not null);

        if (string.IsNullOrEmpty(version))
        {
            throw new JsonException($"the list from {_path} has no resourceVersion");
        }

        // Counted before the swap completes Synced, so that Lists is already 1 for whoever awaited Synced.
        Interlocked.Increment(ref _lists);
        Confirm();
        var unchanged = quietIfUnchanged && _synced.Task.IsCompleted && SameVersions(versions, _objectVersions);
        _objectVersions = versions.ToImmutable();
        if (unchanged)
        {
            ResourceVersion = version;
        }
        else
        {
            Replace(builder.ToImmutable(), version);
        }

        Log.Listed(_logger, _name, builder.Count, version);
        return version;
    }

    private static bool SameVersions(ImmutableDictionary<string, string?>.Builder listed, ImmutableDictionary<string, string?> known)
    {
        if (listed.Count != known.Count)
        {
            return false;
        }

        foreach (var (key, version) in listed)
        {
            if (!known.TryGetValue(key, out var knownVersion) || version is null || !string.Equals(version, knownVersion, StringComparison.Ordinal))
            {
                return false;
            }
        }

        return true;
    }

    private void Replace(ImmutableDictionary<string, T> items, string? version)
    {
        if (items.IsEmpty)
        {
            _objectVersions = _objectVersions.Clear();
        }

        Volatile.Write(ref _items, items);
        ResourceVersion = version;
        Notify(new WatchChange<T>(WatchChangeKind.Reset, "", null, null));
        _synced.TrySetResult();
    }

    /// <summary>Follows the watch until it ends. Returns the version to resume from, or null when a re-list is needed.</summary>
    private async Task<(string? Version, int Events)> WatchAsync(string version, CancellationToken cancellationToken)
    {
        var timeout = _tuning.WatchTimeout + TimeSpan.FromSeconds(Random.Shared.Next(0, Math.Max(1, (int)_tuning.WatchTimeout.TotalSeconds / 4)));
        var query = new StringBuilder(_path)
            .Append("?watch=true&allowWatchBookmarks=true&resourceVersion=").Append(Uri.EscapeDataString(version))
            .Append("&timeoutSeconds=").Append(((int)Math.Max(1, timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture));
        AppendSelector(query);

        // The server ends the watch after timeoutSeconds; a connection that goes silent for longer is dead.
        using var silence = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var silenceLimit = timeout + _tuning.SilenceGrace;
        silence.CancelAfter(silenceLimit);
        using var response = await _client.GetAsync(query.ToString(), silence.Token);
        if (response.StatusCode == HttpStatusCode.Gone)
        {
            return (null, 0);
        }

        await EnsureSuccessAsync(response, cancellationToken);
        // Accepted from the last version seen: the server is there and nothing since is lost.
        Confirm();
        await using var body = await response.Content.ReadAsStreamAsync(silence.Token);
        using var reader = new StreamReader(body, Encoding.UTF8);
        var events = 0;
        while (await reader.ReadLineAsync(silence.Token) is { } line)
        {
            if (line.Length == 0)
            {
                continue;
            }

            silence.CancelAfter(silenceLimit);
            using var document = JsonDocument.Parse(line);
            var root = document.RootElement;
            var type = root.TryGetProperty("type", out var typeElement) ? typeElement.GetString() : null;
            if (!root.TryGetProperty("object", out var item))
            {
                throw new JsonException($"a watch event from {_path} has no object");
            }

            if (type == "ERROR")
            {
                var status = item.Deserialize(KubeJsonContext.Default.KubeStatus);
                if (status?.Code == (int)HttpStatusCode.Gone)
                {
                    return (null, events);
                }

                throw new KubeApiException((HttpStatusCode)(status?.Code ?? 500), _path + " (watch)", status?.Message);
            }

            events++;
            Confirm();
            if (VersionOf(item) is { } eventVersion)
            {
                version = eventVersion;
                ResourceVersion = eventVersion;
            }

            if (type == "BOOKMARK" || KeyOf(item) is not { } key)
            {
                continue;
            }

            Apply(type, key, item);
        }

        // The server ended the watch (its timeout): an answer too.
        Confirm();
        return (version, events);
    }

    private void Apply(string? type, string key, JsonElement item)
    {
        var items = Items;
        items.TryGetValue(key, out var previous);
        switch (type)
        {
            case "ADDED" or "MODIFIED":
                if (item.Deserialize(_type) is { } value)
                {
                    _objectVersions = _objectVersions.SetItem(key, VersionOf(item));
                    Volatile.Write(ref _items, items.SetItem(key, value));
                    Notify(new WatchChange<T>(WatchChangeKind.Upsert, key, value, previous));
                }

                break;
            case "DELETED":
                _objectVersions = _objectVersions.Remove(key);
                Volatile.Write(ref _items, items.Remove(key));
                Notify(new WatchChange<T>(WatchChangeKind.Delete, key, previous ?? item.Deserialize(_type), previous));
                break;
        }
    }

    /// <summary>Calls each handler registered when the change is reported; one that throws is logged and skipped.</summary>
    private void Notify(WatchChange<T> change)
    {
        foreach (var subscription in Volatile.Read(ref _subscriptions))
        {
            // Disposed by an earlier handler of this same change: not called again.
            if (!subscription.Active)
            {
                continue;
            }

            try
            {
                subscription.Handler(change);
            }
            catch (Exception e)
            {
                Log.HandlerFailed(_logger, _name, change.Kind, change.Key, e);
            }
        }
    }

    private void Unsubscribe(Subscription subscription)
    {
        while (true)
        {
            var current = Volatile.Read(ref _subscriptions);
            var index = Array.IndexOf(current, subscription);
            if (index < 0)
            {
                return;
            }

            var next = new Subscription[current.Length - 1];
            Array.Copy(current, 0, next, 0, index);
            Array.Copy(current, index + 1, next, index, next.Length - index);
            if (Interlocked.CompareExchange(ref _subscriptions, next, current) == current)
            {
                return;
            }
        }
    }

    private void AppendSelector(StringBuilder query)
    {
        if (!string.IsNullOrEmpty(_labelSelector))
        {
            query.Append("&labelSelector=").Append(Uri.EscapeDataString(_labelSelector));
        }
    }

    private async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (response.IsSuccessStatusCode)
        {
            return;
        }

        string? message = null;
        try
        {
            var status = await response.Content.ReadFromJsonAsync(KubeJsonContext.Default.KubeStatus, cancellationToken);
            message = status?.Message;
        }
        catch (JsonException)
        {
        }

        throw new KubeApiException(response.StatusCode, _path, message);
    }

    private static string? KeyOf(JsonElement item)
    {
        if (!item.TryGetProperty("metadata", out var metadata) || !metadata.TryGetProperty("name", out var name) || name.GetString() is not { } text)
        {
            return null;
        }

        var ns = metadata.TryGetProperty("namespace", out var nsElement) ? nsElement.GetString() : null;
        return string.IsNullOrEmpty(ns) ? text : ns + "/" + text;
    }

    private static string? VersionOf(JsonElement item) =>
        item.TryGetProperty("metadata", out var metadata) && metadata.TryGetProperty("resourceVersion", out var version) ? version.GetString() : null;

    /// <summary>One registered handler; disposing it unregisters it once.</summary>
    private sealed class Subscription(ResourceWatch<T> watch, Action<WatchChange<T>> handler) : IDisposable
    {
        private ResourceWatch<T>? _watch = watch;

        public Action<WatchChange<T>> Handler { get; } = handler;

        public bool Active => Volatile.Read(ref _watch) is not null;

        public void Dispose() => Interlocked.Exchange(ref _watch, null)?.Unsubscribe(this);
    }
}
