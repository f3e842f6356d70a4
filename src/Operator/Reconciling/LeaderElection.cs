extern alias KubernetesClientFull;

using System.Text.Json.Nodes;
using KubernetesClientFull::k8s.LeaderElection;
using KubernetesClientFull::k8s.LeaderElection.ResourceLock;
using FullConfiguration = KubernetesClientFull::k8s.KubernetesClientConfiguration;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Model;
using Updraft.Operator.Options;
using Updraft.Operator.Telemetry;

namespace Updraft.Operator.Reconciling;

/// <summary>
/// One replica reconciles at a time: KubernetesClient's <see cref="LeaderElector"/> on a <c>coordination.k8s.io/v1</c>
/// Lease with the add-on's lease duration, renew deadline and retry period. Losing the lease cancels the work at
/// once; the replica then campaigns again. On shutdown the lease is released, so a successor takes over without
/// waiting for it to expire.
/// </summary>
internal sealed class LeaderElection(KubeApiClient client, OperatorOptions options, OperatorMetrics metrics, TimeProvider time, ILogger<LeaderElection> logger)
{
    /// <summary>This replica's identity in the lease: host name plus a random suffix (two processes on one host differ).</summary>
    public string Identity { get; } = Environment.MachineName + "_" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Runs <paramref name="lead"/> whenever this replica holds the lease, until <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task RunAsync(Func<CancellationToken, Task> lead, CancellationToken cancellationToken)
    {
        using var kubernetes = new KubernetesClientFull::k8s.Kubernetes(Configuration(client));
        var lease = new LeaseLock(kubernetes, options.Namespace, options.LeaseName, Identity);
        metrics.SetLeader(options.LeaseName, false);
        while (!cancellationToken.IsCancellationRequested)
        {
            var elector = new LeaderElector(new LeaderElectionConfig(lease)
            {
                LeaseDuration = options.LeaseDuration,
                RenewDeadline = options.RenewDeadline,
                RetryPeriod = options.RetryPeriod,
            });
            using var leading = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task? work = null;
            elector.OnStartedLeading += () =>
            {
                metrics.SetLeader(options.LeaseName, true);
                Log.StartedLeading(logger, options.LeaseName, Identity);
                work = Task.Run(() => lead(leading.Token), CancellationToken.None);
            };
            elector.OnStoppedLeading += () =>
            {
                metrics.SetLeader(options.LeaseName, false);
                leading.Cancel();
            };
            elector.OnNewLeader += leader => Log.NewLeader(logger, options.LeaseName, leader);
            try
            {
                await elector.RunUntilLeadershipLostAsync(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
            }
            catch (Exception e)
            {
                Log.LeaderElectionFailed(logger, options.LeaseName, e.Message, e);
            }

            await leading.CancelAsync();
            if (work is not null)
            {
                await work;
                metrics.SetLeader(options.LeaseName, false);
                if (cancellationToken.IsCancellationRequested)
                {
                    await ReleaseAsync();
                }
                else
                {
                    Log.StoppedLeading(logger, options.LeaseName);
                }
            }

            if (!cancellationToken.IsCancellationRequested)
            {
                await Task.Delay(options.RetryPeriod, time, CancellationToken.None);
            }
        }
    }

    /// <summary>
    /// The full KubernetesClient's configuration from the source <paramref name="client"/> was built from (the shared
    /// library uses <c>KubernetesClient.Aot</c>, which has no leader election, so the two configurations are separate types).
    /// </summary>
    private static FullConfiguration Configuration(KubeApiClient client) =>
        client.Kubeconfig is { Length: > 0 } file ? FullConfiguration.BuildConfigFromConfigFile(file)
        : FullConfiguration.IsInCluster() ? FullConfiguration.InClusterConfig()
        : FullConfiguration.BuildDefaultConfig();

    /// <summary>Gives the lease up (as client-go's <c>ReleaseOnCancel</c>): no holder, and a lease that expires at once.</summary>
    private async Task ReleaseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        var path = ApiResource.Leases.Path(options.Namespace, options.LeaseName);
        try
        {
            var current = await client.SendAsync(HttpMethod.Get, path, null, "application/json", timeout.Token);
            if (current?["spec"]?["holderIdentity"]?.GetValue<string>() != Identity)
            {
                return;
            }

            var patch = new JsonObject
            {
                ["metadata"] = new JsonObject { ["resourceVersion"] = current["metadata"]?["resourceVersion"]?.GetValue<string>() },
                // An empty holder, as client-go writes it: KubernetesClient's elector treats a missing one as "no lease
                // yet" and would try to create the Lease, which exists, for ever.
                ["spec"] = new JsonObject { ["holderIdentity"] = "", ["leaseDurationSeconds"] = 1 },
            };
            await client.SendAsync(HttpMethod.Patch, path, patch, "application/merge-patch+json", timeout.Token);
            Log.ReleasedLease(logger, options.LeaseName);
        }
        catch (Exception e) when (e is KubeApiException or HttpRequestException or OperationCanceledException)
        {
            Log.LeaderElectionFailed(logger, options.LeaseName, "releasing the lease: " + e.Message, null);
        }
    }
}
