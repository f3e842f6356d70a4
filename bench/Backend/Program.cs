using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// The load benchmark's backend: the smallest useful Kestrel app. Every request gets 200 with the 2-byte body "ok"
// (what the nginx reference backend returns). Usage: Updraft.Bench.Backend <http1-port> <h2c-port>.
// It is also the collector for the tracing variant of the settings bench: POST /v1/traces (OTLP/HTTP) is read whole and
// answered 200 with an empty ExportTraceServiceResponse, as a collector that accepts everything does.
// Kestrel only speaks h2c (HTTP/2 with prior knowledge) on an HTTP/2-only cleartext endpoint, hence the second port.
// Usage: Updraft.Bench.Backend replica: the local benchmark's replica program. One HTTP/1.1 port taken from $PORT (as
// the local autoscaler hands it to each replica), and one line `listening-at-unix-us <microseconds since the Unix
// epoch>` on stdout once Kestrel listens (the host's "Now listening on", right after the port is bound); and after each
// request, `request-us <path> <accepted> <handler> <written>`: its connection reaching the app, the request reaching
// the app's handler, and the response written. The benchmark splits a cold start on these wall-clock moments.
const string AcceptedKey = "accepted-us";
var replica = args is ["replica"];
if (!replica && args.Length != 2)
{
    Console.Error.WriteLine("usage: Updraft.Bench.Backend <http1-port> <h2c-port> | replica (port from $PORT)");
    return 2;
}

var http1Port = int.Parse(replica ? Environment.GetEnvironmentVariable("PORT") ?? "" : args[0], CultureInfo.InvariantCulture);
var h2cPort = replica ? 0 : int.Parse(args[1], CultureInfo.InvariantCulture);
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
if (replica)
{
    builder.Logging.AddProvider(new Updraft.Bench.Backend.ListeningMoment(() => Console.WriteLine("listening-at-unix-us " + Text(UnixMicroseconds()))));
}
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Listen(IPAddress.Loopback, http1Port, listen =>
    {
        listen.Protocols = HttpProtocols.Http1;
        if (replica)
        {
            listen.Use(next => connection =>
            {
                connection.Items[AcceptedKey] = UnixMicroseconds();
                return next(connection);
            });
        }
    });
    if (!replica)
    {
        kestrel.Listen(IPAddress.Loopback, h2cPort, listen => listen.Protocols = HttpProtocols.Http2);
    }
});
var app = builder.Build();
var body = "ok"u8.ToArray();
if (replica)
{
    app.Use(async (context, next) =>
    {
        var handler = UnixMicroseconds();
        await next(context);
        var written = UnixMicroseconds();
        var accepted = context.Features.Get<IConnectionItemsFeature>()?.Items.TryGetValue(AcceptedKey, out var value) == true ? (long)value! : handler;
        Console.WriteLine("request-us " + context.Request.Path + " " + Text(accepted) + " " + Text(handler) + " " + Text(written));
    });
}
else
{
    app.MapPost("/v1/traces", async context =>
    {
        await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
        context.Response.ContentType = "application/x-protobuf";
        context.Response.ContentLength = 0;
    });
}

app.Run(context =>
{
    context.Response.ContentLength = body.Length;
    context.Response.ContentType = "text/plain";
    return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
});
app.Run();
return 0;

static long UnixMicroseconds() => (DateTime.UtcNow - DateTime.UnixEpoch).Ticks / 10;

static string Text(long value) => value.ToString(CultureInfo.InvariantCulture);
