using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Operator.Tests.Infrastructure;

/// <summary>Every operator test against the real kube-apiserver shares one server, one test at a time; each test has its own namespace.</summary>
[CollectionDefinition(Name)]
public sealed class RealApiServerDefinition : ICollectionFixture<RealApiServer>
{
    public const string Name = "Real kube-apiserver (operator)";
}
