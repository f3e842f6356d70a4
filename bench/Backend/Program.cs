using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

// The load benchmark's backend: the smallest useful Kestrel app. Every request gets 200 with the 2-byte body "ok"
// (what the nginx reference backend returns). Usage: Updraft.Bench.Backend <http1-port> <h2c-port>.
// It is also the collector for the tracing variant of the settings bench: POST /v1/traces (OTLP/HTTP) is read whole and
// answered 200 with an empty ExportTraceServiceResponse, as a collector that accepts everything does.
// Kestrel only speaks h2c (HTTP/2 with prior knowledge) on an HTTP/2-only cleartext endpoint, hence the second port.
var http1Port = int.Parse(args[0], CultureInfo.InvariantCulture);
var h2cPort = int.Parse(args[1], CultureInfo.InvariantCulture);
var builder = WebApplication.CreateSlimBuilder();
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.AddServerHeader = false;
    kestrel.Listen(IPAddress.Loopback, http1Port, listen => listen.Protocols = HttpProtocols.Http1);
    kestrel.Listen(IPAddress.Loopback, h2cPort, listen => listen.Protocols = HttpProtocols.Http2);
});
var app = builder.Build();
var body = "ok"u8.ToArray();
app.MapPost("/v1/traces", async context =>
{
    await context.Request.Body.CopyToAsync(Stream.Null, context.RequestAborted);
    context.Response.ContentType = "application/x-protobuf";
    context.Response.ContentLength = 0;
});
app.Run(context =>
{
    context.Response.ContentLength = body.Length;
    context.Response.ContentType = "text/plain";
    return context.Response.Body.WriteAsync(body, context.RequestAborted).AsTask();
});
app.Run();
