using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Updraft.Chart.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Chart.Tests.Cluster;

/// <summary>
/// <c>helm install</c> into the real kube-apiserver creates every object, CRDs included; each component then runs as a
/// local process with the environment the chart gave its container and a token of its chart ServiceAccount (minted
/// through the TokenRequest API), and reaches ready: the chart's RBAC is enough. A write its role does not allow is
/// refused: it is no more. <c>helm upgrade</c> with changed values and <c>helm uninstall</c> leave nothing behind
/// but the CRDs.
/// </summary>
[Collection(RealApiServerDefinition.Name)]
public sealed class InstallTests(RealApiServer api) : IDisposable
{
    private const string Namespace = "chart-install";
    private const string Release = "updraft";
    // Helm 4 applies server-side by default; a 1.20 API server's apply schema does not know the CRDs' CEL rules
    // (x-kubernetes-validations, Kubernetes 1.25+) and refuses them, so clusters before 1.25 install with this flag.
    private const string ClientSideApply = "--server-side=false";
    private static readonly string[] ChartCrds =
    [
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/interceptorroutes.http.keda.sh",
        "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/httpscaledobjects.http.keda.sh",
    ];

    private readonly string _directory = Directory.CreateTempSubdirectory("updraft-chart-install-").FullName;

    [Fact]
    public async Task Install_ThenRunEachComponent_ThenUpgradeAndUninstall_LeavesOnlyTheCrds()
    {
        // KEDA's ScaledObject CRD (the operator watches ScaledObjects); the chart's own CRDs are helm's to create.
        await api.ApplyCrdsWithKedaAsync();
        foreach (var crd in ChartCrds)
        {
            await api.DeleteAsync(crd);
            await Eventually.TrueAsync(async () => await api.GetAsync(crd) is null, () => crd + " is deleted before the install");
        }

        (await Helm.RunAsync("install", Release, Helm.Chart, "--namespace", Namespace, "--create-namespace", "--kubeconfig", api.Kubeconfig, ClientSideApply))
            .EnsureSuccess("helm install");
        foreach (var crd in ChartCrds)
        {
            await Eventually.TrueAsync(
                async () => (await api.GetAsync(crd))?["status"]?["conditions"]?.AsArray().Any(c => c?["type"]?.GetValue<string>() == "Established" && c["status"]?.GetValue<string>() == "True") == true,
                () => crd + " is created by helm install and Established");
        }

        // Every object of the release exists, and the CRDs.
        var manifest = await ManifestAsync("installed");
        (await Helm.KubectlAsync("get", "--kubeconfig", api.Kubeconfig, "-f", manifest, "-o", "name")).EnsureSuccess("kubectl get (installed objects)");
        var interceptorDeployment = (await api.GetAsync($"/apis/apps/v1/namespaces/{Namespace}/deployments/updraft-interceptor"))!;
        var scalerDeployment = (await api.GetAsync($"/apis/apps/v1/namespaces/{Namespace}/deployments/updraft-scaler"))!;
        var operatorDeployment = (await api.GetAsync($"/apis/apps/v1/namespaces/{Namespace}/deployments/updraft-operator"))!;

        // The interceptor, as its pod would run, with its ServiceAccount's token.
        var interceptorConfig = await KubeconfigForAsync("updraft-interceptor");
        var proxyPort = ComponentProcess.FreePort();
        var adminPort = ComponentProcess.FreePort();
        var interceptorEnv = Local(ComponentProcess.EnvironmentOf(interceptorDeployment, Namespace), interceptorConfig);
        interceptorEnv["KEDA_HTTP_PROXY_PORT"] = Text(proxyPort);
        interceptorEnv["KEDA_HTTP_ADMIN_PORT"] = Text(adminPort);
        interceptorEnv["OTEL_PROM_EXPORTER_PORT"] = Text(ComponentProcess.FreePort());
        await using var interceptor = ComponentProcess.Start("Updraft.Interceptor.dll", interceptorEnv, ComponentProcess.ArgumentsOf(interceptorDeployment));
        await Eventually.TrueAsync(async () => await GetStatusAsync(adminPort, "/readyz") == HttpStatusCode.OK, () => "the interceptor is ready:\n" + string.Join('\n', interceptor.Output));

        // The scaler finds that interceptor through the admin Service's EndpointSlice, as the kubelet and the
        // EndpointSlice controller would publish it.
        await api.CreateAsync($"/apis/discovery.k8s.io/v1beta1/namespaces/{Namespace}/endpointslices", new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1beta1",
            ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject { ["name"] = "updraft-interceptor-admin-local", ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = "updraft-interceptor-admin" } },
            ["addressType"] = "IPv4",
            ["endpoints"] = new JsonArray(new JsonObject { ["addresses"] = new JsonArray("127.0.0.1"), ["conditions"] = new JsonObject { ["ready"] = true } }),
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "admin", ["port"] = adminPort, ["protocol"] = "TCP" }),
        });
        var scalerConfig = await KubeconfigForAsync("updraft-scaler");
        var grpcPort = ComponentProcess.FreePort();
        var scalerEnv = Local(ComponentProcess.EnvironmentOf(scalerDeployment, Namespace), scalerConfig);
        Assert.Equal("updraft-interceptor-admin", scalerEnv["KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE"]);
        Assert.Equal(Namespace, scalerEnv["KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE"]);
        scalerEnv["KEDA_HTTP_SCALER_PORT"] = Text(grpcPort);
        scalerEnv["KEDA_HTTP_SCALER_TARGET_ADMIN_PORT"] = Text(adminPort);
        scalerEnv["OTEL_PROM_EXPORTER_PORT"] = Text(ComponentProcess.FreePort());
        await using var scaler = ComponentProcess.Start("Updraft.ExternalScaler.dll", scalerEnv, ComponentProcess.ArgumentsOf(scalerDeployment));
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var health = new Health.HealthClient(channel);
        await Eventually.TrueAsync(
            async () => await ServingAsync(health, "readiness"),
            () => "the scaler is ready (routes listed, the interceptor heard):\n" + string.Join('\n', scaler.Output));
        Assert.True(await ServingAsync(health, "liveness"));

        // The operator, with the chart's arguments (--leader-elect) and its Lease in the release namespace.
        var operatorConfig = await KubeconfigForAsync("updraft-operator");
        var healthPort = ComponentProcess.FreePort();
        var operatorEnv = Local(ComponentProcess.EnvironmentOf(operatorDeployment, Namespace), operatorConfig);
        operatorEnv["UPDRAFT_OPERATOR_METRICS_BIND_ADDRESS"] = "127.0.0.1:" + Text(ComponentProcess.FreePort());
        operatorEnv["UPDRAFT_OPERATOR_HEALTH_PROBE_BIND_ADDRESS"] = "127.0.0.1:" + Text(healthPort);
        var operatorArgs = ComponentProcess.ArgumentsOf(operatorDeployment);
        Assert.Equal(["--leader-elect"], operatorArgs);
        await using var op = ComponentProcess.Start("Updraft.Operator.dll", operatorEnv, operatorArgs);
        await Eventually.TrueAsync(async () => await GetStatusAsync(healthPort, "/readyz") == HttpStatusCode.OK, () => "the operator is ready:\n" + string.Join('\n', op.Output));
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(healthPort, "/healthz"));
        await Eventually.TrueAsync(
            async () => await api.GetAsync($"/apis/coordination.k8s.io/v1/namespaces/{Namespace}/leases/updraft-operator") is not null,
            () => "the operator holds its Lease:\n" + string.Join('\n', op.Output));

        // No more than that: writes outside each role are refused.
        await AssertRefusedAsync(interceptorConfig, "create", "configmap", "not-allowed", "-n", Namespace);
        await AssertRefusedAsync(scalerConfig, "create", "service", "clusterip", "not-allowed", "--tcp=80:80", "-n", Namespace);
        await AssertRefusedAsync(operatorConfig, "create", "secret", "generic", "not-allowed", "-n", Namespace);
        await AssertRefusedAsync(operatorConfig, "create", "serviceaccount", "not-allowed", "-n", Namespace);

        // Upgrade: the add-on's names, no operator, three interceptors.
        (await Helm.RunAsync("upgrade", Release, Helm.Chart, "--namespace", Namespace, "--kubeconfig", api.Kubeconfig, ClientSideApply,
            "--set", "addOnCompatibleNames=true", "--set", "operator.enabled=false", "--set", "interceptor.replicas=3")).EnsureSuccess("helm upgrade");
        var upgraded = await ManifestAsync("upgraded");
        (await Helm.KubectlAsync("get", "--kubeconfig", api.Kubeconfig, "-f", upgraded, "-o", "name")).EnsureSuccess("kubectl get (upgraded objects)");
        Assert.NotNull(await api.GetAsync($"/api/v1/namespaces/{Namespace}/services/keda-add-ons-http-interceptor-proxy"));
        Assert.NotNull(await api.GetAsync($"/api/v1/namespaces/{Namespace}/services/keda-add-ons-http-external-scaler"));
        Assert.Null(await api.GetAsync($"/api/v1/namespaces/{Namespace}/services/updraft-interceptor-proxy"));
        Assert.Null(await api.GetAsync($"/apis/apps/v1/namespaces/{Namespace}/deployments/updraft-operator"));
        Assert.Null(await api.GetAsync("/apis/rbac.authorization.k8s.io/v1/clusterroles/updraft-operator"));
        Assert.Equal(3, (await api.GetAsync($"/apis/apps/v1/namespaces/{Namespace}/deployments/updraft-interceptor"))!["spec"]!["replicas"]!.GetValue<long>());
        var scalerAfter = (await api.GetAsync($"/apis/apps/v1/namespaces/{Namespace}/deployments/updraft-scaler"))!;
        Assert.Equal("keda-add-ons-http-interceptor-admin", ComponentProcess.EnvironmentOf(scalerAfter, Namespace)["KEDA_HTTP_SCALER_TARGET_ADMIN_SERVICE"]);

        // Uninstall: nothing of either version is left, except the CRDs.
        (await Helm.RunAsync("uninstall", Release, "--namespace", Namespace, "--kubeconfig", api.Kubeconfig)).EnsureSuccess("helm uninstall");
        foreach (var file in new[] { manifest, upgraded })
        {
            var left = await Helm.KubectlAsync("get", "--kubeconfig", api.Kubeconfig, "-f", file, "-o", "name", "--ignore-not-found");
            Assert.True(left.ExitCode == 0 && left.Stdout.Trim().Length == 0, $"left behind:\n{left.Output}");
        }

        var labelled = await Helm.KubectlAsync(
            "get", "--kubeconfig", api.Kubeconfig, "-A", "-o", "name", "-l", "app.kubernetes.io/instance=" + Release,
            "deployments,services,serviceaccounts,roles,rolebindings,clusterroles,clusterrolebindings,poddisruptionbudgets,secrets,configmaps");
        Assert.True(labelled.ExitCode == 0 && labelled.Stdout.Trim().Length == 0, $"left behind:\n{labelled.Output}");
        foreach (var crd in ChartCrds)
        {
            Assert.NotNull(await api.GetAsync(crd));
        }
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);

    /// <summary>The pod's environment made local: loopback, this kubeconfig, a temp directory of its own.</summary>
    private Dictionary<string, string?> Local(Dictionary<string, string?> environment, string kubeconfig)
    {
        environment["UPDRAFT_KUBECONFIG"] = kubeconfig;
        environment["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1";
        environment["UPDRAFT_KUBE_RETRY_MAX"] = "500ms";
        var temp = Path.Combine(_directory, "tmp-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(temp);
        environment["TMPDIR"] = temp;
        return environment;
    }

    /// <summary>A kubeconfig with a token of the ServiceAccount (TokenRequest API, as the kubelet mounts one).</summary>
    private async Task<string> KubeconfigForAsync(string account)
    {
        var token = (await Helm.KubectlAsync("create", "token", account, "--namespace", Namespace, "--kubeconfig", api.Kubeconfig))
            .EnsureSuccess("kubectl create token " + account).Stdout.Trim();
        Assert.NotEmpty(token);
        var path = Path.Combine(_directory, account + ".kubeconfig");
        await File.WriteAllTextAsync(path, (await File.ReadAllTextAsync(api.Kubeconfig)).Replace(RealApiServer.KnownToken, token, StringComparison.Ordinal));
        return path;
    }

    private async Task<string> ManifestAsync(string name)
    {
        var manifest = (await Helm.RunAsync("get", "manifest", Release, "--namespace", Namespace, "--kubeconfig", api.Kubeconfig)).EnsureSuccess("helm get manifest");
        var path = Path.Combine(_directory, name + ".yaml");
        await File.WriteAllTextAsync(path, manifest.Stdout);
        return path;
    }

    private static async Task AssertRefusedAsync(string kubeconfig, params string[] args)
    {
        var result = await Helm.KubectlAsync([.. args, "--kubeconfig", kubeconfig]);
        Assert.True(result.ExitCode != 0 && result.Stderr.Contains("forbidden", StringComparison.Ordinal), $"kubectl {string.Join(' ', args)} was not refused:\n{result.Output}");
    }

    private static async Task<HttpStatusCode> GetStatusAsync(int port, string path)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            using var response = await client.GetAsync($"http://127.0.0.1:{port}{path}");
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return 0;
        }
        catch (TaskCanceledException)
        {
            return 0;
        }
    }

    private static async Task<bool> ServingAsync(Health.HealthClient health, string service)
    {
        try
        {
            var response = await health.CheckAsync(new HealthCheckRequest { Service = service }, deadline: DateTime.UtcNow.AddSeconds(5));
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving;
        }
        catch (Grpc.Core.RpcException)
        {
            return false;
        }
    }
}
