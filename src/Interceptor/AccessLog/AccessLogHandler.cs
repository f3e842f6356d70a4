using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;

namespace Updraft.Interceptor.AccessLog;

/// <summary>
/// <c>KEDA_HTTP_LOG_REQUESTS=true</c>: wraps the proxy handler so that every request it answers (forwarded on either
/// path, held for a cold start, answered by a placeholder or static route, 404, rejected) gives one access-log entry,
/// queued after the response has ended. When the setting is off this type is not in the request path at all.
/// </summary>
internal sealed class AccessLogHandler(RequestDelegate next, AccessLogWriter writer, TimeProvider time)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var arrived = time.GetUtcNow();
        var original = context.Features.GetRequiredFeature<IHttpResponseBodyFeature>();
        var counting = new CountingResponseBody(original);
        context.Features.Set<IHttpResponseBodyFeature>(counting);
        try
        {
            await next(context);
        }
        finally
        {
            context.Features.Set(original);
            var request = context.Request;
            var headers = request.Headers;
            writer.Add(new AccessLogEntry(
                context.Connection.RemoteIpAddress,
                arrived,
                request.Method,
                context.Features.Get<IHttpRequestFeature>()?.RawTarget ?? request.Path.Value ?? "",
                request.Protocol,
                context.Response.StatusCode,
                counting.BytesWritten,
                headers.Referer.Count == 0 ? null : headers.Referer.ToString(),
                headers.UserAgent.Count == 0 ? null : headers.UserAgent.ToString(),
                Stopwatch.GetTimestamp() - started));
        }
    }
}
