namespace Updraft.Chart.Tests.Infrastructure;

/// <summary>The values matrix every chart test runs over: each profile is a list of <c>--set</c> arguments.</summary>
internal static class Profiles
{
    public const string WatchedNamespace = "team-a";
    public const string TlsSecret = "updraft-tls";

    public static readonly IReadOnlyDictionary<string, string[]> Values = new Dictionary<string, string[]>(StringComparer.Ordinal)
    {
        ["defaults"] = [],
        ["add-on-names"] = ["addOnCompatibleNames=true"],
        ["no-operator"] = ["operator.enabled=false"],
        ["tls"] = ["interceptor.tls.enabled=true", "interceptor.tls.secretName=" + TlsSecret],
        ["watch-namespace"] = ["watchNamespace=" + WatchedNamespace],
        ["service-monitors"] = ["interceptor.serviceMonitor.enabled=true", "scaler.serviceMonitor.enabled=true", "operator.serviceMonitor.enabled=true", "grafanaDashboard.enabled=true"],
        ["interceptor-autoscaling"] = ["interceptor.autoscaling.enabled=true"],
    };

    public static TheoryData<string> Names()
    {
        var data = new TheoryData<string>();
        foreach (var name in Values.Keys)
        {
            data.Add(name);
        }

        return data;
    }
}
