using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Yarp.ReverseProxy.Configuration;

// The alternative a .NET developer would reach for: YARP configured the usual way, AddReverseProxy().LoadFromMemory
// with one catch-all route and one cluster, MapReverseProxy(), the default pipeline and defaults everywhere else.
// Two deliberate settings, so the comparison is about proxying: log level Warning (the interceptor runs with
// UPDRAFT_LOG_LEVEL=Warning; YARP logs every request at Information), and a second, HTTP/2-only port for h2c
// (Kestrel speaks h2c only there). Usage: Updraft.Bench.YarpProxy <http1-port> <h2c-port> <upstream-url>.
var http1Port = int.Parse(args[0], CultureInfo.InvariantCulture);
var h2cPort = int.Parse(args[1], CultureInfo.InvariantCulture);
var upstream = args[2];

var builder = WebApplication.CreateBuilder();
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.WebHost.ConfigureKestrel(kestrel =>
{
    kestrel.Listen(IPAddress.Loopback, http1Port, listen => listen.Protocols = HttpProtocols.Http1);
    kestrel.Listen(IPAddress.Loopback, h2cPort, listen => listen.Protocols = HttpProtocols.Http2);
});
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "backend", Match = new RouteMatch { Path = "{**catch-all}" } }],
    [new ClusterConfig { ClusterId = "backend", Destinations = new Dictionary<string, DestinationConfig> { ["backend"] = new() { Address = upstream } } }]);
var app = builder.Build();
app.MapReverseProxy();
app.Run();
