using Updraft.Operator.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;
using static Updraft.Operator.Tests.Infrastructure.FunctionApi;
using static Updraft.Operator.Tests.Infrastructure.TestObjects;

namespace Updraft.Operator.Tests.Functions;

/// <summary>Every Function in <c>examples/openfunction</c> is accepted by the API server and served, with the children its comment promises.</summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class ExampleFunctionTests(RealApiServer api)
{
    private readonly FunctionApi _cluster = new(api);

    [Theory]
    [InlineData("keda-function.yaml")]
    [InlineData("keda-function-minimal.yaml")]
    public async Task KedaExample_IsServedThroughTheInterceptor(string file)
    {
        var ns = await _cluster.NamespaceAsync("op-example");
        await using var op = await OperatorHarness.StartAsync(api, ns);
        var name = await ApplyAsync(ns, file);
        var status = await _cluster.WaitForStateAsync(ns, name, "Starting");
        Assert.Equal($"http://{name}.{ns}.svc.cluster.local/", status["status"]!["addresses"]![0]!["value"]!.GetValue<string>());
        await _cluster.WaitForAsync(In(InterceptorRoutesPath, ns, name));
        await _cluster.WaitForAsync(In(ScaledObjectsPath, ns, name));
    }

    [Fact]
    public async Task KnativeExample_IsAKnativeServiceWithItsScale()
    {
        var ns = await _cluster.NamespaceAsync("op-example");
        await using var op = await OperatorHarness.StartAsync(api, ns);
        var name = await ApplyAsync(ns, "knative-function.yaml");
        var service = await _cluster.WaitForAsync(In(KnativeServicesPath, ns, name));
        var annotations = service["spec"]!["template"]!["metadata"]!["annotations"]!;
        Assert.Equal("1", annotations["autoscaling.knative.dev/min-scale"]!.GetValue<string>());
        Assert.Equal("5", annotations["autoscaling.knative.dev/max-scale"]!.GetValue<string>());
        Assert.Equal("20", annotations["autoscaling.knative.dev/target"]!.GetValue<string>());
        await _cluster.WaitForStateAsync(ns, name, "Starting");
    }

    [Fact]
    public async Task AsyncExample_GetsItsDeploymentComponentAndScaledObject()
    {
        var ns = await _cluster.NamespaceAsync("op-example");
        await using var op = await OperatorHarness.StartAsync(api, ns);
        var name = await ApplyAsync(ns, "async-function.yaml");
        var deployment = await _cluster.WaitForAsync(In(DeploymentsPath, ns, name));
        Assert.Equal("true", deployment["spec"]!["template"]!["metadata"]!["annotations"]!["dapr.io/enabled"]!.GetValue<string>());
        var component = await _cluster.WaitForAsync(In(ComponentsPath, ns, $"{name}-bindings-orders"));
        Assert.Equal("bindings.kafka", component["spec"]!["type"]!.GetValue<string>());
        var so = await _cluster.WaitForAsync(In(ScaledObjectsPath, ns, name));
        Assert.Equal("kafka", so["spec"]!["triggers"]![0]!["type"]!.GetValue<string>());
        Assert.Equal(60, so["spec"]!["cooldownPeriod"]!.GetValue<int>());
        await _cluster.WaitForStateAsync(ns, name, "Starting");
    }

    private async Task<string> ApplyAsync(string ns, string file)
    {
        var function = RealApiServer.YamlToJson(await File.ReadAllTextAsync(Path.Combine(Updraft.Tests.Common.Repository.Root(), "examples", "openfunction", file))).Single();
        function["metadata"]!["namespace"] = ns;
        await api.CreateAsync(In(FunctionsPath, ns), function);
        return function["metadata"]!["name"]!.GetValue<string>();
    }
}
