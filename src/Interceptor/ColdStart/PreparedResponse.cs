using System.Text;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Net.Http.Headers;
using Updraft.Interceptor.Kubernetes;
using Updraft.Shared.Routes;

namespace Updraft.Interceptor.ColdStart;

/// <summary>
/// A placeholder or static-route response, encoded once when the routing table is built: status (the context's
/// default when the route does not say), inline body and headers (set, replacing any of the same name).
/// </summary>
/// <remarks>
/// Without a configured <c>Content-Type</c>, a non-empty body gets <c>text/html; charset=utf-8</c> when it starts
/// with <c>&lt;</c> and <c>text/plain; charset=utf-8</c> otherwise (the add-on leaves this to Go's content sniffing).
/// <c>bodyFromConfigMap</c> reads a labelled ConfigMap in the route's namespace at request time (Kubernetes mode),
/// with the add-on's rules: a missing ConfigMap or a missing explicit key is a 500 <c>Internal Server Error</c>;
/// without a key the key is the request path without its leading <c>/</c> (<c>index.html</c> for <c>/</c>), and a
/// missing derived key gives an empty body with the configured status; <c>Content-Type</c> follows the key's extension
/// unless a header sets it. Standalone mode has no ConfigMaps: such a response is always a 500, and the route is
/// logged at load.
/// </remarks>
internal sealed class PreparedResponse
{
    private static readonly byte[] InternalServerErrorBody = "Internal Server Error\n"u8.ToArray();
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();

    private readonly int _status;
    private readonly byte[] _body;
    private readonly KeyValuePair<string, string>[] _headers;
    private readonly string? _contentType;
    private readonly string? _configMapName;
    private readonly string? _configMapKey;
    private readonly string _namespace;
    private readonly ConfigMapBodies? _bodies;
    private readonly bool _contentTypeSet;

    /// <param name="definition">What to answer.</param>
    /// <param name="defaultStatus">The status when the definition has none.</param>
    /// <param name="namespace">The route's namespace (where its ConfigMaps live).</param>
    /// <param name="bodies">ConfigMap bodies (Kubernetes mode), or null.</param>
    public PreparedResponse(StaticResponseDefinition definition, int defaultStatus, string @namespace = "", ConfigMapBodies? bodies = null)
    {
        _namespace = @namespace;
        _bodies = bodies;
        _configMapName = definition.ConfigMapName;
        _configMapKey = definition.ConfigMapKey;
        _contentTypeSet = definition.Headers.ContainsKey(HeaderNames.ContentType);
        _status = definition.StatusCode ?? defaultStatus;
        _body = Encoding.UTF8.GetBytes(definition.Body ?? "");
        _headers = [.. definition.Headers];
        NeedsConfigMap = definition.ConfigMapName is not null;
        if (!definition.Headers.ContainsKey(HeaderNames.ContentType) && _body.Length > 0)
        {
            _contentType = definition.Body!.TrimStart().StartsWith('<') ? "text/html; charset=utf-8" : "text/plain; charset=utf-8";
        }
    }

    /// <summary>The body lives in a ConfigMap.</summary>
    public bool NeedsConfigMap { get; }

    /// <summary>True when ConfigMaps can be read (Kubernetes mode).</summary>
    public bool CanReadConfigMaps => _bodies is not null;

    public Task WriteAsync(HttpContext context)
    {
        var response = context.Response;
        response.Clear();
        var body = _body;
        var contentType = _contentType;
        if (NeedsConfigMap)
        {
            if (!TryReadConfigMap(context.Request.Path.Value, out body, out var key))
            {
                return WriteInternalServerErrorAsync(context);
            }

            contentType = _contentTypeSet || key is null || !ContentTypes.TryGetContentType(key, out var byExtension) ? null : byExtension;
        }

        response.StatusCode = _status;
        if (contentType is not null)
        {
            response.ContentType = contentType;
        }

        foreach (var (name, value) in _headers)
        {
            response.Headers[name] = value;
        }

        if (_status is < 200 or 204 or 304)
        {
            return Task.CompletedTask; // statuses that carry no body
        }

        response.ContentLength = body.Length;
        return body.Length == 0 || HttpMethods.IsHead(context.Request.Method)
            ? Task.CompletedTask
            : response.Body.WriteAsync(body, 0, body.Length, context.RequestAborted);
    }

    /// <summary>False (→ 500) when the ConfigMap or an explicit key is missing; a missing derived key is an empty body.</summary>
    private bool TryReadConfigMap(string? path, out byte[] body, out string? key)
    {
        body = [];
        key = _configMapKey;
        if (_bodies?.Find(_namespace, _configMapName!) is not { } map)
        {
            return false;
        }

        if (key is not null)
        {
            if (!map.TryGetValue(key, out body!))
            {
                body = [];
                return false;
            }

            return true;
        }

        key = (path ?? "/").TrimStart('/');
        if (key.Length == 0)
        {
            key = "index.html";
        }

        if (!map.TryGetValue(key, out body!))
        {
            body = [];
        }

        return true;
    }

    private static Task WriteInternalServerErrorAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status500InternalServerError;
        response.ContentType = "text/plain; charset=utf-8";
        response.Headers.XContentTypeOptions = "nosniff";
        response.ContentLength = InternalServerErrorBody.Length;
        return response.Body.WriteAsync(InternalServerErrorBody, 0, InternalServerErrorBody.Length, context.RequestAborted);
    }
}
