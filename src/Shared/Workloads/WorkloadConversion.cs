using System.Globalization;
using Updraft.Shared.Crds;
using Updraft.Shared.Durations;
using Updraft.Shared.Routes;

namespace Updraft.Shared.Workloads;

/// <summary>Validates a <c>LocalWorkload</c> document and converts it to a <see cref="WorkloadDefinition"/>, reporting every problem.</summary>
public static class WorkloadConversion
{
    /// <summary>A laptop's worth: more replicas of one command than this is a typo.</summary>
    public const int MaxReplicasAllowed = 64;

    private static readonly TimeSpan MinPollingInterval = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxPeriod = TimeSpan.FromHours(1);

    /// <param name="baseDirectory">Where a relative <c>workingDirectory</c> starts: the routes file's directory.</param>
    public static WorkloadDefinition? FromLocalWorkload(LocalWorkload workload, string baseDirectory, RouteProblemCollector problems)
    {
        var name = workload.Metadata?.Name;
        var ns = string.IsNullOrEmpty(workload.Metadata?.Namespace) ? RouteKeys.DefaultNamespace : workload.Metadata.Namespace;
        if (string.IsNullOrEmpty(name))
        {
            problems.Add("metadata.name", "is required");
        }
        else
        {
            problems.ObjectName = RouteKeys.Format(ns, name);
            RouteConversion.CheckDnsName(name, "metadata.name", problems);
        }

        RouteConversion.CheckDnsName(ns, "metadata.namespace", problems);
        var spec = workload.Spec;
        if (spec is null)
        {
            problems.Add("spec", "is required");
            return null;
        }

        var command = ReadCommand(spec.Command, problems);
        var directory = ReadWorkingDirectory(spec.WorkingDirectory, baseDirectory, problems);
        var environment = ReadEnvironment(spec.Env, problems);
        var ports = ReadPorts(spec.Port, spec.PortRange, problems);
        var readiness = ReadReadiness(spec.Readiness, problems);
        var min = spec.MinReplicaCount ?? 0;
        var max = spec.MaxReplicaCount ?? Math.Min(WorkloadDefinition.DefaultMaxReplicas, ports?.Count ?? WorkloadDefinition.DefaultMaxReplicas);
        if (min < 0)
        {
            problems.Add("spec.minReplicaCount", $"{min} is not valid; use 0 or more");
        }

        if (max < 1 || max > MaxReplicasAllowed)
        {
            problems.Add("spec.maxReplicaCount", $"{max} is not valid; use 1-{MaxReplicasAllowed}");
        }
        else if (min > max)
        {
            problems.Add("spec.minReplicaCount", $"{min} is more than maxReplicaCount {max}");
        }
        else if (ports is not null && max > ports.Count)
        {
            problems.Add("spec.maxReplicaCount", ports.Count == 1
                ? $"{max} replicas cannot share the one port {ports.From}; set maxReplicaCount: 1, or give a portRange (or neither, for free ports)"
                : $"{max} replicas need {max} ports but portRange has {ports.Count}");
        }

        var polling = ReadDuration(spec.PollingInterval, "spec.pollingInterval", MinPollingInterval, MaxPeriod, problems) ?? WorkloadDefinition.DefaultPollingInterval;
        var cooldown = ReadDuration(spec.CooldownPeriod, "spec.cooldownPeriod", TimeSpan.Zero, TimeSpan.FromDays(1), problems) ?? WorkloadDefinition.DefaultCooldownPeriod;
        var grace = ReadDuration(spec.TerminationGracePeriod, "spec.terminationGracePeriod", TimeSpan.Zero, MaxPeriod, problems) ?? WorkloadDefinition.DefaultTerminationGracePeriod;

        if (problems.HasProblems || name is null || command is null || directory is null || readiness is null)
        {
            return null;
        }

        return new WorkloadDefinition(ns, name)
        {
            Command = command,
            WorkingDirectory = directory,
            Environment = environment,
            Ports = ports,
            Readiness = readiness,
            MinReplicas = min,
            MaxReplicas = max,
            PollingInterval = polling,
            CooldownPeriod = cooldown,
            TerminationGracePeriod = grace,
        };
    }

    private static string[]? ReadCommand(List<string>? command, RouteProblemCollector problems)
    {
        if (command is null || command.Count == 0)
        {
            problems.Add("spec.command", "is required: the program and its arguments, e.g. [dotnet, app.dll, --urls, \"http://127.0.0.1:$PORT\"]");
            return null;
        }

        if (string.IsNullOrWhiteSpace(command[0]))
        {
            problems.Add("spec.command[0]", "the program must not be empty");
            return null;
        }

        for (var i = 0; i < command.Count; i++)
        {
            if (command[i] is null || command[i].Contains('\0', StringComparison.Ordinal))
            {
                problems.Add($"spec.command[{i}]", "must be a string without NUL characters");
                return null;
            }
        }

        return [.. command];
    }

    private static string? ReadWorkingDirectory(string? directory, string baseDirectory, RouteProblemCollector problems)
    {
        if (directory is not null && (directory.Length == 0 || directory.Contains('\0', StringComparison.Ordinal)))
        {
            problems.Add("spec.workingDirectory", "must be a directory path (leave it out for the routes file's directory)");
            return null;
        }

        var resolved = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory ?? ".", baseDirectory));
        if (!Directory.Exists(resolved))
        {
            problems.Add("spec.workingDirectory", $"\"{directory}\" is not a directory (relative paths start at {baseDirectory})");
            return null;
        }

        return resolved;
    }

    private static Dictionary<string, string> ReadEnvironment(Dictionary<string, string>? env, RouteProblemCollector problems)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in env ?? [])
        {
            if (key.Length == 0 || key.AsSpan().IndexOfAny("=\0") >= 0)
            {
                problems.Add("spec.env", $"\"{key}\" is not a valid variable name (no '=' or NUL, not empty)");
            }
            else if (key == "PORT")
            {
                problems.Add("spec.env.PORT", "is set by the autoscaler to each replica's port; use $PORT in the command or other variables instead");
            }
            else if (value is null || value.Contains('\0', StringComparison.Ordinal))
            {
                problems.Add("spec.env." + key, "must be a string without NUL characters");
            }
            else
            {
                result[key] = value;
            }
        }

        return result;
    }

    private static PortRange? ReadPorts(int? port, string? range, RouteProblemCollector problems)
    {
        if (port is not null && range is not null)
        {
            problems.Add("spec", "set port or portRange, not both (or neither, for a free port per replica)");
            return null;
        }

        if (port is { } fixedPort)
        {
            if (fixedPort is < 1 or > 65535)
            {
                problems.Add("spec.port", $"{fixedPort} is out of range; use 1-65535");
                return null;
            }

            return new PortRange(fixedPort, fixedPort);
        }

        if (range is null)
        {
            return null;
        }

        var dash = range.IndexOf('-', StringComparison.Ordinal);
        if (dash < 0
            || !int.TryParse(range.AsSpan(0, dash).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var from)
            || !int.TryParse(range.AsSpan(dash + 1).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var to)
            || from is < 1 or > 65535 || to is < 1 or > 65535 || from > to)
        {
            problems.Add("spec.portRange", $"\"{range}\" is not valid; use FROM-TO with 1 <= FROM <= TO <= 65535, e.g. 18100-18199");
            return null;
        }

        return new PortRange(from, to);
    }

    private static ReadinessCheck? ReadReadiness(LocalReadinessSpec? spec, RouteProblemCollector problems)
    {
        if (spec is null)
        {
            return ReadinessCheck.DefaultTcp;
        }

        var path = spec.HttpPath;
        if (path is not null && (path.Length == 0 || path[0] != '/' || path.Length > 1024 || path.AsSpan().ContainsAnyInRange('\0', ' ') || path.Contains('\u007f', StringComparison.Ordinal)))
        {
            problems.Add("spec.readiness.httpPath", $"\"{path}\" is not valid; use a path that starts with '/' (no spaces or control characters)");
            return null;
        }

        var period = ReadDuration(spec.Period, "spec.readiness.period", TimeSpan.FromMilliseconds(1), MaxPeriod, problems) ?? ReadinessCheck.DefaultPeriod;
        var timeout = ReadDuration(spec.Timeout, "spec.readiness.timeout", TimeSpan.FromMilliseconds(1), MaxPeriod, problems) ?? ReadinessCheck.DefaultTimeout;
        return new ReadinessCheck(path is null ? ReadinessKind.Tcp : ReadinessKind.Http, path, period, timeout);
    }

    private static TimeSpan? ReadDuration(string? text, string field, TimeSpan min, TimeSpan max, RouteProblemCollector problems)
    {
        if (text is null)
        {
            return null;
        }

        if (!GoDuration.TryParse(text, out var value) || value < min || value > max)
        {
            problems.Add(field, $"\"{text}\" is not valid; use a duration such as 500ms, 30s or 5m, from {GoDuration.Format(min)} to {GoDuration.Format(max)}");
            return null;
        }

        return value;
    }
}
