namespace Updraft.Tests.Common.Kubernetes;

/// <summary>
/// The one xUnit type the linked <c>tests/Common/Kubernetes/RealApiServer.cs</c> names (it is an xUnit fixture there),
/// so the benchmark can start the server without referencing xUnit: the benchmark calls both methods itself.
/// </summary>
internal interface IAsyncLifetime
{
    public Task InitializeAsync();

    public Task DisposeAsync();
}
