using System.Text.Json.Nodes;
using Updraft.Operator.Functions;
using static Updraft.Operator.Tests.Functions.SeedFunctions;

namespace Updraft.Operator.Tests.Functions;

/// <summary>Which engine serves a Function (OpenFunction's runtime selection after its webhook's defaults).</summary>
public sealed class FunctionEngineTests
{
    private const string Bare = """
        apiVersion: core.openfunction.io/v1beta2
        kind: Function
        metadata:
          name: app
        spec:
          image: example/app
          serving: {}
        """;

    [Theory]
    [InlineData("none", "Knative")]
    [InlineData("http", "Knative")]
    [InlineData("http-keda", "Keda")]
    [InlineData("http-knative", "Knative")]
    [InlineData("dapr", "Async")]
    [InlineData("keda-triggers", "Async")]
    [InlineData("keda-triggers-and-http", "Keda")]
    [InlineData("dapr-and-http", "Keda")]
    [InlineData("empty-keda-triggers", "Knative")]
    public void Select_FollowsTheTriggers(string triggers, string expected)
    {
        var function = Parse(Bare, f =>
        {
            var serving = f["spec"]!["serving"]!.AsObject();
            JsonObject Http(string? engine) => engine is null ? new JsonObject() : new JsonObject { ["engine"] = engine };
            JsonArray Dapr() => new(new JsonObject { ["name"] = "in", ["type"] = "bindings.kafka" });
            JsonObject KedaTriggers(int count) => new() { ["keda"] = new JsonObject { ["triggers"] = new JsonArray([.. Enumerable.Range(0, count).Select(_ => (JsonNode)new JsonObject { ["type"] = "kafka" })]) } };
            switch (triggers)
            {
                case "http": serving["triggers"] = new JsonObject { ["http"] = Http(null) }; break;
                case "http-keda": serving["triggers"] = new JsonObject { ["http"] = Http("keda") }; break;
                case "http-knative": serving["triggers"] = new JsonObject { ["http"] = Http("knative") }; break;
                case "dapr": serving["triggers"] = new JsonObject { ["dapr"] = Dapr() }; break;
                case "keda-triggers": serving["scaleOptions"] = KedaTriggers(1); break;
                case "keda-triggers-and-http":
                    serving["scaleOptions"] = KedaTriggers(1);
                    serving["triggers"] = new JsonObject { ["http"] = Http("keda") };
                    break;
                case "dapr-and-http": serving["triggers"] = new JsonObject { ["http"] = Http("keda"), ["dapr"] = Dapr() }; break;
                case "empty-keda-triggers": serving["scaleOptions"] = KedaTriggers(0); break;
            }
        });

        Assert.Equal(expected, FunctionEngines.Select(function.Spec!, out var problem)?.ToString());
        Assert.Null(problem);
    }

    [Fact]
    public void Select_UnknownEngine_NamesTheFieldAndTheEnginesThereAre()
    {
        var function = Parse(Bare, f => f["spec"]!["serving"]!["triggers"] = new JsonObject { ["http"] = new JsonObject { ["engine"] = "openfaas" } });

        Assert.Null(FunctionEngines.Select(function.Spec!, out var problem));
        Assert.Equal("spec.serving.triggers.http.engine: \"openfaas\" is not an engine; use keda or knative", problem);
    }

    [Fact]
    public void Select_NoServing_IsNone()
    {
        var function = Parse(Bare, f => f["spec"]!.AsObject().Remove("serving"));

        Assert.Equal(FunctionEngine.None, FunctionEngines.Select(function.Spec!, out _));
    }
}
