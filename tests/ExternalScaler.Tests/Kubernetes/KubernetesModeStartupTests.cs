using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Updraft.ExternalScaler.Hosting;
using Updraft.ExternalScaler.Http;
using Updraft.ExternalScaler.Kubernetes;
using Updraft.ExternalScaler.Options;
using Updraft.Kubernetes.Hosting;
using Updraft.Shared.Hosting;

namespace Updraft.ExternalScaler.Tests.Kubernetes;

/// <summary>Kubernetes mode's settings: bad values and conflicts stop start-up, naming the variable.</summary>
public sealed class KubernetesModeStartupTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("updraft-scaler-k8s-start-").FullName;

    private Dictionary<string, string?> Settings(params (string Key, string? Value)[] extra)
    {
        var settings = new Dictionary<string, string?>
        {
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
            ["UPDRAFT_MODE"] = "kubernetes",
            ["UPDRAFT_KUBECONFIG"] = Kubeconfig(),
            ["KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE"] = "keda",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }

        return settings;
    }

    /// <summary>A kubeconfig for a server that is never contacted (these tests only build the application).</summary>
    private string Kubeconfig()
    {
        var path = Path.Combine(_directory, "kubeconfig");
        File.WriteAllText(path, """
            apiVersion: v1
            kind: Config
            clusters: [{name: c, cluster: {server: "http://127.0.0.1:1"}}]
            users: [{name: u, user: {token: t}}]
            contexts: [{name: x, context: {cluster: c, user: u}}]
            current-context: x
            """);
        return path;
    }

    [Theory]
    [InlineData("KEDA_HTTP_SCALER_TARGET_ADMIN_PORT", "abc", "KEDA_HTTP_SCALER_TARGET_ADMIN_PORT=\"abc\" is not a valid port")]
    [InlineData("KEDA_HTTP_SCALER_TARGET_ADMIN_PORT", "0", "KEDA_HTTP_SCALER_TARGET_ADMIN_PORT=\"0\" is not a valid port")]
    [InlineData("KEDA_HTTP_SCALER_TARGET_ADMIN_PORT", "70000", "KEDA_HTTP_SCALER_TARGET_ADMIN_PORT=\"70000\" is not a valid port")]
    [InlineData("KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE", "Admin_Svc", "KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE=\"Admin_Svc\" is not a Service name")]
    [InlineData("KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE", "-keda", "KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE=\"-keda\" is not a namespace name")]
    [InlineData("UPDRAFT_MODE", "cluster", "UPDRAFT_MODE=\"cluster\" is not a mode")]
    [InlineData("UPDRAFT_INTERCEPTORS", "127.0.0.1:9090", "UPDRAFT_INTERCEPTORS (--interceptors) conflicts with Kubernetes mode")]
    [InlineData("UPDRAFT_ROUTES_FILE", "routes.yaml", "UPDRAFT_ROUTES_FILE (--routes) conflicts with Kubernetes mode")]
    [InlineData("UPDRAFT_KUBECONFIG", "/nonexistent/kubeconfig", "UPDRAFT_KUBECONFIG=\"/nonexistent/kubeconfig\" cannot be used")]
    public void Build_BadKubernetesModeSetting_FailsNamingTheVariableAndTheAllowedForm(string variable, string value, string expected)
    {
        var failure = Assert.Throws<StartupProblemsException>(() => ScalerApplication.Build([], Settings((variable, value))));

        var problem = Assert.Single(failure.Problems);
        Assert.StartsWith(expected, problem, StringComparison.Ordinal);
        Assert.Matches("use |unset it", problem);
    }

    [Fact]
    public void Build_BadAdminPortInStandaloneMode_StillFails()
    {
        var failure = Assert.Throws<StartupProblemsException>(() =>
            ScalerApplication.Build([], Settings(("UPDRAFT_MODE", "standalone"), ("KEDA_HTTP_SCALER_TARGET_ADMIN_PORT", "-1"))));

        Assert.StartsWith("KEDA_HTTP_SCALER_TARGET_ADMIN_PORT=\"-1\"", Assert.Single(failure.Problems), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Build_ValidKubernetesSettings_UsesTheClusterRouteSourceAndAddresses()
    {
        await using var app = ScalerApplication.Build([], Settings(("KEDA_HTTP_SCALER_TARGET_ADMIN_DEPLOYMENT", "keda-add-ons-http-interceptor")));

        Assert.IsType<ClusterInterceptorAddresses>(app.Services.GetRequiredService<IInterceptorAddresses>());
        Assert.Contains(app.Services.GetServices<IHostedService>(), service => service is KubernetesRouteSource);
        Assert.Equal("keda-add-ons-http-interceptor-admin", app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<ScalerOptions>>().Value.AdminService);
    }

    [Fact]
    public void AddKubernetesMode_NoNamespaceAndNoServiceAccount_FailsNamingTheVariable()
    {
        var options = new ScalerOptions();
        var problems = new List<string>();

        new ServiceCollection().AddKubernetesMode(options, new ClusterSettings { Mode = RunMode.Kubernetes, Kubeconfig = Kubeconfig() }, problems, Path.Combine(_directory, "missing"));

        Assert.StartsWith("KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE is required in Kubernetes mode", Assert.Single(problems), StringComparison.Ordinal);
    }

    [Fact]
    public void AddKubernetesMode_NoNamespaceInAPod_UsesThePodsNamespace()
    {
        var file = Path.Combine(_directory, "namespace");
        File.WriteAllText(file, "keda-system\n");
        var options = new ScalerOptions();
        var problems = new List<string>();

        new ServiceCollection().AddKubernetesMode(options, new ClusterSettings { Mode = RunMode.Kubernetes, Kubeconfig = Kubeconfig() }, problems, file);

        Assert.Empty(problems);
        Assert.Equal("keda-system", options.AdminNamespace);
    }

    [Theory]
    [InlineData("10.0.0.7", "10.0.0.7:9090")]
    [InlineData("fd00::7", "[fd00::7]:9090")]
    public void Addresses_PodIp_FormattedWithTheAdminPort(string ip, string expected)
    {
        var endpoints = Updraft.Kubernetes.Endpoints.EndpointSliceCatalog.Merge("keda/admin",
        [
            new Updraft.Kubernetes.Model.EndpointSlice
            {
                Metadata = new Updraft.Kubernetes.Model.KubeMetadata { Name = "s", Namespace = "keda" },
                AddressType = ip.Contains(':', StringComparison.Ordinal) ? "IPv6" : "IPv4",
                Endpoints = [new() { Addresses = [ip] }, new() { Addresses = [ip] }],
                Ports = [new() { Name = "admin", Port = 9090 }, new() { Name = "other", Port = 9091 }],
            },
        ]);

        Assert.Equal([expected], ClusterInterceptorAddresses.Addresses(endpoints, 9090));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
