using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Chart.Tests.Infrastructure;

/// <summary>Every chart test against the real kube-apiserver shares one server (it takes seconds to start).</summary>
[CollectionDefinition(Name)]
public sealed class RealApiServerDefinition : ICollectionFixture<RealApiServer>
{
    public const string Name = "Real kube-apiserver";
}
