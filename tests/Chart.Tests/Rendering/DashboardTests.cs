using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Updraft.Chart.Tests.Infrastructure;
using Updraft.Tests.Common;

namespace Updraft.Chart.Tests.Rendering;

/// <summary>The Grafana dashboard ConfigMap: rendered only when asked for, valid JSON, and every metric it queries is one the components export.</summary>
public sealed partial class DashboardTests
{
    [Fact]
    public async Task Dashboard_IsAConfigMapForTheSidecar_OnlyWhenEnabled()
    {
        var off = await Helm.TemplateAsync([]);
        Assert.DoesNotContain(off, o => o["kind"]!.GetValue<string>() == "ConfigMap");

        var on = await Helm.TemplateAsync(["grafanaDashboard.enabled=true", "grafanaDashboard.namespace=monitoring", "grafanaDashboard.annotations.grafana_folder=Updraft"]);
        var map = Assert.Single(on, o => o["kind"]!.GetValue<string>() == "ConfigMap");
        Assert.Equal("updraft-dashboard", map["metadata"]!["name"]!.GetValue<string>());
        Assert.Equal("monitoring", map["metadata"]!["namespace"]!.GetValue<string>());
        Assert.Equal("1", map["metadata"]!["labels"]!["grafana_dashboard"]!.GetValue<string>());
        Assert.Equal("Updraft", map["metadata"]!["annotations"]!["grafana_folder"]!.GetValue<string>());
        var dashboard = JsonNode.Parse(map["data"]!["updraft.json"]!.GetValue<string>())!;
        Assert.Equal("updraft-overview", dashboard["uid"]!.GetValue<string>());
        Assert.NotEmpty(dashboard["panels"]!.AsArray());
    }

    [Fact]
    public void EveryQueriedMetric_IsExportedByAComponent()
    {
        var root = Repository.Root();
        var dashboard = JsonNode.Parse(File.ReadAllText(Path.Combine(root, "charts", "updraft", "dashboards", "updraft.json")))!;
        var exported = new HashSet<string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(Path.Combine(root, "src"), "*Metrics.cs", SearchOption.AllDirectories))
        {
            foreach (Match match in Created().Matches(File.ReadAllText(file)))
            {
                var name = match.Groups["name"].Value;
                exported.Add(name);
                if (match.Groups["kind"].Value == "Histogram")
                {
                    exported.UnionWith([name + "_bucket", name + "_sum", name + "_count"]);
                }
            }
        }

        var queried = dashboard["panels"]!.AsArray()
            .SelectMany(p => p!["targets"]?.AsArray() ?? [])
            .Select(t => t!["expr"]!.GetValue<string>())
            .SelectMany(e => Metric().Matches(e).Select(m => m.Value))
            .Distinct(StringComparer.Ordinal)
            .ToList();

        Assert.True(queried.Count >= 10, $"the dashboard queries {queried.Count} metrics");
        Assert.All(queried, m => Assert.Contains(m, exported));
    }

    [GeneratedRegex("Create(?<kind>Counter|Gauge|Histogram)\\(\"(?<name>[a-z_]+)\"")]
    private static partial Regex Created();

    [GeneratedRegex(@"\b(interceptor|updraft|scaler|controller_runtime|workqueue)_[a-z0-9_]+\b")]
    private static partial Regex Metric();
}
