namespace Updraft.Shared.Crds;

/// <summary>
/// <c>LocalWorkload</c>, <c>local.updraft.dev/v1alpha1</c>: Updraft's own document for standalone routes files (never a
/// cluster object). A command the local autoscaler runs as replicas on loopback; see <c>README.md</c>.
/// </summary>
public sealed class LocalWorkload
{
    public const string Group = "local.updraft.dev";
    public const string Version = "v1alpha1";
    public const string ApiVersionValue = Group + "/" + Version;
    public const string KindValue = "LocalWorkload";

    public string? ApiVersion { get; set; }

    public string? Kind { get; set; }

    public ObjectMeta? Metadata { get; set; }

    public LocalWorkloadSpec? Spec { get; set; }
}

public sealed class LocalWorkloadSpec
{
    public List<string>? Command { get; set; }

    public string? WorkingDirectory { get; set; }

    public Dictionary<string, string>? Env { get; set; }

    public int? Port { get; set; }

    /// <summary><c>"18100-18199"</c>.</summary>
    public string? PortRange { get; set; }

    public LocalReadinessSpec? Readiness { get; set; }

    public int? MinReplicaCount { get; set; }

    public int? MaxReplicaCount { get; set; }

    public string? PollingInterval { get; set; }

    public string? CooldownPeriod { get; set; }

    public string? TerminationGracePeriod { get; set; }
}

public sealed class LocalReadinessSpec
{
    /// <summary>An HTTP GET path; without one, the check is a TCP connect.</summary>
    public string? HttpPath { get; set; }

    public string? Period { get; set; }

    public string? Timeout { get; set; }
}
