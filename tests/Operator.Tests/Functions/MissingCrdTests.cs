using System.Text.Json.Nodes;
using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.FunctionApi;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.Functions;

/// <summary>
/// A Function whose engine needs a CRD the cluster does not have: a condition names what to install, the operator
/// serves the other Functions, and picks the CRD up when it appears. A server of its own, as the shared one has every
/// fixture CRD.
/// </summary>
public sealed class MissingCrdTests : IAsyncLifetime
{
    private readonly RealApiServer _api = new();

    public Task InitializeAsync() => _api.InitializeAsync();

    public Task DisposeAsync() => _api.DisposeAsync();

    [Fact]
    public async Task KnativeNotInstalled_TheFunctionSaysSo_TheOthersAreServed_AndTheCrdIsPickedUpWhenItAppears()
    {
        var fixtures = Path.Combine(Repository.Root(), "tests", "kube", "fixtures");
        await _api.ApplyCrdsAsync();
        await _api.ApplyCrdFileAsync(Path.Combine(fixtures, "core.openfunction.io_functions.yaml"));
        await _api.ApplyCrdFileAsync(Path.Combine(fixtures, "keda.sh_scaledobjects.yaml"));
        const string Ns = "op-missing-crd";
        await _api.EnsureNamespaceAsync(Ns);
        await using var op = await OperatorHarness.StartAsync(_api, Ns);
        var cluster = new FunctionApi(_api);

        await _api.CreateAsync(In(FunctionsPath, Ns), Function(Ns, "on-knative", "knative"));
        await _api.CreateAsync(In(FunctionsPath, Ns), Function(Ns, "on-keda", "keda"));
        var failed = await cluster.WaitForStateAsync(Ns, "on-knative", "Failed");
        Assert.Equal("CrdMissing", failed["status"]!["serving"]!["reason"]!.GetValue<string>());
        Assert.Contains("install Knative Serving", failed["status"]!["serving"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        await cluster.WaitForEventAsync(Ns, "on-knative", "CrdMissing");
        await cluster.WaitForAsync(In(ScaledObjectsPath, Ns, "on-keda"));
        await cluster.WaitForStateAsync(Ns, "on-keda", "Starting");

        await _api.ApplyCrdFileAsync(Path.Combine(fixtures, "serving.knative.dev_services.yaml"));
        await Eventually.TrueAsync(async () => await _api.GetAsync(In(KnativeServicesPath, Ns, "on-knative")) is not null, () => "the Knative Service once Knative's CRD is there", TimeSpan.FromSeconds(60));
        await cluster.WaitForStateAsync(Ns, "on-knative", "Starting");
    }

    private static JsonObject Function(string ns, string name, string engine) => new()
    {
        ["apiVersion"] = "core.openfunction.io/v1beta2",
        ["kind"] = "Function",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new JsonObject
        {
            ["image"] = "example/app:v1",
            ["serving"] = new JsonObject { ["triggers"] = new JsonObject { ["http"] = new JsonObject { ["engine"] = engine } } },
        },
    };
}
