using System.Net;
using Microsoft.Extensions.Options;
using Updraft.ExternalScaler.Http;
using Updraft.ExternalScaler.Options;
using Updraft.ExternalScaler.Telemetry;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Endpoints;
using Updraft.Kubernetes.Model;

namespace Updraft.ExternalScaler.Kubernetes;

/// <summary>
/// Kubernetes mode: the interceptor replicas are the endpoints of <c>KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE</c> in
/// <c>KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE</c>, dialled at <c>KEDA_HTTP_SCALER_TARGET_ADMIN_PORT</c>, as in the
/// add-on. Only that Service's EndpointSlices are watched (namespace and label selector), and the fleet is told
/// only when the address set really changes, so a slice update that moves nothing reconnects nothing.
/// </summary>
/// <remarks>
/// The addresses are the Service's ready endpoints; when none is ready, endpoints that are terminating but still
/// serving (the library's rule for every Service), so the in-flight requests of a fleet that is draining as a whole
/// still count.
/// </remarks>
internal sealed class ClusterInterceptorAddresses : BackgroundService, IInterceptorAddresses
{
    private readonly EndpointSliceCatalog _catalog;
    private readonly string _serviceKey;
    private readonly int _port;
    private readonly ILogger _logger;
    private string[] _current = [];
    private TaskCompletionSource _changed = NewSignal();
    private volatile bool _synced;

    public ClusterInterceptorAddresses(KubeApiClient client, IOptions<ScalerOptions> options, TimeProvider time, ILoggerFactory loggers)
    {
        var settings = options.Value;
        var ns = settings.AdminNamespace ?? throw new InvalidOperationException($"{ScalerOptions.AdminNamespaceVariable} was not resolved");
        _serviceKey = ns + "/" + settings.AdminService;
        _port = settings.AdminPort;
        _logger = loggers.CreateLogger<ClusterInterceptorAddresses>();
        _catalog = new EndpointSliceCatalog(client, ns, EndpointSlice.ServiceNameLabel + "=" + settings.AdminService, time, loggers, settings.WatchTuning)
        {
            ServiceChanged = OnServiceChanged,
        };
    }

    public IReadOnlyList<string> Current => Volatile.Read(ref _current);

    public Task Changed => Volatile.Read(ref _changed).Task;

    public bool Synced => _synced;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        Log.WatchingInterceptorService(_logger, _serviceKey, _port);
        var run = _catalog.RunAsync(stoppingToken);
        var synced = _catalog.Synced;
        await Task.WhenAny(run, synced);
        if (synced.IsCompletedSuccessfully)
        {
            _synced = true;
            Log.InterceptorsListed(_logger, _serviceKey, Current.Count);
        }

        await run;
    }

    private void OnServiceChanged(ServiceEndpoints endpoints)
    {
        if (endpoints.Key != _serviceKey)
        {
            return;
        }

        var addresses = Addresses(endpoints, _port);
        if (addresses.AsSpan().SequenceEqual(Volatile.Read(ref _current)))
        {
            return;
        }

        Volatile.Write(ref _current, addresses);
        Interlocked.Exchange(ref _changed, NewSignal()).TrySetResult();
    }

    /// <summary>
    /// Every pod IP of the Service (whatever port names its slices list), as <c>ip:port</c> with IPv6 in brackets;
    /// sorted and without duplicates, so equal sets compare equal.
    /// </summary>
    internal static string[] Addresses(ServiceEndpoints endpoints, int port)
    {
        var ips = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var addresses in endpoints.AddressesByPort.Values)
        {
            foreach (var address in addresses)
            {
                if (IPAddress.TryParse(address.Ip, out var ip))
                {
                    ips.Add(ip.ToString());
                }
            }
        }

        var formatted = new string[ips.Count];
        var i = 0;
        foreach (var ip in ips)
        {
            formatted[i++] = (ip.Contains(':', StringComparison.Ordinal) ? "[" + ip + "]" : ip) + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return formatted;
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
