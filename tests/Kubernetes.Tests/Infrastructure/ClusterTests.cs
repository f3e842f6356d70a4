using Microsoft.Extensions.Logging.Abstractions;
using Updraft.Kubernetes.Client;
using Updraft.Kubernetes.Watching;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Kubernetes.Tests.Infrastructure;

/// <summary>A test class with an API server (fake or real, chosen by the subclass) and a client for it.</summary>
public abstract class ClusterTests : IAsyncLifetime
{
    /// <summary>Back-off of 20-200 ms so that failure and recovery tests take milliseconds.</summary>
    public static readonly WatchTuning Fast = WatchTuning.Default with { MinBackoff = TimeSpan.FromMilliseconds(20), MaxBackoff = TimeSpan.FromMilliseconds(200) };

    private ITestCluster? _cluster;
    private KubeApiClient? _client;

    private protected ITestCluster Cluster => _cluster!;

    private protected KubeApiClient Client => _client!;

    private protected static NullLoggerFactory Loggers => NullLoggerFactory.Instance;

    private protected abstract Task<ITestCluster> StartClusterAsync();

    public async Task InitializeAsync()
    {
        _cluster = await StartClusterAsync();
        _client = KubeApiClient.Create(_cluster.Kubeconfig);
    }

    public async Task DisposeAsync()
    {
        _client?.Dispose();
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }
    }
}
