using System.Collections.Immutable;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;

namespace Updraft.Kubernetes.Watching;

public enum WatchChangeKind
{
    /// <summary>A full list replaced everything (the first sync, or a re-list after <c>410 Gone</c>).</summary>
    Reset,

    /// <summary>An object was added or modified.</summary>
    Upsert,

    /// <summary>An object was deleted.</summary>
    Delete,
}

/// <param name="Kind">What happened.</param>
/// <param name="Key"><c>namespace/name</c> of the object (empty for <see cref="WatchChangeKind.Reset"/>).</param>
/// <param name="Value">The new object (Upsert) or the last known one (Delete); null for Reset.</param>
/// <param name="Previous">The object this replaced or removed, when there was one.</param>
public readonly record struct WatchChange<T>(WatchChangeKind Kind, string Key, T? Value, T? Previous)
    where T : class;

/// <summary>
/// Keeps an up-to-date copy of one kind of object: list, then watch from the list's resource version (with
/// bookmarks), re-list on <c>410 Gone</c>, resume the watch from the last version seen when the stream ends or
/// breaks, and back off on errors. The copy is an immutable dictionary swapped atomically after each event, so
/// readers never see half of a re-list.
/// </summary>
/// <remarks>
/// A resource the server does not serve (404, e.g. a CRD that is not installed) counts as empty and synced; it is
/// listed again every <see cref="WatchTuning.MaxBackoff"/>. <see cref="Changed"/> runs on the watch loop, after the
/// copy was updated: handlers must be quick (signal a rebuild, update one entry).
/// </remarks>
public sealed class ResourceWatch<T>
    where T : class
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly KubeApiClient _client;
    private readonly string _path;
    private readonly string _name;
    private readonly string? _labelSelector;
    private readonly WatchTuning _tuning;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly TaskCompletionSource _synced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ImmutableDictionary<string, T> _items = ImmutableDictionary.Create<string, T>(StringComparer.Ordinal);
    private long _lists;
    private long _failures;

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
    }

    public ApiResource Resource { get; }

    /// <summary>Called after every change to <see cref="Items"/>.</summary>
    public Action<WatchChange<T>>? Changed { get; set; }

    /// <summary>Every object, by <c>namespace/name</c>. One atomic snapshot; never half-updated.</summary>
    public ImmutableDictionary<string, T> Items => Volatile.Read(ref _items);

    /// <summary>Completes after the first full list.</summary>
    public Task Synced => _synced.Task;

    /// <summary>Full lists done so far (1 after the first sync; more after <c>410 Gone</c> or errors).</summary>
    public long Lists => Interlocked.Read(ref _lists);

    /// <summary>Failed list or watch requests so far.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>The resource version of the last list or event seen.</summary>
    public string? ResourceVersion { get; private set; }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_tuning.MinBackoff, _tuning.MaxBackoff);
        string? version = null;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (version is null)
                {
                    version = await ListAsync(cancellationToken);
                    backoff.Reset();
                }

                var (next, events) = await WatchAsync(version, cancellationToken);
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
            catch (KubeApiException e) when (e.Status == HttpStatusCode.NotFound)
            {
                Log.NotServed(_logger, _name, _path);
                Replace(ImmutableDictionary.Create<string, T>(StringComparer.Ordinal), version: null);
                version = null;
                await DelayAsync(_tuning.MaxBackoff, cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or KubeApiException or JsonException or OperationCanceledException)
            {
                Interlocked.Increment(ref _failures);
                var delay = backoff.Next();
                Log.WatchFailed(_logger, _name, e.Message, delay);
                await DelayAsync(delay, cancellationToken);
            }
            catch (Exception e)
            {
                // A defect (here or in a Changed handler) must not end the watch for good: list afresh, so every
                // consumer is handed a complete state again.
                Interlocked.Increment(ref _failures);
                var delay = backoff.Next();
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
    private async Task<string> ListAsync(CancellationToken cancellationToken)
    {
        var builder = ImmutableDictionary.CreateBuilder<string, T>(StringComparer.Ordinal);
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
            var list = await JsonSerializer.DeserializeAsync<KubeList<JsonElement>>(body, Json, cancellationToken)
                ?? throw new JsonException($"empty list from {_path}");
            foreach (var item in list.Items ?? [])
            {
                if (KeyOf(item) is { } key && item.Deserialize<T>(Json) is { } value)
                {
                    builder[key] = value;
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
        Replace(builder.ToImmutable(), version);
        Log.Listed(_logger, _name, builder.Count, version);
        return version;
    }

    private void Replace(ImmutableDictionary<string, T> items, string? version)
    {
        Volatile.Write(ref _items, items);
        ResourceVersion = version;
        Changed?.Invoke(new WatchChange<T>(WatchChangeKind.Reset, "", null, null));
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
                var status = item.Deserialize<KubeStatus>(Json);
                if (status?.Code == (int)HttpStatusCode.Gone)
                {
                    return (null, events);
                }

                throw new KubeApiException((HttpStatusCode)(status?.Code ?? 500), _path + " (watch)", status?.Message);
            }

            events++;
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

        return (version, events);
    }

    private void Apply(string? type, string key, JsonElement item)
    {
        var items = Items;
        items.TryGetValue(key, out var previous);
        switch (type)
        {
            case "ADDED" or "MODIFIED":
                if (item.Deserialize<T>(Json) is { } value)
                {
                    Volatile.Write(ref _items, items.SetItem(key, value));
                    Changed?.Invoke(new WatchChange<T>(WatchChangeKind.Upsert, key, value, previous));
                }

                break;
            case "DELETED":
                Volatile.Write(ref _items, items.Remove(key));
                Changed?.Invoke(new WatchChange<T>(WatchChangeKind.Delete, key, previous ?? item.Deserialize<T>(Json), previous));
                break;
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
            var status = await response.Content.ReadFromJsonAsync<KubeStatus>(Json, cancellationToken);
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
}

/// <summary>Timings of a <see cref="ResourceWatch{T}"/>.</summary>
/// <param name="MinBackoff">First delay after a failure; doubles up to <paramref name="MaxBackoff"/>.</param>
/// <param name="MaxBackoff">Longest delay between attempts (also how often a resource that is not served is re-checked).</param>
/// <param name="WatchTimeout">Asked of the server per watch (plus up to a quarter more, spread so watches do not end together).</param>
/// <param name="SilenceGrace">How long past the watch timeout a silent connection is given before it is dropped.</param>
/// <param name="PageSize">Items per list page.</param>
public sealed record WatchTuning(TimeSpan MinBackoff, TimeSpan MaxBackoff, TimeSpan WatchTimeout, TimeSpan SilenceGrace, int PageSize)
{
    public static readonly WatchTuning Default = new(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromSeconds(30), 500);

    /// <summary>The defaults with <c>UPDRAFT_KUBE_RETRY_MAX</c> as the longest back-off (and the first, when shorter).</summary>
    public static WatchTuning Read(Updraft.Shared.Settings.SettingReader reader)
    {
        var retryMax = reader.Duration("UPDRAFT_KUBE_RETRY_MAX", Default.MaxBackoff, minimum: TimeSpan.FromMilliseconds(10));
        return Default with { MaxBackoff = retryMax, MinBackoff = retryMax < Default.MinBackoff ? retryMax : Default.MinBackoff };
    }
}

/// <summary>Exponential back-off with jitter.</summary>
internal sealed class Backoff(TimeSpan min, TimeSpan max)
{
    private readonly TimeSpan _min = min;
    private readonly TimeSpan _max = max;
    private TimeSpan _next = min;

    public TimeSpan Next()
    {
        var current = _next;
        _next = TimeSpan.FromTicks(Math.Min(_max.Ticks, current.Ticks * 2));
        // ±20% so that many watchers do not retry in step.
        return current * (0.8 + (Random.Shared.NextDouble() * 0.4));
    }

    public void Reset() => _next = _min;
}
