using System.Collections.Frozen;
using System.Collections.Immutable;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Watching;

namespace Updraft.Kubernetes.Endpoints;

/// <summary>
/// Every Service's endpoints, from EndpointSlices (<c>discovery.k8s.io/v1</c>, or <c>v1beta1</c> on clusters that
/// do not serve v1), merged per Service (<c>kubernetes.io/service-name</c>). Changes are reported per Service, and
/// only when its merged state actually changed.
/// </summary>
public sealed class EndpointSliceCatalog
{
    private readonly KubeApiClient _client;
    private readonly string? _namespace;
    private readonly string? _labelSelector;
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggers;
    private readonly WatchTuning _tuning;
    private readonly TaskCompletionSource<ResourceWatch<EndpointSlice>> _watch = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Dictionary<string, HashSet<string>> _slicesByService = new(StringComparer.Ordinal);
    private ImmutableDictionary<string, ServiceEndpoints> _services = ImmutableDictionary.Create<string, ServiceEndpoints>(StringComparer.Ordinal);

    /// <param name="client">The API.</param>
    /// <param name="namespace">Only this namespace; null or empty for all.</param>
    /// <param name="labelSelector">Only slices with these labels (e.g. one Service's), or null.</param>
    /// <param name="time">Clock for back-off.</param>
    /// <param name="loggers">Logging.</param>
    /// <param name="tuning">Watch timings.</param>
    public EndpointSliceCatalog(KubeApiClient client, string? @namespace, string? labelSelector, TimeProvider time, ILoggerFactory loggers, WatchTuning? tuning = null)
    {
        _client = client;
        _namespace = @namespace;
        _labelSelector = labelSelector;
        _time = time;
        _loggers = loggers;
        _tuning = tuning ?? WatchTuning.Default;
    }

    /// <summary>Called for each Service whose endpoints changed (on the watch loop; keep it quick).</summary>
    public Action<ServiceEndpoints>? ServiceChanged { get; set; }

    /// <summary>Every Service with slices, by <c>namespace/name</c>.</summary>
    public ImmutableDictionary<string, ServiceEndpoints> Services => Volatile.Read(ref _services);

    /// <summary>Which API version is watched, once known.</summary>
    public ApiResource? Resource => Watch?.Resource;

    /// <summary>The slice watch, once the API version is known.</summary>
    public ResourceWatch<EndpointSlice>? Watch => _watch.Task.IsCompletedSuccessfully ? _watch.Task.Result : null;

    /// <summary>Completes after the first full list of slices.</summary>
    public Task Synced => SyncedAsync();

    public ServiceEndpoints Get(string serviceKey) => Services.TryGetValue(serviceKey, out var endpoints) ? endpoints : ServiceEndpoints.Empty(serviceKey);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        ApiResource resource;
        try
        {
            resource = await DiscoverAsync(cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }

        var watch = new ResourceWatch<EndpointSlice>(_client, resource, _namespace, _labelSelector, _time, _loggers.CreateLogger<ResourceWatch<EndpointSlice>>(), _tuning);
        // Lives as long as the watch, so the subscription is never disposed.
        _ = watch.Subscribe(change => OnChanged(watch, change));
        _watch.TrySetResult(watch);
        await watch.RunAsync(cancellationToken);
    }

    /// <summary>v1 when the server lists it for <c>discovery.k8s.io</c>, otherwise v1beta1. Retried until it answers.</summary>
    private async Task<ApiResource> DiscoverAsync(CancellationToken cancellationToken)
    {
        var backoff = new Backoff(_tuning.MinBackoff, _tuning.MaxBackoff);
        var logger = _loggers.CreateLogger<EndpointSliceCatalog>();
        while (true)
        {
            try
            {
                using var response = await _client.GetAsync("/apis/discovery.k8s.io", cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    var group = await response.Content.ReadFromJsonAsync(KubeJsonContext.Default.ApiGroup, cancellationToken);
                    var servesV1 = group?.Versions?.Exists(static v => v.Version == "v1") == true;
                    var resource = servesV1 ? ApiResource.EndpointSlicesV1 : ApiResource.EndpointSlicesV1Beta1;
                    Log.SliceVersion(logger, resource.GroupVersion);
                    return resource;
                }

                throw new KubeApiException(response.StatusCode, "/apis/discovery.k8s.io", null);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or KubeApiException or JsonException)
            {
                var delay = backoff.Next();
                Log.DiscoveryFailed(logger, e.Message, delay);
                await Task.Delay(delay, _time, cancellationToken);
            }
        }
    }

    private async Task SyncedAsync()
    {
        var watch = await _watch.Task;
        await watch.Synced;
    }

    private void OnChanged(ResourceWatch<EndpointSlice> watch, WatchChange<EndpointSlice> change)
    {
        var items = watch.Items;
        if (change.Kind == WatchChangeKind.Reset)
        {
            var stale = new HashSet<string>(_slicesByService.Keys, StringComparer.Ordinal);
            _slicesByService.Clear();
            foreach (var (key, slice) in items)
            {
                if (ServiceKey(slice) is { } service)
                {
                    Members(service).Add(key);
                }
            }

            foreach (var service in _slicesByService.Keys)
            {
                stale.Add(service);
            }

            foreach (var service in stale)
            {
                Recompute(service, items);
            }

            return;
        }

        var before = change.Previous is { } previous ? ServiceKey(previous) : null;
        var after = change.Kind == WatchChangeKind.Upsert && change.Value is { } value ? ServiceKey(value) : null;
        if (before is not null && _slicesByService.TryGetValue(before, out var members))
        {
            members.Remove(change.Key);
        }

        if (after is not null)
        {
            Members(after).Add(change.Key);
        }

        if (before is not null)
        {
            Recompute(before, items);
        }

        if (after is not null && after != before)
        {
            Recompute(after, items);
        }
    }

    private HashSet<string> Members(string service)
    {
        if (!_slicesByService.TryGetValue(service, out var members))
        {
            members = new HashSet<string>(StringComparer.Ordinal);
            _slicesByService[service] = members;
        }

        return members;
    }

    private void Recompute(string service, ImmutableDictionary<string, EndpointSlice> items)
    {
        var slices = new List<EndpointSlice>();
        if (_slicesByService.TryGetValue(service, out var members))
        {
            foreach (var key in members)
            {
                if (items.TryGetValue(key, out var slice))
                {
                    slices.Add(slice);
                }
            }

            if (members.Count == 0)
            {
                _slicesByService.Remove(service);
            }
        }

        var merged = Merge(service, slices);
        var services = Services;
        var known = services.TryGetValue(service, out var existing);
        if (slices.Count == 0)
        {
            if (!known)
            {
                return;
            }

            // Leave the catalog even when nothing observable changed (a Service whose slices had no TCP ports).
            Volatile.Write(ref _services, services.Remove(service));
            if (!existing!.SameAs(merged))
            {
                ServiceChanged?.Invoke(merged);
            }

            return;
        }

        if (known && existing!.SameAs(merged))
        {
            return;
        }

        Volatile.Write(ref _services, services.SetItem(service, merged));
        ServiceChanged?.Invoke(merged);
    }

    /// <summary>Merges a Service's slices; pure, so the condition rules are tested without a server.</summary>
    public static ServiceEndpoints Merge(string service, IReadOnlyList<EndpointSlice> slices)
    {
        var ready = Collect(slices, terminatingFallback: false);
        var addresses = ready.Count > 0 && HasAny(ready) ? ready : Collect(slices, terminatingFallback: true);
        var frozen = new Dictionary<string, PodAddress[]>(addresses.Count, StringComparer.Ordinal);
        foreach (var (port, list) in addresses)
        {
            var array = list.Distinct().ToArray();
            Array.Sort(array, static (a, b) => a.Port != b.Port ? a.Port.CompareTo(b.Port) : string.CompareOrdinal(a.Ip, b.Ip));
            frozen[port] = array;
        }

        return new ServiceEndpoints(service, frozen.ToFrozenDictionary(StringComparer.Ordinal));
    }

    private static bool HasAny(Dictionary<string, List<PodAddress>> addresses)
    {
        foreach (var list in addresses.Values)
        {
            if (list.Count > 0)
            {
                return true;
            }
        }

        return false;
    }

    private static Dictionary<string, List<PodAddress>> Collect(IReadOnlyList<EndpointSlice> slices, bool terminatingFallback)
    {
        var byPort = new Dictionary<string, List<PodAddress>>(StringComparer.Ordinal);
        foreach (var slice in slices)
        {
            if (slice.AddressType is not (null or "IPv4" or "IPv6"))
            {
                continue; // FQDN slices name hosts, not pods
            }

            foreach (var port in slice.Ports ?? [])
            {
                if (port.Port is not { } number || (port.Protocol is not null && port.Protocol != "TCP"))
                {
                    continue;
                }

                if (!byPort.TryGetValue(port.Name ?? "", out var list))
                {
                    list = [];
                    byPort[port.Name ?? ""] = list;
                }

                foreach (var endpoint in slice.Endpoints ?? [])
                {
                    if (endpoint.Addresses is not { Count: > 0 } addresses || !Usable(endpoint.Conditions, terminatingFallback))
                    {
                        continue;
                    }

                    list.Add(new PodAddress(addresses[0], number));
                }
            }
        }

        return byPort;
    }

    private static bool Usable(SliceConditions? conditions, bool terminatingFallback) =>
        terminatingFallback
            ? conditions?.Serving == true && conditions.Terminating == true
            : conditions?.Ready != false;

    private static string? ServiceKey(EndpointSlice slice) =>
        slice.ServiceName is { Length: > 0 } name && slice.Metadata?.Namespace is { Length: > 0 } ns ? ns + "/" + name : null;
}
