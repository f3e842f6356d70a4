using System.Text.Json.Nodes;
using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.HttpScaledObjects;

/// <summary>
/// HTTPScaledObjects reconcile to the ScaledObjects the add-on's operator writes: each
/// <c>Golden/NAME.httpscaledobject.yaml</c> is created on the real kube-apiserver, and the ScaledObject that comes back
/// (without the fields the server sets) must equal <c>Golden/NAME.scaledobject.yaml</c>, written by hand from the
/// add-on's reconciler.
/// </summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class GoldenScaledObjectTests(RealApiServer api)
{
    private static readonly string[] ServerFields = ["uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink", "namespace"];

    [Theory]
    [InlineData("xkcd")]
    [InlineData("every-field")]
    [InlineData("minimal")]
    public async Task Example_ReconcilesToTheAddOnsScaledObject(string example)
    {
        await api.ApplyCrdsWithKedaAsync();
        var ns = "op-golden-" + example;
        await api.EnsureNamespaceAsync(ns);
        await using var op = await OperatorHarness.StartAsync(api, ns, new Dictionary<string, string?>
        {
            ["KEDA_HTTP_OPERATOR_NAMESPACE"] = "keda",
            ["KEDA_HTTP_OPERATOR_EXTERNAL_SCALER_PORT"] = "9090",
        });
        var directory = Path.Combine(Repository.Root(), "tests", "Operator.Tests", "Golden");
        var source = RealApiServer.YamlToJson(await File.ReadAllTextAsync(Path.Combine(directory, example + ".httpscaledobject.yaml"))).Single();
        var expected = RealApiServer.YamlToJson(await File.ReadAllTextAsync(Path.Combine(directory, example + ".scaledobject.yaml"))).Single();
        var name = source["metadata"]!["name"]!.GetValue<string>();
        source["metadata"]!["namespace"] = ns;
        var created = await api.CreateAsync(In(HttpScaledObjectsPath, ns), source);
        ((JsonObject)expected["metadata"]!["ownerReferences"]![0]!)["uid"] = created["metadata"]!["uid"]!.GetValue<string>();

        JsonObject? actual = null;
        await Eventually.TrueAsync(async () => (actual = await api.GetAsync(In(ScaledObjectsPath, ns, name))) is not null, () => "the ScaledObject");
        var metadata = actual!["metadata"]!.AsObject();
        foreach (var field in ServerFields)
        {
            metadata.Remove(field);
        }

        var (want, got) = (Canonical(expected)!, Canonical(actual)!);
        Assert.True(JsonNode.DeepEquals(want, got), $"expected {want.ToJsonString()}\n  actual {got.ToJsonString()}");
    }

    /// <summary>Objects with their members sorted, so member order does not count.</summary>
    private static JsonNode? Canonical(JsonNode? node) => node switch
    {
        JsonObject obj => new JsonObject(obj.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => KeyValuePair.Create(p.Key, Canonical(p.Value)))),
        JsonArray array => new JsonArray([.. array.Select(Canonical)]),
        null => null,
        _ => JsonNode.Parse(node.ToJsonString()),
    };
}
