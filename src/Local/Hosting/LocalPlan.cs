using Updraft.Shared.Routes;
using Updraft.Shared.Workloads;

namespace Updraft.Local.Hosting;

/// <summary>What the routes file asks of the local autoscaler: each workload, and the routes that name it (its triggers).</summary>
internal sealed record LocalPlan(IReadOnlyList<(WorkloadDefinition Workload, IReadOnlyList<string> Routes)> Workloads)
{
    public TimeSpan LongestGracePeriod => Workloads.Count == 0 ? TimeSpan.Zero : Workloads.Max(w => w.Workload.TerminationGracePeriod);

    /// <summary>Reads and checks the file; null with problems added when it cannot be used.</summary>
    public static LocalPlan? Read(string routesFile, List<string> problems)
    {
        string text;
        try
        {
            text = File.ReadAllText(routesFile);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            problems.Add($"cannot read the routes file {routesFile}: {e.Message}");
            return null;
        }

        var path = Path.GetFullPath(routesFile);
        var result = RouteFileParser.Parse(text, RouteEnvironment.Standalone, Path.GetDirectoryName(path));
        if (!result.Succeeded)
        {
            problems.AddRange(result.Problems.Select(p => p.Format(routesFile)));
            return null;
        }

        if (result.Workloads.Count == 0)
        {
            problems.Add($"{routesFile} declares no LocalWorkload: nothing to run (see README, \"Local scale-to-zero\")");
            return null;
        }

        return From(result);
    }

    public static LocalPlan From(RouteFileResult result) =>
        new([.. result.Workloads.Select(w => (w, (IReadOnlyList<string>)[.. result.Routes
            .Where(r => r.Target.Workload == w.Name && r.Namespace == w.Namespace)
            .Select(r => r.Name)]))]);

    /// <summary>Everything the autoscaler acts on, as text: two plans with the same signature run the same way.</summary>
    public string Signature() => string.Join("\n", Workloads.Select(Signature));

    /// <summary>One workload's definition and the routes that scale it, as text.</summary>
    public static string Signature((WorkloadDefinition Workload, IReadOnlyList<string> Routes) entry)
    {
        var w = entry.Workload;
        return string.Join('\u001f',
            w.Key,
            string.Join('\u001e', w.Command),
            w.WorkingDirectory,
            string.Join('\u001e', w.Environment.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => e.Key + "=" + e.Value)),
            w.Ports?.ToString() ?? "",
            w.Readiness.ToString(),
            w.MinReplicas,
            w.MaxReplicas,
            w.PollingInterval,
            w.CooldownPeriod,
            w.TerminationGracePeriod,
            string.Join('\u001e', entry.Routes));
    }
}
