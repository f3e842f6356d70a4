using System.Text.Json.Nodes;
using Updraft.Chart.Tests.Infrastructure;
using Updraft.Tests.Common;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Chart.Tests.Rendering;

/// <summary>
/// <c>helm lint --strict</c> and <c>helm template</c> of <c>charts/updraft</c> over the values matrix, and the schema's
/// answers to bad values. No cluster: helm renders for its default (current) Kubernetes version unless told otherwise.
/// </summary>
public sealed class TemplateTests
{
    [Theory]
    [MemberData(nameof(ProfileNames))]
    public async Task Lint_Profile_PassesStrict(string profile)
    {
        var args = new List<string> { "lint", "--strict", Helm.Chart };
        args.AddRange(Helm.SetArguments(Profiles.Values[profile]));
        var result = (await Helm.RunAsync([.. args])).EnsureSuccess("helm lint");
        Assert.Contains("0 chart(s) failed", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(ProfileNames))]
    public async Task Template_Profile_RendersWhatTheValuesAsk(string profile)
    {
        var objects = await Helm.TemplateAsync(Profiles.Values[profile]);
        var services = Names(objects, "Service");
        var deployments = Names(objects, "Deployment");
        switch (profile)
        {
            case "add-on-names":
                Assert.Subset(new HashSet<string>(services, StringComparer.Ordinal), new HashSet<string>(new[] {"keda-add-ons-http-interceptor-proxy", "keda-add-ons-http-interceptor-admin", "keda-add-ons-http-external-scaler"}, StringComparer.Ordinal));
                Assert.Equal("keda-add-ons-http-interceptor-admin", Env(Find(objects, "Deployment", "updraft-scaler"), "KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE"));
                Assert.Equal("keda-add-ons-http-external-scaler", Env(Find(objects, "Deployment", "updraft-operator"), "KEDA_HTTP_OPERATOR_EXTERNAL_SCALER_SERVICE"));
                Assert.Equal("keda-add-ons-http-interceptor-proxy", Env(Find(objects, "Deployment", "updraft-operator"), "UPDRAFT_OPERATOR_INTERCEPTOR_SERVICE"));
                break;
            case "no-operator":
                Assert.DoesNotContain("updraft-operator", deployments);
                Assert.DoesNotContain(objects, o => o["metadata"]!["name"]!.GetValue<string>().StartsWith("updraft-operator", StringComparison.Ordinal));
                Assert.Equal(["updraft-interceptor", "updraft-scaler"], Names(objects, "ServiceAccount"));
                break;
            case "tls":
                var interceptor = Find(objects, "Deployment", "updraft-interceptor");
                Assert.Equal("true", Env(interceptor, "KEDA_HTTP_PROXY_TLS_ENABLED"));
                Assert.Equal("/certs/tls.crt", Env(interceptor, "KEDA_HTTP_PROXY_TLS_CERT_PATH"));
                Assert.Contains(interceptor["spec"]!["template"]!["spec"]!["volumes"]!.AsArray(), v => v?["secret"]?["secretName"]?.GetValue<string>() == Profiles.TlsSecret);
                Assert.Contains(Find(objects, "Service", "updraft-interceptor-proxy")["spec"]!["ports"]!.AsArray(), p => p?["port"]?.GetValue<long>() == 8443);
                break;
            case "watch-namespace":
                Assert.Empty(Names(objects, "ClusterRoleBinding"));
                Assert.All(objects.Where(o => Kind(o) == "RoleBinding" && Ref(o) == "ClusterRole"), b => Assert.Equal(Profiles.WatchedNamespace, b["metadata"]!["namespace"]!.GetValue<string>()));
                Assert.Equal(Profiles.WatchedNamespace, Env(Find(objects, "Deployment", "updraft-interceptor"), "KEDA_HTTP_WATCH_NAMESPACE"));
                Assert.Equal(Profiles.WatchedNamespace, Env(Find(objects, "Deployment", "updraft-scaler"), "KEDA_HTTP_WATCH_NAMESPACE"));
                Assert.Equal(Profiles.WatchedNamespace, Env(Find(objects, "Deployment", "updraft-operator"), "KEDA_HTTP_OPERATOR_WATCH_NAMESPACE"));
                break;
            case "service-monitors":
                Assert.Equal(["updraft-interceptor", "updraft-operator", "updraft-scaler"], Names(objects, "ServiceMonitor"));
                break;
            case "interceptor-autoscaling":
                var scaledObject = Find(objects, "ScaledObject", "updraft-interceptor");
                Assert.Equal("updraft-external-scaler.updraft:9090", scaledObject["spec"]!["triggers"]![0]!["metadata"]!["scalerAddress"]!.GetValue<string>());
                Assert.Null(Find(objects, "Deployment", "updraft-interceptor")["spec"]!["replicas"]);
                break;
            default:
                Assert.Subset(new HashSet<string>(services, StringComparer.Ordinal), new HashSet<string>(new[] {"updraft-interceptor-proxy", "updraft-interceptor-admin", "updraft-external-scaler", "updraft-operator-metrics"}, StringComparer.Ordinal));
                Assert.Empty(Names(objects, "ServiceMonitor"));
                Assert.Equal(["updraft-interceptor", "updraft-operator", "updraft-scaler"], deployments);
                break;
        }
    }

    [Fact]
    public async Task Template_Defaults_HardenEveryPodAndSetTheRuntimeSettings()
    {
        var objects = await Helm.TemplateAsync([]);
        foreach (var deployment in objects.Where(o => Kind(o) == "Deployment"))
        {
            var pod = deployment["spec"]!["template"]!["spec"]!;
            var container = pod["containers"]![0]!;
            var name = deployment["metadata"]!["name"]!.GetValue<string>();
            Assert.True(pod["securityContext"]!["runAsNonRoot"]!.GetValue<bool>(), name);
            Assert.Equal("RuntimeDefault", pod["securityContext"]!["seccompProfile"]!["type"]!.GetValue<string>());
            Assert.Equal(name, pod["serviceAccountName"]!.GetValue<string>());
            var security = container["securityContext"]!;
            Assert.True(security["readOnlyRootFilesystem"]!.GetValue<bool>(), name);
            Assert.False(security["allowPrivilegeEscalation"]!.GetValue<bool>(), name);
            Assert.Equal(["ALL"], security["capabilities"]!["drop"]!.AsArray().Select(c => c!.GetValue<string>()));
            Assert.Contains(container["volumeMounts"]!.AsArray(), m => m!["mountPath"]!.GetValue<string>() == "/tmp");
            Assert.Contains(pod["volumes"]!.AsArray(), v => v!["emptyDir"] is not null);
            Assert.Equal("/tmp", Env(deployment, "TMPDIR"));
            Assert.Equal("0", Env(deployment, "DOTNET_EnableDiagnostics"));
            Assert.NotNull(container["readinessProbe"]);
            Assert.NotNull(container["livenessProbe"]);
        }

        var interceptor = Find(objects, "Deployment", "updraft-interceptor");
        var interceptorContainer = interceptor["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Null(interceptorContainer["resources"]!["limits"]!["cpu"]);
        Assert.Equal("0x4000000", Env(interceptor, "DOTNET_GCgen0size"));
        Assert.Equal("epoll", Env(interceptor, "UPDRAFT_TRANSPORT"));
        Assert.Equal("1m", Env(interceptor, "UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL"));
        Assert.Equal("/readyz", interceptorContainer["readinessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
        Assert.Equal("/livez", interceptorContainer["livenessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
        Assert.Equal("admin", interceptorContainer["readinessProbe"]!["httpGet"]!["port"]!.GetValue<string>());
        // 5 s shutdown delay + 30 s drain + 10 s margin.
        Assert.Equal(45, interceptor["spec"]!["template"]!["spec"]!["terminationGracePeriodSeconds"]!.GetValue<long>());

        var scaler = Find(objects, "Deployment", "updraft-scaler")["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal("readiness", scaler["readinessProbe"]!["grpc"]!["service"]!.GetValue<string>());
        Assert.Equal("liveness", scaler["livenessProbe"]!["grpc"]!["service"]!.GetValue<string>());

        var op = Find(objects, "Deployment", "updraft-operator")["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Equal(["--leader-elect"], op["args"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal("/healthz", op["livenessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
        Assert.Equal("/readyz", op["readinessProbe"]!["httpGet"]!["path"]!.GetValue<string>());
        Assert.Contains(op["ports"]!.AsArray(), p => p!["containerPort"]!.GetValue<long>() == 8081);
        Assert.Contains(Find(objects, "Service", "updraft-operator-metrics")["spec"]!["ports"]!.AsArray(), p => p!["port"]!.GetValue<long>() == 8080);
        Assert.Equal(["updraft-interceptor", "updraft-scaler"], Names(objects, "PodDisruptionBudget"));
        Assert.Equal("policy/v1", Find(objects, "PodDisruptionBudget", "updraft-interceptor")["apiVersion"]!.GetValue<string>());
    }

    [Fact]
    public async Task Template_Kubernetes120_UsesTheApisItServes()
    {
        var objects = await Helm.TemplateAsync([], "--kube-version", "1.20.2");
        Assert.All(objects.Where(o => Kind(o) == "PodDisruptionBudget"), p => Assert.Equal("policy/v1beta1", p["apiVersion"]!.GetValue<string>()));
        var scaler = Find(objects, "Deployment", "updraft-scaler")["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Null(scaler["readinessProbe"]!["grpc"]);
        Assert.Equal("grpc", scaler["readinessProbe"]!["tcpSocket"]!["port"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("shutdown 10s + drain 1m", "interceptor.shutdown.delay=10s,interceptor.shutdown.drainTimeout=1m", 80)]
    [InlineData("an explicit grace period", "interceptor.terminationGracePeriodSeconds=120", 120)]
    [InlineData("fractions round up", "interceptor.shutdown.delay=1500ms,interceptor.shutdown.drainTimeout=1m30.5s", 103)]
    public async Task Template_DrainSettings_SetTheGracePeriod(string because, string values, int expected)
    {
        var objects = await Helm.TemplateAsync([values]);
        var grace = (int)Find(objects, "Deployment", "updraft-interceptor")["spec"]!["template"]!["spec"]!["terminationGracePeriodSeconds"]!.GetValue<long>();
        Assert.True(expected == grace, $"{because}: expected {expected}, got {grace}");
    }

    [Theory]
    [InlineData("interceptor.replicas=-1", "/interceptor/replicas")]
    [InlineData("scaler.replicas=-2", "/scaler/replicas")]
    [InlineData("interceptor.bogus=1", "additional properties 'bogus' not allowed")]
    [InlineData("nonsense=1", "additional properties 'nonsense' not allowed")]
    [InlineData("operator.leaderElection.bogus=x", "additional properties 'bogus' not allowed")]
    [InlineData("interceptor.timeouts.request=5 seconds", "/interceptor/timeouts/request")]
    [InlineData("scaler.queueTickDuration=10", "/scaler/queueTickDuration")]
    [InlineData("scaler.maxStreams=0", "/scaler/maxStreams")]
    [InlineData("operator.resyncPeriod=-1m", "/operator/resyncPeriod")]
    [InlineData("interceptor.logLevel=loud", "/interceptor/logLevel")]
    [InlineData("interceptor.transport=io_uring", "/interceptor/transport")]
    [InlineData("interceptor.ports.proxy=70000", "/interceptor/ports/proxy")]
    [InlineData("interceptor.terminationGracePeriodSeconds=20", "below shutdown.delay + shutdown.drainTimeout")]
    [InlineData("interceptor.tls.enabled=true", "interceptor.tls.secretName is required")]
    public async Task Template_BadValue_FailsWithAMessageNamingIt(string value, string message)
    {
        var args = new List<string> { "template", "updraft", Helm.Chart };
        args.AddRange(Helm.SetArguments([value]));
        var result = await Helm.RunAsync([.. args]);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(message, result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Template_Roles_AreTheRuleFilesOfTheChart()
    {
        var objects = await Helm.TemplateAsync([]);
        // The RBAC tests bind RealApiServer.ChartRoles; the chart must render the same rules from the same files.
        foreach (var expected in RealApiServer.ChartRoles("updraft").Where(r => Kind(r) is "ClusterRole" or "Role"))
        {
            var name = expected["metadata"]!["name"]!.GetValue<string>();
            var rendered = Find(objects, Kind(expected), name);
            Assert.True(JsonNode.DeepEquals(expected["rules"], rendered["rules"]), $"{Kind(expected)} {name}: {rendered["rules"]!.ToJsonString()}");
        }

        Assert.Equal(5, objects.Count(o => Kind(o) is "ClusterRole" or "Role"));
        Assert.False(File.Exists(Path.Combine(Repository.Root(), "examples", "kubernetes", "rbac.yaml")), "the chart's rbac/ files are the one copy of the roles");
    }

    public static TheoryData<string> ProfileNames() => Profiles.Names();

    private static string Kind(JsonObject o) => o["kind"]!.GetValue<string>();

    private static string? Ref(JsonObject o) => o["roleRef"]?["kind"]?.GetValue<string>();

    private static List<string> Names(List<JsonObject> objects, string kind) =>
        [.. objects.Where(o => Kind(o) == kind).Select(o => o["metadata"]!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal)];

    private static JsonObject Find(List<JsonObject> objects, string kind, string name) =>
        objects.SingleOrDefault(o => Kind(o) == kind && o["metadata"]!["name"]!.GetValue<string>() == name)
        ?? throw new Xunit.Sdk.XunitException($"no {kind} {name} among {string.Join(", ", objects.Select(o => Kind(o) + "/" + o["metadata"]!["name"]))}");

    private static string? Env(JsonObject deployment, string name) =>
        deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["env"]!.AsArray()
            .FirstOrDefault(e => e!["name"]!.GetValue<string>() == name)?["value"]?.GetValue<string>();
}
