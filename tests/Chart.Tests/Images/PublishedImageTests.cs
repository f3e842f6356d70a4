using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Grpc.Health.V1;
using Grpc.Net.Client;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Updraft.Chart.Tests.Infrastructure;
using Updraft.Kubernetes.Model;
using Updraft.Protos.ExternalScaler;
using Updraft.Protos.V1;
using Updraft.Tests.Common;
using Updraft.Tests.Common.Kubernetes;
using Xunit.Abstractions;
using KedaScaler = Updraft.Protos.ExternalScaler.ExternalScaler;

namespace Updraft.Chart.Tests.Images;

/// <summary>
/// Base images cannot be pulled here, so what each image runs is tested instead: the component built as its
/// Dockerfile's build stage builds it, started as its <c>ENTRYPOINT</c> from that publish directory made read-only,
/// as a non-root user (uid 65534 when the tests run as root), with the base image's and the Dockerfile's environment,
/// <c>TMPDIR</c> at a fresh directory of that user's (the chart's <c>/tmp</c> emptyDir) and <c>HOME</c> at one it cannot
/// write. Each becomes ready, serves, runs with that uid and no capabilities, exits 0 on SIGTERM, and has written
/// nothing outside its temp directory: not in the publish directory, its home or its config files, and not in any
/// world-writable directory of the machine. In the kube-apiserver collection because the operator needs the server
/// (and runs one at a time with the other tests that start components).
/// </summary>
[Collection(RealApiServerDefinition.Name)]
[SupportedOSPlatform("linux")]
public sealed class PublishedImageTests(RealApiServer api, PublishedImages images, ITestOutputHelper output) : IClassFixture<PublishedImages>
{
    /// <summary>Generous: start-up on a loaded 2-core machine, JIT and all.</summary>
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task Interceptor_RunAsItsImage_ServesAsNonRootAndWritesOnlyToItsTempDirectory()
    {
        var image = await BuildAsync("Interceptor");
        var sandbox = await ImageSandbox.CreateAsync(images.Root, "interceptor");
        // The TLS listener too, and a TLS upstream behind it (a request that arrives over TLS leaves over TLS, here
        // through YARP): the binary's TLS comes from the system's OpenSSL, which the base image must carry.
        using var certificate = SelfSigned("echo.images.test");
        var certificatePath = sandbox.WriteConfig("tls.crt", certificate.ExportCertificatePem());
        var keyPath = sandbox.WriteConfig("tls.key", certificate.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        await using var upstream = await UpstreamAsync();
        await using var secureUpstream = await UpstreamAsync(certificate);
        var routes = sandbox.WriteConfig("routes.yaml", FileRoute("echo", upstream.Port) + "---\n" + FileRoute("secure", secureUpstream.Port));
        var before = await sandbox.WatchAsync(image);
        var (proxyPort, adminPort, metricsPort, tlsPort) = (ComponentProcess.FreePort(), ComponentProcess.FreePort(), ComponentProcess.FreePort(), ComponentProcess.FreePort());

        await using var interceptor = ImageProcess.Start(image, sandbox, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["KEDA_HTTP_PROXY_PORT"] = Text(proxyPort),
            ["KEDA_HTTP_ADMIN_PORT"] = Text(adminPort),
            ["OTEL_PROM_EXPORTER_PORT"] = Text(metricsPort),
            ["KEDA_HTTP_PROXY_TLS_ENABLED"] = "true",
            ["KEDA_HTTP_PROXY_TLS_PORT"] = Text(tlsPort),
            ["KEDA_HTTP_PROXY_TLS_CERT_PATH"] = certificatePath,
            ["KEDA_HTTP_PROXY_TLS_KEY_PATH"] = keyPath,
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = "0s",
            ["KEDA_HTTP_DRAIN_TIMEOUT"] = "5s",
        }, "--routes", routes);
        var pid = interceptor.Id;
        await Eventually.TrueAsync(async () => await StatusAsync(adminPort, "/readyz") == HttpStatusCode.OK, () => "the interceptor is ready:\n" + interceptor.Describe(), ReadyTimeout);

        AssertUnprivileged(interceptor, sandbox.User);
        using (var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
        {
            using var proxied = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxyPort}/hello") { Headers = { Host = "echo.images.test" } };
            using var response = await client.SendAsync(proxied);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("upstream GET /hello", await response.Content.ReadAsStringAsync());
            using var unknown = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxyPort}/") { Headers = { Host = "unknown.images.test" } };
            using var notFound = await client.SendAsync(unknown);
            Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
        }

        string? presented = null;
        using (var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, serverCertificate, _, _) => (presented = serverCertificate?.Thumbprint) == certificate.Thumbprint,
        })
        using (var tlsClient = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) })
        {
            using var overTls = new HttpRequestMessage(HttpMethod.Get, $"https://127.0.0.1:{tlsPort}/secure") { Headers = { Host = "secure.images.test" } };
            using var response = await tlsClient.SendAsync(overTls);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("upstream GET /secure over TLS", await response.Content.ReadAsStringAsync());
            Assert.Equal(certificate.Thumbprint, presented);
        }

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(metricsPort, "/metrics"));
        await AssertWroteOnlyToTempAsync(sandbox, image, before, pid, interceptor, "while running");
        Assert.Equal(0, await interceptor.StopAsync());
        await AssertWroteOnlyToTempAsync(sandbox, image, before, pid, interceptor, "after it exited");
    }

    private static X509Certificate2 SelfSigned(string dnsName)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=" + dnsName, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(dnsName);
        request.CertificateExtensions.Add(names.Build());
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    /// <summary>
    /// The image's binary (Native AOT: every Kubernetes object it reads is bound by source-generated JSON, nothing by
    /// reflection) in Kubernetes mode against the real kube-apiserver: it lists and watches the InterceptorRoutes,
    /// Services and EndpointSlices of its namespace, routes to the ready endpoint, and follows a route created later.
    /// </summary>
    [Fact]
    public async Task Interceptor_RunAsItsImageInKubernetesMode_RoutesByTheClustersObjects()
    {
        const string Namespace = "image-interceptor";
        var image = await BuildAsync("Interceptor");
        await api.ApplyCrdsAsync();
        await api.EnsureNamespaceAsync(Namespace);
        var sandbox = await ImageSandbox.CreateAsync(images.Root, "interceptor-kube");
        var kubeconfig = sandbox.WriteConfig("kubeconfig", await File.ReadAllTextAsync(api.Kubeconfig));
        await using var upstream = await UpstreamAsync();
        var slices = ApiResource.EndpointSlicesV1Beta1;
        await api.CreateAsync(ApiResource.Services.Path(Namespace), Json($$$"""
            {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "echo", "namespace": "{{{Namespace}}}"},
             "spec": {"ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}}
            """));
        await api.CreateAsync(slices.Path(Namespace), Json($$$"""
            {"apiVersion": "{{{slices.GroupVersion}}}", "kind": "EndpointSlice",
             "metadata": {"name": "echo-1", "namespace": "{{{Namespace}}}", "labels": {"kubernetes.io/service-name": "echo"}},
             "addressType": "IPv4",
             "endpoints": [{"addresses": ["127.0.0.1"], "conditions": {"ready": true}}],
             "ports": [{"name": "http", "port": {{{upstream.Port}}}, "protocol": "TCP"}]}
            """));
        await api.CreateAsync(ApiResource.InterceptorRoutes.Path(Namespace), Route(Namespace, "echo", "echo.kube.test"));
        var (proxyPort, adminPort, metricsPort) = (ComponentProcess.FreePort(), ComponentProcess.FreePort(), ComponentProcess.FreePort());

        await using var interceptor = ImageProcess.Start(image, sandbox, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["UPDRAFT_MODE"] = "kubernetes",
            ["UPDRAFT_KUBECONFIG"] = kubeconfig,
            ["KEDA_HTTP_WATCH_NAMESPACE"] = Namespace,
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["KEDA_HTTP_PROXY_PORT"] = Text(proxyPort),
            ["KEDA_HTTP_ADMIN_PORT"] = Text(adminPort),
            ["OTEL_PROM_EXPORTER_PORT"] = Text(metricsPort),
            ["KEDA_HTTP_SHUTDOWN_DELAY"] = "0s",
            ["KEDA_HTTP_DRAIN_TIMEOUT"] = "5s",
        });
        await Eventually.TrueAsync(async () => await StatusAsync(adminPort, "/readyz") == HttpStatusCode.OK, () => "the interceptor is ready:\n" + interceptor.Describe(), ReadyTimeout);

        AssertUnprivileged(interceptor, sandbox.User);
        Assert.Equal((HttpStatusCode.OK, "upstream GET /hello"), await ProxiedAsync(proxyPort, "echo.kube.test", "/hello"));
        Assert.Equal(HttpStatusCode.NotFound, (await ProxiedAsync(proxyPort, "late.kube.test", "/")).Status);

        await api.CreateAsync(ApiResource.InterceptorRoutes.Path(Namespace), Route(Namespace, "late", "late.kube.test"));
        await Eventually.TrueAsync(
            async () => await ProxiedAsync(proxyPort, "late.kube.test", "/later") == (HttpStatusCode.OK, "upstream GET /later"),
            () => "a route created later serves:\n" + interceptor.Describe(),
            ReadyTimeout);

        // The counts stream the scaler subscribes to (gRPC on the admin port): the first snapshot is full.
        using (var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{adminPort}"))
        {
            using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            using var call = new InterceptorCounts.InterceptorCountsClient(channel).WatchCounts(new WatchCountsRequest(), cancellationToken: cancel.Token);
            Assert.True(await call.ResponseStream.MoveNext(cancel.Token));
            var snapshot = call.ResponseStream.Current;
            Assert.True(snapshot.Full);
            Assert.Equal(
                [($"{Namespace}/echo", 1L), ($"{Namespace}/late", 1L)],
                snapshot.Routes.Select(r => (r.Key, r.RequestCount)).Order());
        }

        Assert.Equal(0, await interceptor.StopAsync());
    }

    [Fact]
    public async Task ExternalScaler_RunAsItsImage_ServesAsNonRootAndWritesOnlyToItsTempDirectory()
    {
        var image = await BuildAsync("ExternalScaler");
        var sandbox = await ImageSandbox.CreateAsync(images.Root, "scaler");
        var routes = sandbox.WriteConfig("routes.yaml", """
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {name: echo, namespace: images}
            spec:
              target: {service: 127.0.0.1, port: 8080}
              rules:
                - hosts: [echo.images.test]
              scalingMetric:
                concurrency: {targetValue: 7}
            """);
        var before = await sandbox.WatchAsync(image);
        var (grpcPort, metricsPort) = (ComponentProcess.FreePort(), ComponentProcess.FreePort());

        await using var scaler = ImageProcess.Start(image, sandbox, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["KEDA_HTTP_SCALER_PORT"] = Text(grpcPort),
            ["OTEL_PROM_EXPORTER_PORT"] = Text(metricsPort),
        }, "--routes", routes);
        var pid = scaler.Id;
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var health = new Health.HealthClient(channel);
        await Eventually.TrueAsync(async () => await ServingAsync(health, "readiness"), () => "the scaler is ready:\n" + scaler.Describe(), ReadyTimeout);

        AssertUnprivileged(scaler, sandbox.User);
        Assert.True(await ServingAsync(health, "liveness"));
        var keda = new KedaScaler.ExternalScalerClient(channel);
        var spec = await keda.GetMetricSpecAsync(
            new ScaledObjectRef { Name = "echo", Namespace = "images", ScalerMetadata = { ["interceptorRoute"] = "echo" } },
            deadline: DateTime.UtcNow.AddSeconds(30));
        Assert.Equal(("http_echo_concurrency", 7.0), (spec.MetricSpecs.Single().MetricName, spec.MetricSpecs.Single().TargetSizeFloat));
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(metricsPort, "/metrics"));
        await AssertWroteOnlyToTempAsync(sandbox, image, before, pid, scaler, "while running");
        Assert.Equal(0, await scaler.StopAsync());
        await AssertWroteOnlyToTempAsync(sandbox, image, before, pid, scaler, "after it exited");
    }

    [Fact]
    public async Task Operator_RunAsItsImage_ReconcilesAsNonRootAndWritesOnlyToItsTempDirectory()
    {
        const string Namespace = "image-operator";
        var image = await BuildAsync("Operator");
        await api.ApplyCrdsWithKedaAsync();
        await api.EnsureNamespaceAsync(Namespace);
        var sandbox = await ImageSandbox.CreateAsync(images.Root, "operator");
        var kubeconfig = sandbox.WriteConfig("kubeconfig", await File.ReadAllTextAsync(api.Kubeconfig));
        var before = await sandbox.WatchAsync(image);
        var (healthPort, metricsPort) = (ComponentProcess.FreePort(), ComponentProcess.FreePort());

        // The chart's argument (--leader-elect): the Lease is written in the operator's namespace.
        await using var op = ImageProcess.Start(image, sandbox, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["UPDRAFT_KUBECONFIG"] = kubeconfig,
            ["KEDA_HTTP_OPERATOR_NAMESPACE"] = Namespace,
            ["UPDRAFT_OPERATOR_HEALTH_PROBE_BIND_ADDRESS"] = "127.0.0.1:" + Text(healthPort),
            ["UPDRAFT_OPERATOR_METRICS_BIND_ADDRESS"] = "127.0.0.1:" + Text(metricsPort),
            ["UPDRAFT_KUBE_RETRY_MAX"] = "500ms",
        }, "--leader-elect");
        var pid = op.Id;
        try
        {
            await Eventually.TrueAsync(async () => await StatusAsync(healthPort, "/readyz") == HttpStatusCode.OK, () => "the operator is ready:\n" + op.Describe(), ReadyTimeout);

            AssertUnprivileged(op, sandbox.User);
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(healthPort, "/healthz"));
            Assert.Equal(HttpStatusCode.OK, await StatusAsync(metricsPort, "/metrics"));
            await Eventually.TrueAsync(
                async () => await api.GetAsync($"/apis/coordination.k8s.io/v1/namespaces/{Namespace}/leases/updraft-operator") is not null,
                () => "the operator holds its Lease:\n" + op.Describe(),
                ReadyTimeout);
            await api.CreateAsync($"/apis/http.keda.sh/v1alpha1/namespaces/{Namespace}/httpscaledobjects", HttpScaledObject(Namespace, "app"));
            await Eventually.TrueAsync(
                async () => await api.GetAsync($"/apis/keda.sh/v1alpha1/namespaces/{Namespace}/scaledobjects/app") is not null,
                () => "the operator writes the HTTPScaledObject's ScaledObject:\n" + op.Describe(),
                ReadyTimeout);
            await AssertWroteOnlyToTempAsync(sandbox, image, before, pid, op, "while running");
            Assert.Equal(0, await op.StopAsync());
        }
        finally
        {
            await api.DeleteAsync($"/apis/http.keda.sh/v1alpha1/namespaces/{Namespace}/httpscaledobjects/app");
            await api.DeleteAsync($"/apis/keda.sh/v1alpha1/namespaces/{Namespace}/scaledobjects/app");
        }

        await AssertWroteOnlyToTempAsync(sandbox, image, before, pid, op, "after it exited");
    }

    private async Task<PublishedImage> BuildAsync(string component)
    {
        var image = await images.GetAsync(component);
        output.WriteLine($"{component}: built by the steps of {Path.GetRelativePath(Repository.Root(), image.Dockerfile.Path)} in {image.BuildTime.TotalSeconds:0.0} s (once per test class)");
        // The chart mounts its emptyDir at /tmp; the sandbox's temp directory stands in for it.
        Assert.Equal("/tmp", image.Dockerfile.Environment["TMPDIR"]);
        return image;
    }

    /// <summary>The user the sandbox asked for, in every uid and gid slot, no supplementary groups, no capabilities.</summary>
    private static void AssertUnprivileged(ImageProcess process, ImageUser user)
    {
        var status = process.Status();
        var uid = Text(user.Uid);
        Assert.Equal([uid, uid, uid, uid], status["Uid"].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        Assert.NotEqual("0", status["Uid"].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0]);
        if (user.Switch)
        {
            Assert.Equal([uid, uid, uid, uid], status["Gid"].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal("", status["Groups"]);
        }

        Assert.Equal("0000000000000000", status["CapEff"]);
    }

    /// <summary>
    /// Checked while the component runs (sockets and temp files vanish at exit) and again after it exited.
    /// </summary>
    private async Task AssertWroteOnlyToTempAsync(ImageSandbox sandbox, PublishedImage image, ImageSandbox.Watched before, int pid, ImageProcess process, string when)
    {
        var writes = await sandbox.WritesSinceAsync(image, before, pid);
        Assert.True(writes.Count == 0, $"written outside TMPDIR ({when}):\n" + string.Join('\n', writes) + "\n\noutput:\n" + process.Describe());
        var temp = sandbox.TempEntries().ToList();
        output.WriteLine($"{image.Component}: uid {Text(sandbox.User.Uid)}, {when}: nothing written outside TMPDIR; TMPDIR holds {(temp.Count == 0 ? "nothing" : string.Join(", ", temp))}");
    }

    private static JsonObject HttpScaledObject(string ns, string name) => new()
    {
        ["apiVersion"] = "http.keda.sh/v1alpha1",
        ["kind"] = "HTTPScaledObject",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns },
        ["spec"] = new JsonObject
        {
            ["hosts"] = new JsonArray(name + ".images.test"),
            ["scaleTargetRef"] = new JsonObject { ["name"] = name, ["kind"] = "Deployment", ["apiVersion"] = "apps/v1", ["service"] = name, ["port"] = 8080 },
            ["replicas"] = new JsonObject { ["min"] = 0, ["max"] = 3 },
        },
    };

    /// <summary>A Kestrel upstream on a loopback port that answers every request with its method and path.</summary>
    /// <param name="certificate">Serve HTTPS with it; null for plain HTTP.</param>
    private static async Task<Upstream> UpstreamAsync(X509Certificate2? certificate = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificate is not null)
            {
                listen.UseHttps(certificate);
            }
        }));
        var app = builder.Build();
        app.Run(context => context.Response.WriteAsync($"upstream {context.Request.Method} {context.Request.Path}{(context.Request.IsHttps ? " over TLS" : "")}"));
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new Upstream(app, new Uri(address).Port);
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>A routes-file InterceptorRoute for host NAME.images.test.</summary>
    private static string FileRoute(string name, int port) => $$"""
        apiVersion: http.keda.sh/v1beta1
        kind: InterceptorRoute
        metadata: {name: {{name}}, namespace: images}
        spec:
          target: {service: 127.0.0.1, port: {{port}}}
          rules:
            - hosts: [{{name}}.images.test]
          scalingMetric:
            concurrency: {targetValue: 100}

        """;

    private static JsonObject Json(string text) => JsonNode.Parse(text)!.AsObject();

    private static JsonObject Route(string ns, string name, string host) => Json($$$"""
        {"apiVersion": "http.keda.sh/v1beta1", "kind": "InterceptorRoute", "metadata": {"name": "{{{name}}}", "namespace": "{{{ns}}}"},
         "spec": {"target": {"service": "echo", "port": 80}, "rules": [{"hosts": ["{{{host}}}"]}],
                  "scalingMetric": {"concurrency": {"targetValue": 10} } } }
        """);

    /// <summary>A GET through the proxy port with <paramref name="host"/>: its status and body.</summary>
    private static async Task<(HttpStatusCode Status, string Body)> ProxiedAsync(int port, string host, string path)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}{path}") { Headers = { Host = host } };
        using var response = await client.SendAsync(request);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static async Task<HttpStatusCode> StatusAsync(int port, string path)
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

    private sealed class Upstream(WebApplication app, int port) : IAsyncDisposable
    {
        public int Port => port;

        public ValueTask DisposeAsync() => app.DisposeAsync();
    }
}
