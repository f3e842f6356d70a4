using System.Text;
using Microsoft.Net.Http.Headers;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.ColdStart;

/// <summary>
/// A placeholder or static-route response, encoded once when the routing table is built: status (the context's
/// default when the route does not say), inline body and headers (set, replacing any of the same name).
/// </summary>
/// <remarks>
/// Without a configured <c>Content-Type</c>, a non-empty body gets <c>text/html; charset=utf-8</c> when it starts
/// with <c>&lt;</c> and <c>text/plain; charset=utf-8</c> otherwise (the add-on leaves this to Go's content sniffing).
/// <c>bodyFromConfigMap</c> needs a cluster: in standalone mode such a response is a 500
/// <c>Internal Server Error</c>, as the add-on answers for a missing ConfigMap, and the route is logged at load.
/// </remarks>
internal sealed class PreparedResponse
{
    private static readonly byte[] InternalServerErrorBody = "Internal Server Error\n"u8.ToArray();

    private readonly int _status;
    private readonly byte[] _body;
    private readonly KeyValuePair<string, string>[] _headers;
    private readonly string? _contentType;

    public PreparedResponse(StaticResponseDefinition definition, int defaultStatus)
    {
        _status = definition.StatusCode ?? defaultStatus;
        _body = Encoding.UTF8.GetBytes(definition.Body ?? "");
        _headers = [.. definition.Headers];
        NeedsConfigMap = definition.ConfigMapName is not null;
        if (!definition.Headers.ContainsKey(HeaderNames.ContentType) && _body.Length > 0)
        {
            _contentType = definition.Body!.TrimStart().StartsWith('<') ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
        }
    }

    /// <summary>The body lives in a ConfigMap, which standalone mode cannot read.</summary>
    public bool NeedsConfigMap { get; }

    public Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.Clear();
        if (NeedsConfigMap)
        {
            response.StatusCode = StatusCodes.Status500InternalServerError;
            response.ContentType = "text/plain; charset=utf-8";
            response.Headers.XContentTypeOptions = "nosniff";
            response.ContentLength = InternalServerErrorBody.Length;
            return response.Body.WriteAsync(InternalServerErrorBody, 0, InternalServerErrorBody.Length, context.RequestAborted);
        }

        response.StatusCode = _status;
        if (_contentType is not null)
        {
            response.ContentType = _contentType;
        }

        foreach (var (name, value) in _headers)
        {
            response.Headers[name] = value;
        }

        if (_status is < 200 or 204 or 304)
        {
            return Task.CompletedTask; // statuses that carry no body
        }

        response.ContentLength = _body.Length;
        return _body.Length == 0 || HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : response.Body.WriteAsync(_body, 0, _body.Length, context.RequestAborted);
    }
}
