// A tiny upstream for the standalone demo: it answers every request with what it received, so you can see what
// the interceptor forwards. GET /sse streams a few server-sent events; ?delay=500ms holds the response.
using System.Text.Json;
using Updraft.Shared.Durations;

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var app = builder.Build();

app.MapGet("/sse", async context =>
{
    context.Response.ContentType = "text/event-stream";
    for (var i = 1; i <= 5 && !context.RequestAborted.IsCancellationRequested; i++)
    {
        await context.Response.WriteAsync($"data: event {i}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
        await Task.Delay(500, context.RequestAborted);
    }
});

// Every other path and method: a catch-all route rather than terminal middleware, which would answer before the
// endpoints (/sse included) ever ran.
app.Map("/{**path}", async context =>
{
    if (GoDuration.TryParse(context.Request.Query["delay"], out var delay) && delay > TimeSpan.Zero)
    {
        await Task.Delay(delay, context.RequestAborted);
    }

    var headers = new SortedDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
    foreach (var (name, value) in context.Request.Headers)
    {
        headers[name] = value.ToString();
    }

    context.Response.ContentType = "application/json";
    await JsonSerializer.SerializeAsync(context.Response.Body, new
    {
        method = context.Request.Method,
        path = context.Request.Path.Value,
        query = context.Request.QueryString.Value,
        headers,
    }, new JsonSerializerOptions { WriteIndented = true }, context.RequestAborted);
});

app.Run();
