using System.Text;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>Builds routes-file YAML for tests.</summary>
internal static class Routes
{
    /// <summary>One InterceptorRoute document.</summary>
    /// <param name="name">metadata.name (namespace <c>default</c> unless <paramref name="ns"/>).</param>
    /// <param name="port">The upstream's loopback port.</param>
    /// <param name="hosts">Hosts of the single rule (none: catch-all).</param>
    /// <param name="paths">Path prefixes (none: every path).</param>
    /// <param name="headers">Header matchers; a null value means "present".</param>
    /// <param name="extraSpec">More YAML under <c>spec:</c>, indented by two spaces (e.g. timeouts).</param>
    /// <param name="ns">Namespace.</param>
    /// <param name="creationTimestamp">metadata.creationTimestamp, RFC 3339.</param>
    /// <param name="appProtocol">spec.target.appProtocol (e.g. <c>h2c</c>); none means HTTP/1.1.</param>
    public static string InterceptorRoute(
        string name,
        int port,
        string[]? hosts = null,
        string[]? paths = null,
        (string Name, string? Value)[]? headers = null,
        string? extraSpec = null,
        string ns = "default",
        string? creationTimestamp = null,
        string? appProtocol = null)
    {
        var yaml = new StringBuilder();
        yaml.AppendLine("apiVersion: http.keda.sh/v1beta1");
        yaml.AppendLine("kind: InterceptorRoute");
        yaml.AppendLine("metadata:");
        yaml.AppendLine($"  name: {name}");
        yaml.AppendLine($"  namespace: {ns}");
        if (creationTimestamp is not null)
        {
            yaml.AppendLine($"  creationTimestamp: \"{creationTimestamp}\"");
        }

        yaml.AppendLine("spec:");
        yaml.AppendLine($"  target: {{service: 127.0.0.1, port: {port}{(appProtocol is null ? "" : ", appProtocol: " + appProtocol)}}}");
        yaml.AppendLine("  scalingMetric: {concurrency: {targetValue: 100}}");
        yaml.AppendLine("  rules:");
        yaml.AppendLine("    - hosts: [" + string.Join(", ", (hosts ?? []).Select(h => $"\"{h}\"")) + "]");
        yaml.AppendLine("      paths: [" + string.Join(", ", (paths ?? []).Select(p => $"{{value: \"{p}\"}}")) + "]");
        yaml.AppendLine("      headers: [" + string.Join(", ", (headers ?? []).Select(h => h.Value is null ? $"{{name: \"{h.Name}\"}}" : $"{{name: \"{h.Name}\", value: \"{h.Value}\"}}")) + "]");
        if (extraSpec is not null)
        {
            foreach (var line in extraSpec.Split('\n'))
            {
                yaml.Append("  ").AppendLine(line.TrimEnd());
            }
        }

        return yaml.ToString();
    }

    public static string Documents(params string[] documents) => string.Join("---\n", documents);
}
