using Updraft.Kubernetes.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Kubernetes.Tests.Endpoints;

/// <summary>The catalog scenarios on a real v1.20 server, which serves EndpointSlices only as v1beta1.</summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class EndpointSliceCatalogRealServerTests(RealApiServer server) : EndpointSliceCatalogScenarios
{
    private protected override Task<ITestCluster> StartClusterAsync() => Task.FromResult<ITestCluster>(new RealCluster(server));
}
