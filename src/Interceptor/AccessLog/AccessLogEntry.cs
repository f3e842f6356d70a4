namespace Updraft.Interceptor.AccessLog;

/// <summary>What one access-log line says about a request; captured on the request path, formatted off it.</summary>
/// <param name="RemoteAddress">The client's address, or null when unknown.</param>
/// <param name="Started">When the request arrived.</param>
/// <param name="Method">The request method.</param>
/// <param name="Target">The request target as received (path and query).</param>
/// <param name="Protocol"><c>HTTP/1.1</c>, <c>HTTP/2</c>, ...</param>
/// <param name="Status">The response status (499 when the client went away first).</param>
/// <param name="Bytes">Response body bytes written to the client.</param>
/// <param name="Referer">The <c>Referer</c> header, or null.</param>
/// <param name="UserAgent">The <c>User-Agent</c> header, or null.</param>
/// <param name="DurationTicks">Arrival to the end of the response, in <see cref="System.Diagnostics.Stopwatch"/> ticks.</param>
internal readonly record struct AccessLogEntry(
    System.Net.IPAddress? RemoteAddress,
    DateTimeOffset Started,
    string Method,
    string Target,
    string Protocol,
    int Status,
    long Bytes,
    string? Referer,
    string? UserAgent,
    long DurationTicks);
