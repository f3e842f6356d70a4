using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Telemetry;

namespace Updraft.Interceptor.ColdStart;

/// <summary>
/// Standalone mode's readiness rule: a target is ready when a TCP connect to it succeeds.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item>A target nobody has tried is <see cref="EndpointState.Unknown"/>, which counts as ready: the first request
/// just connects. Nothing is probed in the background for idle targets.</item>
/// <item>The forwarder's connect being refused marks the target not ready (<see cref="ConnectionRefused"/> returns
/// true, so that request stops dialling and joins the hold queue); any successful connect marks it ready.</item>
/// <item>While requests wait for a not-ready target, one probe loop per target connects every
/// <see cref="ProbeInterval"/> (each attempt bounded by <c>KEDA_HTTP_CONNECT_TIMEOUT</c>) and flips the target to
/// ready on the first success, which releases every waiter at once. The loop ends when the target is ready or the
/// last waiter has left. A request that does not wait (placeholder, static route) triggers a single probe, so a
/// target that came back is noticed by the next request.</item>
/// </list>
/// Targets are remembered for the life of the process (one small object per distinct <c>host:port</c>).
/// </remarks>
internal sealed class TcpProbeReadiness : IEndpointReadiness
{
    public static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(5);

    private readonly ConcurrentDictionary<string, Probe> _probes = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeSpan _connectTimeout;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public TcpProbeReadiness(IOptions<InterceptorOptions> options, TimeProvider time, ILogger<TcpProbeReadiness> logger)
    {
        _connectTimeout = options.Value.ConnectTimeout;
        _time = time;
        _logger = logger;
    }

    public EndpointReadiness For(string endpoint) =>
        (_probes.TryGetValue(endpoint, out var probe) ? probe : _probes.GetOrAdd(endpoint, static (key, self) => new Probe(self, key), this)).Readiness;

    public bool ConnectionRefused(string endpoint)
    {
        if (For(endpoint).Set(EndpointState.NotReady))
        {
            Log.EndpointNotReady(_logger, endpoint);
        }

        return true;
    }

    public void Connected(string endpoint)
    {
        if (_probes.TryGetValue(endpoint, out var probe) && probe.Readiness.Set(EndpointState.Ready))
        {
            Log.EndpointReady(_logger, endpoint);
        }
    }

    private sealed class Probe
    {
        private readonly TcpProbeReadiness _owner;
        private readonly DnsEndPoint _address;
        private int _running;

        public Probe(TcpProbeReadiness owner, string endpoint)
        {
            _owner = owner;
            var colon = endpoint.LastIndexOf(':');
            var port = int.Parse(endpoint.AsSpan(colon + 1), CultureInfo.InvariantCulture);
            _address = new DnsEndPoint(endpoint[..colon].Trim('[', ']'), port);
            Readiness = new EndpointReadiness(endpoint, _ => Start());
        }

        public EndpointReadiness Readiness { get; }

        private void Start()
        {
            if (Interlocked.CompareExchange(ref _running, 1, 0) == 0)
            {
                _ = RunAsync();
            }
        }

        private async Task RunAsync()
        {
            while (true)
            {
                while (!Readiness.IsReady)
                {
                    if (await ConnectsAsync())
                    {
                        _owner.Connected(Readiness.Endpoint);
                        break;
                    }

                    if (Readiness.Waiters == 0)
                    {
                        break;
                    }

                    await Task.Delay(ProbeInterval, _owner._time);
                }

                // Release the loop, then look again: a waiter that arrived just before the release found the loop
                // running and did not start one, so this one must carry on for it.
                Volatile.Write(ref _running, 0);
                if (Readiness.IsReady || Readiness.Waiters == 0 || Interlocked.CompareExchange(ref _running, 1, 0) != 0)
                {
                    return;
                }
            }
        }

        private async Task<bool> ConnectsAsync()
        {
            using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            using var attempt = _owner._connectTimeout > TimeSpan.Zero
                ? new CancellationTokenSource(_owner._connectTimeout, _owner._time)
                : new CancellationTokenSource();

            try
            {
                await socket.ConnectAsync(_address, attempt.Token);
                return true;
            }
            catch (SocketException)
            {
                return false;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }
    }
}
