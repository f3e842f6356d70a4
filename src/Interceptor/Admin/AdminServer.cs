using System.Text.Json;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Updraft.Interceptor.Counting;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Kubernetes;
using Updraft.Interceptor.Local;
using Updraft.Interceptor.Options;
using Updraft.Interceptor.Routing;

namespace Updraft.Interceptor.Admin;

/// <summary>
/// The admin listener (<c>KEDA_HTTP_ADMIN_PORT</c>): <c>/queue</c> and the <see cref="CountsStreamService"/> gRPC
/// stream (h2c on the same port) for the scaler, <c>/readyz</c> and <c>/livez</c> for the kubelet, and a status page for
/// people (<c>/</c> or <c>/status</c>, refreshed from <c>/status.json</c>; see <see cref="StatusPage"/>). Like the
/// add-on's, it has no authentication: expose it only inside the cluster.
/// </summary>
internal sealed class AdminServer(
    IOptions<InterceptorOptions> options,
    RouteTableHolder tables,
    ReadinessState readiness,
    ActivitySignal activity,
    RouteSourceSelector sources,
    ModeInfo mode,
    TimeProvider time,
    ILoggerFactory loggerFactory,
    LocalTargets localTargets,
    LocalReplicaFeed? localFeed = null)
    : SideServer(loggerFactory)
{
    protected override string Name => "admin";

    protected override bool Enabled => true;

    protected override int ConfiguredPort => options.Value.AdminPort;

    protected override System.Net.IPAddress? BindAddress => Updraft.Shared.Settings.BindAddressSetting.Parse(options.Value.AdminBindAddress);

    protected override void ConfigureServices(IServiceCollection services)
    {
        services.AddGrpc();
        services.AddSingleton(new CountsStreamService(tables, activity, readiness, time, options.Value.MaxCountStreams));
    }

    protected override void ConfigureKestrel(KestrelServerOptions kestrel) => kestrel.AllowAlternateSchemes = true;

    protected override void ConfigureListener(ListenOptions listen) => listen.UseHttp1AndH2c();

    protected override void Map(WebApplication app)
    {
        app.MapGrpcService<CountsStreamService>();
        app.Map("/queue", WriteQueueAsync);
        app.Map("/readyz", context => WriteProbeAsync(context, readiness.NotReadyReason(tables)));
        app.Map("/livez", context => WriteProbeAsync(context, notHealthyReason: null));
        string[] readOnly = [HttpMethods.Get, HttpMethods.Head];
        app.MapMethods("/", readOnly, WriteStatusPageAsync);
        app.MapMethods("/status", readOnly, WriteStatusPageAsync);
        app.MapMethods("/status.json", readOnly, WriteStatusJsonAsync);
    }

    private StatusView TakeStatus(HttpContext context)
    {
        var interceptor = new InterceptorStatus(
            mode.IsKubernetes ? "kubernetes" : "standalone",
            readiness.NotReadyReason(tables) is null,
            readiness.IsDraining,
            tables.Version,
            tables.Age,
            RouteCount: 0,
            sources.Chosen?.Health(),
            time.GetUtcNow(),
            localFeed is null ? null : LocalReplicasStatus.Of(localFeed, localTargets));
        return StatusSnapshot.Take(tables, interceptor, StatusQuery.From(context.Request.Query), time);
    }

    private Task WriteStatusPageAsync(HttpContext context)
    {
        var html = StatusPage.Render(TakeStatus(context));
        SetStatusHeaders(context.Response, StatusPage.ContentSecurityPolicy);
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(html, context.RequestAborted);
    }

    private async Task WriteStatusJsonAsync(HttpContext context)
    {
        var view = TakeStatus(context);
        SetStatusHeaders(context.Response, StatusPage.JsonContentSecurityPolicy);
        context.Response.ContentType = "application/json; charset=utf-8";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        StatusSnapshot.WriteJson(view, writer);
        await writer.FlushAsync(context.RequestAborted);
    }

    private static void SetStatusHeaders(HttpResponse response, string policy)
    {
        response.Headers.ContentSecurityPolicy = policy;
        response.Headers.XContentTypeOptions = "nosniff";
        response.Headers.CacheControl = "no-store";
        response.Headers["Referrer-Policy"] = "no-referrer";
    }

    /// <summary><c>{"ns/name":{"Concurrency":n,"RequestCount":n}}</c> for every known route, any method, like the add-on.</summary>
    private async Task WriteQueueAsync(HttpContext context)
    {
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.BodyWriter);
        QueueSnapshot.Write(tables.Current, writer);
        await writer.FlushAsync(context.RequestAborted);
    }

    /// <summary>200 <c>OK</c>, or 503 <c>Service Unavailable: why</c>.</summary>
    private static Task WriteProbeAsync(HttpContext context, string? notHealthyReason)
    {
        context.Response.StatusCode = notHealthyReason is null ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentType = "text/plain; charset=utf-8";
        return context.Response.WriteAsync(notHealthyReason is null ? "OK" : "Service Unavailable: " + notHealthyReason, context.RequestAborted);
    }
}

/// <summary>Writes the add-on's <c>/queue</c> document from a routing snapshot.</summary>
internal static class QueueSnapshot
{
    public static void Write(RouteTable table, Utf8JsonWriter writer)
    {
        writer.WriteStartObject();
        foreach (var route in table.Routes)
        {
            writer.WriteStartObject(route.Key);
            writer.WriteNumber("Concurrency", route.Counter.Concurrency);
            writer.WriteNumber("RequestCount", route.Counter.RequestCount);
            writer.WriteEndObject();
        }

        writer.WriteEndObject();
    }
}

/// <summary>
/// Ready once the first full route set is loaded, while the routing table is confirmed current (<see cref="RouteFreshness"/>),
/// and not while the process drains.
/// </summary>
internal sealed class ReadinessState(RouteFreshness freshness) : IDisposable
{
    private readonly CancellationTokenSource _drainingStarted = new();
    private volatile bool _draining;
    private Task _sourceSynced = Task.CompletedTask;

    /// <summary>A route source that lists more than routes (Kubernetes mode) holds readiness until it has synced.</summary>
    public void WaitFor(Task synced) => _sourceSynced = synced;

    public void BeginDraining()
    {
        _draining = true;
        _drainingStarted.Cancel();
    }

    public bool IsDraining => _draining;

    /// <summary>Cancelled when draining starts (the count streams end then, so they never hold the shutdown).</summary>
    public CancellationToken Draining => _drainingStarted.Token;

    public bool IsReady(RouteTableHolder tables) => NotReadyReason(tables) is null;

    /// <summary>Null when ready; else why not, for the <c>/readyz</c> body.</summary>
    public string? NotReadyReason(RouteTableHolder tables)
    {
        if (_draining)
        {
            return "shutting down";
        }

        if (!tables.HasTable || !_sourceSynced.IsCompletedSuccessfully)
        {
            return "the routes are not loaded yet";
        }

        return freshness.Problem();
    }

    public void Dispose() => _drainingStarted.Dispose();
}
