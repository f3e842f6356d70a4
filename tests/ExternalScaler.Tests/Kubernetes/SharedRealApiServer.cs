using Updraft.Tests.Common.Kubernetes;

namespace Updraft.ExternalScaler.Tests.Kubernetes;

/// <summary>One real kube-apiserver shared by the tests that need it (they run one after another).</summary>
[CollectionDefinition(Name)]
public sealed class SharedRealApiServer : ICollectionFixture<RealApiServer>
{
    public const string Name = "real kube-apiserver (scaler)";
}
