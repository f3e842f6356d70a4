using Updraft.Kubernetes.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Kubernetes.Tests.Routes;

/// <summary>The route scenarios on a real v1.20 server with the chart's CRDs installed.</summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class KubernetesRoutesRealServerTests(RealApiServer server) : KubernetesRoutesScenarios
{
    private protected override async Task<ITestCluster> StartClusterAsync()
    {
        await server.ApplyCrdsAsync();
        return new RealCluster(server);
    }
}
