using System.Text.Json.Nodes;
using Updraft.Chart.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Chart.Tests.Cluster;

/// <summary>
/// Every object the chart renders, over the values matrix, is accepted by the real kube-apiserver
/// (<c>kubectl apply --dry-run=server</c>: admission, defaulting and validation, nothing stored). Rendered for the test
/// server's version (1.20), as <c>helm install</c> renders for the cluster it installs into.
/// </summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class DryRunTests(RealApiServer api) : IDisposable
{
    /// <summary>Kinds the test kube-apiserver does not serve, so it cannot check them; and why.</summary>
    private static readonly Dictionary<string, string> Unserved = new(StringComparer.Ordinal)
    {
        ["ServiceMonitor"] = "monitoring.coreos.com is the Prometheus Operator's CRD, which the test kube-apiserver does not have; " +
            "its shape is checked by Template_Profile_RendersWhatTheValuesAsk",
    };

    private readonly string _directory = Directory.CreateTempSubdirectory("updraft-chart-dry-run-").FullName;

    [Theory]
    [MemberData(nameof(ProfileNames))]
    public async Task Apply_Profile_EveryObjectIsAcceptedByTheApiServer(string profile)
    {
        await api.ApplyCrdsWithKedaAsync();
        await api.EnsureNamespaceAsync("updraft");
        await api.EnsureNamespaceAsync(Profiles.WatchedNamespace);
        var objects = await Helm.TemplateAsync(Profiles.Values[profile], "--kube-version", "1.20.2", "--include-crds");
        var checkable = objects.Where(o => !Unserved.ContainsKey(o["kind"]!.GetValue<string>())).ToList();
        var crds = checkable.Where(o => o["kind"]!.GetValue<string>() == "CustomResourceDefinition").ToList();
        var others = checkable.Except(crds).ToList();
        Assert.NotEmpty(crds);
        Assert.NotEmpty(others);

        // The CRDs carry CEL rules (x-kubernetes-validations, Kubernetes 1.25+), which kubectl's client-side check
        // against a 1.20 server's OpenAPI rejects and the 1.20 server itself drops: the server checks the rest of them.
        await ApplyAsync(profile + "-crds", crds, "--validate=false");
        await ApplyAsync(profile, others, "--validate=strict");
    }

    private async Task ApplyAsync(string name, List<JsonObject> objects, string validate)
    {
        var file = Path.Combine(_directory, name + ".json");
        var list = new JsonObject { ["apiVersion"] = "v1", ["kind"] = "List", ["items"] = new JsonArray([.. objects.Select(o => (JsonNode)o.DeepClone())]) };
        await File.WriteAllTextAsync(file, list.ToJsonString());
        var result = (await Helm.KubectlAsync("apply", "--dry-run=server", validate, "--kubeconfig", api.Kubeconfig, "-f", file))
            .EnsureSuccess("kubectl apply --dry-run=server (" + name + ")");
        var accepted = result.Stdout.Split('\n').Count(l => l.Contains("(server dry run)", StringComparison.Ordinal));
        Assert.True(accepted == objects.Count, $"{name}: {accepted} of {objects.Count} objects accepted:\n{result.Output}");
    }

    public static TheoryData<string> ProfileNames() => Profiles.Names();

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
