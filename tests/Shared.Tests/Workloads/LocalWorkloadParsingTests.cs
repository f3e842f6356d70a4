using Updraft.Shared.Routes;
using Updraft.Shared.Workloads;

namespace Updraft.Shared.Tests.Workloads;

public sealed class LocalWorkloadParsingTests
{
    private static readonly string BaseDirectory = Path.GetTempPath();

    private static string Workload(string spec = "command: [dotnet, app.dll, --urls, \"http://127.0.0.1:$PORT\"]", string metadata = "{name: echo, namespace: demo}") => $"""
        apiVersion: local.updraft.dev/v1alpha1
        kind: LocalWorkload
        metadata: {metadata}
        spec:
          {spec.Replace("\n", "\n  ", StringComparison.Ordinal)}

        """;

    private static string Route(string annotations = "{updraft.dev/local-workload: echo}", string? target = null) => $"""
        apiVersion: http.keda.sh/v1beta1
        kind: InterceptorRoute
        metadata: {"{"}name: echo, namespace: demo, annotations: {annotations}{"}"}
        spec:
          {(target is null ? "" : "target: " + target + "\n  ")}rules: [{"{"}hosts: [echo.localhost]{"}"}]
          scalingMetric: {"{"}concurrency: {"{"}targetValue: 10{"}"}{"}"}

        """;

    private static RouteFileResult Parse(params string[] documents) =>
        RouteFileParser.Parse(string.Join("---\n", documents), RouteEnvironment.Standalone, BaseDirectory);

    private static string Problems(RouteFileResult result) => string.Join("\n", result.Problems.Select(p => p.Format("routes.yaml")));

    [Fact]
    public void Parse_WorkloadAndRouteNamingIt_BothAreReadWithDefaults()
    {
        var result = Parse(Workload(), Route());

        Assert.True(result.Succeeded, Problems(result));
        var workload = Assert.Single(result.Workloads);
        Assert.Equal("demo/echo", workload.Key);
        Assert.Equal(["dotnet", "app.dll", "--urls", "http://127.0.0.1:$PORT"], workload.Command);
        Assert.Equal(Path.TrimEndingDirectorySeparator(Path.GetFullPath(BaseDirectory)), workload.WorkingDirectory);
        Assert.Null(workload.Ports);
        Assert.Equal(ReadinessCheck.DefaultTcp, workload.Readiness);
        Assert.Equal(0, workload.MinReplicas);
        Assert.Equal(WorkloadDefinition.DefaultMaxReplicas, workload.MaxReplicas);
        Assert.Equal(WorkloadDefinition.DefaultCooldownPeriod, workload.CooldownPeriod);
        Assert.Equal(WorkloadDefinition.DefaultPollingInterval, workload.PollingInterval);
        Assert.Equal(WorkloadDefinition.DefaultTerminationGracePeriod, workload.TerminationGracePeriod);

        var route = Assert.Single(result.Routes);
        Assert.Equal("echo", route.Target.Workload);
        Assert.Null(route.Target.Port);
    }

    [Fact]
    public void Parse_EveryField_IsRead()
    {
        var result = Parse(Workload("""
            command: [./serve, --port, "${PORT}"]
            workingDirectory: .
            env: {GREETING: hello, LISTEN: "127.0.0.1:$PORT"}
            portRange: 18100-18103
            readiness: {httpPath: /healthz, period: 20ms, timeout: 5s}
            minReplicaCount: 1
            maxReplicaCount: 4
            pollingInterval: 500ms
            cooldownPeriod: 10s
            terminationGracePeriod: 3s
            """));

        Assert.True(result.Succeeded, Problems(result));
        var workload = Assert.Single(result.Workloads);
        Assert.Equal(new PortRange(18100, 18103), workload.Ports);
        Assert.Equal(new ReadinessCheck(ReadinessKind.Http, "/healthz", TimeSpan.FromMilliseconds(20), TimeSpan.FromSeconds(5)), workload.Readiness);
        Assert.Equal("127.0.0.1:$PORT", workload.Environment["LISTEN"]);
        Assert.Equal((1, 4), (workload.MinReplicas, workload.MaxReplicas));
        Assert.Equal(TimeSpan.FromMilliseconds(500), workload.PollingInterval);
        Assert.Equal(TimeSpan.FromSeconds(10), workload.CooldownPeriod);
        Assert.Equal(TimeSpan.FromSeconds(3), workload.TerminationGracePeriod);
    }

    [Theory]
    [InlineData("command: []", "spec.command: is required")]
    [InlineData("command: [\"\"]", "spec.command[0]: the program must not be empty")]
    [InlineData("command: [a]\nworkingDirectory: no-such-directory-here", "spec.workingDirectory: \"no-such-directory-here\" is not a directory")]
    [InlineData("command: [a]\nenv: {PORT: \"1\"}", "spec.env.PORT: is set by the autoscaler")]
    [InlineData("command: [a]\nport: 8080\nportRange: 1-2", "spec: set port or portRange, not both")]
    [InlineData("command: [a]\nport: 70000", "spec.port: 70000 is out of range")]
    [InlineData("command: [a]\nportRange: 9-3", "spec.portRange: \"9-3\" is not valid")]
    [InlineData("command: [a]\nportRange: x", "spec.portRange: \"x\" is not valid")]
    [InlineData("command: [a]\nport: 8080\nmaxReplicaCount: 2", "cannot share the one port 8080")]
    [InlineData("command: [a]\nportRange: 100-101\nmaxReplicaCount: 3", "3 replicas need 3 ports but portRange has 2")]
    [InlineData("command: [a]\nminReplicaCount: 3\nmaxReplicaCount: 2", "spec.minReplicaCount: 3 is more than maxReplicaCount 2")]
    [InlineData("command: [a]\nminReplicaCount: -1", "spec.minReplicaCount: -1 is not valid")]
    [InlineData("command: [a]\nmaxReplicaCount: 0", "spec.maxReplicaCount: 0 is not valid; use 1-64")]
    [InlineData("command: [a]\nmaxReplicaCount: 1000", "spec.maxReplicaCount: 1000 is not valid; use 1-64")]
    [InlineData("command: [a]\npollingInterval: 1ms", "spec.pollingInterval: \"1ms\" is not valid")]
    [InlineData("command: [a]\ncooldownPeriod: soon", "spec.cooldownPeriod: \"soon\" is not valid")]
    [InlineData("command: [a]\nterminationGracePeriod: -1s", "spec.terminationGracePeriod: \"-1s\" is not valid")]
    [InlineData("command: [a]\nreadiness: {httpPath: healthz}", "spec.readiness.httpPath: \"healthz\" is not valid")]
    [InlineData("command: [a]\nreadiness: {httpPath: \"/a b\"}", "spec.readiness.httpPath: \"/a b\" is not valid")]
    [InlineData("command: [a]\nreadiness: {timeout: 0s}", "spec.readiness.timeout: \"0s\" is not valid")]
    [InlineData("command: [a]\nreplicas: 3", "spec.replicas")]
    public void Parse_BadWorkload_IsRefusedNamingTheField(string spec, string expected)
    {
        var result = Parse(Workload(spec), Route());

        Assert.False(result.Succeeded);
        Assert.Empty(result.Routes);
        Assert.Empty(result.Workloads);
        Assert.Contains(result.Problems, p => p.Format().Contains(expected, StringComparison.Ordinal) && p.Format().Contains("(LocalWorkload demo/echo)", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_RouteNamingAMissingWorkload_IsRefused()
    {
        var result = Parse(Workload(metadata: "{name: other, namespace: demo}"), Route());

        Assert.False(result.Succeeded);
        var problem = Assert.Single(result.Problems);
        Assert.Equal("document 2 (InterceptorRoute demo/echo): metadata.annotations.updraft.dev/local-workload: no LocalWorkload demo/echo in this file", problem.Format());
    }

    [Fact]
    public void Parse_WorkloadInAnotherNamespace_DoesNotCount()
    {
        var result = Parse(Workload(metadata: "{name: echo, namespace: elsewhere}"), Route());

        Assert.Contains(result.Problems, p => p.Format().Contains("no LocalWorkload demo/echo in this file", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_RouteWithBothAnnotationAndTarget_IsRefused()
    {
        var result = Parse(Workload(), Route(target: "{service: 127.0.0.1, port: 8080}"));

        Assert.Contains(result.Problems, p => p.Format().Contains("spec.target: leave out the service and port", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_EmptyWorkloadName_IsRefused()
    {
        var result = Parse(Workload(), Route(annotations: "{updraft.dev/local-workload: \"\"}"));

        Assert.Contains(result.Problems, p => p.Format().Contains("must name a LocalWorkload", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_DuplicateWorkload_IsRefused()
    {
        var result = Parse(Workload(), Workload(), Route());

        Assert.Contains(result.Problems, p => p.Format().Contains("duplicate: LocalWorkload demo/echo is already defined in document 1", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_KubernetesEnvironment_RefusesTheAnnotationAndTheKind()
    {
        var route = RouteFileParser.Parse(Route(), RouteEnvironment.Kubernetes);
        var workload = RouteFileParser.Parse(Workload(), RouteEnvironment.Kubernetes);

        Assert.Contains(route.Problems, p => p.Format().Contains("names a LocalWorkload, which only the local autoscaler runs (standalone mode)", StringComparison.Ordinal));
        Assert.Contains(workload.Problems, p => p.Format().Contains("LocalWorkload is only for standalone mode", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_HttpScaledObjectWithTheAnnotation_TargetsTheWorkload()
    {
        var result = Parse(Workload(), """
            apiVersion: http.keda.sh/v1alpha1
            kind: HTTPScaledObject
            metadata: {name: legacy, namespace: demo, annotations: {updraft.dev/local-workload: echo}}
            spec:
              hosts: [legacy.localhost]
              scaleTargetRef: {name: echo, kind: Deployment, apiVersion: apps/v1}

            """);

        Assert.True(result.Succeeded, Problems(result));
        Assert.Equal("echo", Assert.Single(result.Routes).Target.Workload);
    }

    [Fact]
    public void Parse_HttpScaledObjectWithTheAnnotationAndAServicePort_IsRefused()
    {
        var result = Parse(Workload(), """
            apiVersion: http.keda.sh/v1alpha1
            kind: HTTPScaledObject
            metadata: {name: legacy, namespace: demo, annotations: {updraft.dev/local-workload: echo}}
            spec:
              scaleTargetRef: {name: legacy, service: 127.0.0.1, port: 8080}

            """);

        Assert.Contains(result.Problems, p => p.Format().Contains("spec.scaleTargetRef: leave out the service and port", StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_RelativeWorkingDirectory_StartsAtTheBaseDirectory()
    {
        var sub = Directory.CreateTempSubdirectory("workload-");
        try
        {
            var result = RouteFileParser.Parse(Workload("command: [a]\nworkingDirectory: " + sub.Name), RouteEnvironment.Standalone, sub.Parent!.FullName);

            Assert.True(result.Succeeded, Problems(result));
            Assert.Equal(sub.FullName, Assert.Single(result.Workloads).WorkingDirectory);
        }
        finally
        {
            sub.Delete();
        }
    }
}
