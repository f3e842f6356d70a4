using Updraft.Shared.Routes;

namespace Updraft.Shared.Workloads;

/// <summary>
/// A local workload (standalone mode only): a command that the local autoscaler (<c>src/Local</c>) runs as replicas,
/// each a process listening on its own port on loopback. Declared in the routes file as a <c>LocalWorkload</c>
/// document; an <c>InterceptorRoute</c> names it with the <see cref="RouteConversion.LocalWorkloadAnnotation"/>
/// annotation. Validated and immutable once built.
/// </summary>
public sealed class WorkloadDefinition
{
    public WorkloadDefinition(string @namespace, string name)
    {
        Namespace = @namespace;
        Name = name;
        Key = RouteKeys.Format(@namespace, name);
    }

    public string Namespace { get; }

    public string Name { get; }

    /// <summary><c>namespace/name</c>.</summary>
    public string Key { get; }

    /// <summary>The program and its arguments; <c>$PORT</c> and <c>${PORT}</c> are replaced by the replica's port.</summary>
    public required IReadOnlyList<string> Command { get; init; }

    /// <summary>Absolute: a relative directory in the file is taken from the routes file's directory.</summary>
    public required string WorkingDirectory { get; init; }

    /// <summary>Added to the autoscaler's own environment; values may use <c>$PORT</c> too. <c>PORT</c> is always set.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; init; } = new Dictionary<string, string>();

    /// <summary>Where replicas listen: one fixed port, a range, or (when null) a free port the system picks per replica.</summary>
    public PortRange? Ports { get; init; }

    public required ReadinessCheck Readiness { get; init; }

    /// <summary>KEDA's <c>minReplicaCount</c> (default 0).</summary>
    public int MinReplicas { get; init; }

    /// <summary>KEDA's <c>maxReplicaCount</c> (default 10, or the number of ports when fewer are given).</summary>
    public int MaxReplicas { get; init; } = DefaultMaxReplicas;

    /// <summary>How often the autoscaler asks the scaler for metrics (KEDA's <c>pollingInterval</c>).</summary>
    public TimeSpan PollingInterval { get; init; } = DefaultPollingInterval;

    /// <summary>
    /// KEDA's <c>cooldownPeriod</c>: inactive this long after the last active report, the workload goes to
    /// <see cref="MinReplicas"/>. Also the window over which a lower replica count must hold before replicas stop
    /// (the HPA's scale-down stabilization).
    /// </summary>
    public TimeSpan CooldownPeriod { get; init; } = DefaultCooldownPeriod;

    /// <summary>From SIGTERM to SIGKILL (Kubernetes' <c>terminationGracePeriodSeconds</c>).</summary>
    public TimeSpan TerminationGracePeriod { get; init; } = DefaultTerminationGracePeriod;

    public const int DefaultMaxReplicas = 10;
    public static readonly TimeSpan DefaultPollingInterval = TimeSpan.FromSeconds(1);
    public static readonly TimeSpan DefaultCooldownPeriod = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan DefaultTerminationGracePeriod = TimeSpan.FromSeconds(10);
}

/// <summary>Ports <see cref="From"/> to <see cref="To"/>, both included (equal for one fixed port).</summary>
public sealed record PortRange(int From, int To)
{
    public int Count => To - From + 1;
}

public enum ReadinessKind
{
    /// <summary>Ready when a TCP connect to the replica's port succeeds.</summary>
    Tcp,

    /// <summary>Ready when <c>GET path</c> on the replica's port answers 2xx or 3xx.</summary>
    Http,
}

/// <param name="Path">The HTTP path (starts with '/'); null for TCP.</param>
/// <param name="Period">Between two checks while the replica is starting.</param>
/// <param name="Timeout">From process start to ready; a replica not ready by then is stopped and reported as failed.</param>
public sealed record ReadinessCheck(ReadinessKind Kind, string? Path, TimeSpan Period, TimeSpan Timeout)
{
    public static readonly TimeSpan DefaultPeriod = TimeSpan.FromMilliseconds(5);
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

    public static ReadinessCheck DefaultTcp { get; } = new(ReadinessKind.Tcp, null, DefaultPeriod, DefaultTimeout);
}
