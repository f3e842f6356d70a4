using System.Globalization;
using System.Text;

namespace Updraft.ExternalScaler.Nats;

/// <summary>Metadata keys and value rules shared by the <c>nats-jetstream</c> and <c>stan</c> sources (KEDA's names and defaults).</summary>
internal static class NatsMetadata
{
    public const string MonitoringEndpointKey = "natsServerMonitoringEndpoint";
    public const string LagThresholdKey = "lagThreshold";
    public const string ActivationLagThresholdKey = "activationLagThreshold";
    public const string UseHttpsKey = "useHttps";

    /// <summary>KEDA's <c>lagThreshold</c> default for both scalers.</summary>
    public const double DefaultLagThreshold = 10;

    /// <summary>KEDA's <c>NormalizeString</c>: lowercase, and <c>/ . : % ( )</c> become <c>-</c>.</summary>
    public static string NormalizeMetricName(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(c is '/' or '.' or ':' or '%' or '(' or ')' ? '-' : char.ToLowerInvariant(c));
        }

        return builder.ToString();
    }

    /// <summary>A required value, trimmed; a problem naming the key when it is missing or blank.</summary>
    public static string? Required(IReadOnlyDictionary<string, string> metadata, string key, List<string> problems)
    {
        if (metadata.TryGetValue(key, out var value) && !string.IsNullOrWhiteSpace(value))
        {
            return value.Trim();
        }

        problems.Add($"metadata {key} is required");
        return null;
    }

    public static string? Optional(IReadOnlyDictionary<string, string> metadata, string key) =>
        metadata.TryGetValue(key, out var value) && !string.IsNullOrWhiteSpace(value) ? value.Trim() : null;

    /// <summary><c>lagThreshold</c>: a number above 0 (KEDA's default 10); the HPA's average-value target.</summary>
    public static double LagThreshold(IReadOnlyDictionary<string, string> metadata, List<string> problems)
    {
        if (Optional(metadata, LagThresholdKey) is not { } text)
        {
            return DefaultLagThreshold;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value) && value > 0)
        {
            return value;
        }

        problems.Add($"metadata {LagThresholdKey}=\"{text}\" is not valid; use a number above 0");
        return DefaultLagThreshold;
    }

    /// <summary><c>activationLagThreshold</c>: any number (default 0); active when the lag is above it.</summary>
    public static double ActivationLagThreshold(IReadOnlyDictionary<string, string> metadata, List<string> problems)
    {
        if (Optional(metadata, ActivationLagThresholdKey) is not { } text)
        {
            return 0;
        }

        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) && double.IsFinite(value))
        {
            return value;
        }

        problems.Add($"metadata {ActivationLagThresholdKey}=\"{text}\" is not valid; use a number");
        return 0;
    }

    /// <summary><c>useHttps</c>: Go's <c>strconv.ParseBool</c> forms, default false.</summary>
    public static bool UseHttps(IReadOnlyDictionary<string, string> metadata, List<string> problems)
    {
        switch (Optional(metadata, UseHttpsKey))
        {
            case null:
                return false;
            case "1" or "t" or "T" or "true" or "TRUE" or "True":
                return true;
            case "0" or "f" or "F" or "false" or "FALSE" or "False":
                return false;
            case var text:
                problems.Add($"metadata {UseHttpsKey}=\"{text}\" is not valid; use true or false");
                return false;
        }
    }

    /// <summary>
    /// <c>natsServerMonitoringEndpoint</c>: <c>host:port</c> of the monitoring port, as in KEDA (the scheme comes from
    /// <c>useHttps</c>). The base URI, or null with a problem naming the key.
    /// </summary>
    public static Uri? MonitoringEndpoint(IReadOnlyDictionary<string, string> metadata, bool useHttps, List<string> problems)
    {
        if (Required(metadata, MonitoringEndpointKey, problems) is not { } text)
        {
            return null;
        }

        var scheme = useHttps ? "https" : "http";
        if (Uri.TryCreate($"{scheme}://{text}/", UriKind.Absolute, out var uri)
            && !string.IsNullOrEmpty(uri.Host)
            && uri.AbsolutePath == "/"
            && string.IsNullOrEmpty(uri.Query)
            && string.IsNullOrEmpty(uri.UserInfo))
        {
            return uri;
        }

        problems.Add($"metadata {MonitoringEndpointKey}=\"{text}\" is not valid; use host:port of the NATS monitoring port (8222)");
        return null;
    }

    /// <summary>A NATS name used in a subject (stream, consumer): no whitespace, <c>.</c>, <c>*</c>, <c>&gt;</c>.</summary>
    public static bool IsSubjectToken(string name)
    {
        foreach (var c in name)
        {
            if (char.IsWhiteSpace(c) || c is '.' or '*' or '>' or '/' or '\\')
            {
                return false;
            }
        }

        return name.Length > 0;
    }
}
