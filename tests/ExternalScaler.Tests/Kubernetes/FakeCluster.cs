using System.Net;
using System.Text.Json.Nodes;
using Updraft.ExternalScaler.Tests.Infrastructure;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.ExternalScaler.Tests.Kubernetes;

/// <summary>
/// A fake API server holding InterceptorRoutes and the interceptor admin Service's EndpointSlices, and a scaler in
/// Kubernetes mode pointed at it through a kubeconfig (as outside a pod).
/// </summary>
internal sealed class FakeCluster : IAsyncDisposable
{
    public const string AdminNamespace = "keda";
    public const string AdminService = "keda-add-ons-http-interceptor-admin";
    public const string InterceptorRoutes = "/apis/http.keda.sh/v1beta1/interceptorroutes";
    public const string EndpointSlices = "/apis/discovery.k8s.io/v1/endpointslices";

    private readonly string _directory;

    private FakeCluster(FakeApiServer api, string directory)
    {
        Api = api;
        _directory = directory;
        Kubeconfig = api.WriteKubeconfig(Path.Combine(directory, "kubeconfig"));
    }

    public FakeApiServer Api { get; }

    public string Kubeconfig { get; }

    public static async Task<FakeCluster> StartAsync() =>
        new(await FakeApiServer.StartAsync(), Directory.CreateTempSubdirectory("updraft-scaler-k8s-").FullName);

    /// <summary>The settings of a scaler in Kubernetes mode whose interceptors listen on <paramref name="adminPort"/>.</summary>
    public Dictionary<string, string?> Settings(int adminPort) => new()
    {
        ["UPDRAFT_MODE"] = "kubernetes",
        ["UPDRAFT_KUBECONFIG"] = Kubeconfig,
        ["UPDRAFT_ROUTES_FILE"] = null,
        ["UPDRAFT_INTERCEPTORS"] = null,
        ["KEDA_HTTP_SCALER_TARGET_ADMIN_NAMESPACE"] = AdminNamespace,
        ["KEDA_HTTP_SCALER_TARGET_ADMIN_PORT"] = adminPort.ToString(System.Globalization.CultureInfo.InvariantCulture),
        // The default tick and stream interval, not the harness's fast tick: a replica whose first snapshot takes longer
        // than the stream's silence limit (2 ticks) is polled for 30 s instead, which a loaded machine must not cause.
        ["KEDA_HTTP_QUEUE_TICK_DURATION"] = "500ms",
        ["KEDA_HTTP_SCALER_STREAM_INTERVAL_MS"] = "200",
    };

    /// <summary>Starts the scaler (without waiting for counts: readiness is what some tests look at).</summary>
    public Task<ScalerHarness> StartScalerAsync(int adminPort) =>
        ScalerHarness.StartAsync("", interceptors: 0, settings: Settings(adminPort), waitForCounts: false);

    /// <summary>An InterceptorRoute in namespace <c>default</c>; <paramref name="portName"/> as well as a port makes it invalid.</summary>
    public void UpsertRoute(string name, int concurrencyTarget = 10, string? portName = null)
    {
        var target = new JsonObject { ["service"] = name, ["port"] = 8080 };
        if (portName is not null)
        {
            target["portName"] = portName;
        }

        Api.Upsert(InterceptorRoutes, new JsonObject
        {
            ["apiVersion"] = "http.keda.sh/v1beta1",
            ["kind"] = "InterceptorRoute",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
            ["spec"] = new JsonObject
            {
                ["target"] = target,
                ["scalingMetric"] = new JsonObject { ["concurrency"] = new JsonObject { ["targetValue"] = concurrencyTarget } },
                ["rules"] = new JsonArray(new JsonObject { ["hosts"] = new JsonArray(JsonValue.Create(name + ".example.com")) }),
            },
        });
    }

    /// <summary>An EndpointSlice of the admin Service listing <paramref name="endpoints"/> on <paramref name="adminPort"/>.</summary>
    public void UpsertSlice(string name, int adminPort, params (IPAddress Ip, bool Ready)[] endpoints)
    {
        var list = new JsonArray();
        foreach (var (ip, ready) in endpoints)
        {
            list.Add(new JsonObject
            {
                ["addresses"] = new JsonArray(JsonValue.Create(ip.ToString())),
                ["conditions"] = new JsonObject { ["ready"] = ready, ["serving"] = ready, ["terminating"] = false },
            });
        }

        Api.Upsert(EndpointSlices, new JsonObject
        {
            ["apiVersion"] = "discovery.k8s.io/v1",
            ["kind"] = "EndpointSlice",
            ["metadata"] = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = AdminNamespace,
                ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = AdminService },
            },
            ["addressType"] = "IPv4",
            ["endpoints"] = list,
            ["ports"] = new JsonArray(new JsonObject { ["name"] = "admin", ["port"] = adminPort, ["protocol"] = "TCP" }),
        });
    }

    public void DeleteSlice(string name) => Api.Delete(EndpointSlices, AdminNamespace, name);

    public async ValueTask DisposeAsync()
    {
        await Api.DisposeAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
