using Updraft.Kubernetes.Hosting;

namespace Updraft.Interceptor.Kubernetes;

/// <summary>The mode the process runs in, decided once at start-up (see <see cref="ClusterSettings"/>).</summary>
internal sealed class ModeInfo(RunMode? mode)
{
    /// <summary>Null when neither a routes file nor a cluster was found (start-up then fails, saying so).</summary>
    public RunMode? Mode { get; } = mode;

    public bool IsKubernetes => Mode == RunMode.Kubernetes;
}
