namespace Updraft.Operator.Options;

/// <summary>
/// The add-on operator's command-line flags, mapped onto setting names so that flags and environment variables go
/// through one reader. <c>--flag value</c>, <c>--flag=value</c> and a bare boolean <c>--leader-elect</c> are accepted.
/// </summary>
internal static class OperatorFlags
{
    private static readonly Dictionary<string, string> Settings = new(StringComparer.Ordinal)
    {
        ["--leader-elect"] = OperatorOptions.LeaderElectVariable,
        ["--metrics-bind-address"] = OperatorOptions.MetricsAddressVariable,
        ["--health-probe-bind-address"] = OperatorOptions.HealthAddressVariable,
        ["--kubeconfig"] = OperatorOptions.KubeconfigVariable,
        ["--zap-log-level"] = "UPDRAFT_LOG_LEVEL",
    };

    /// <summary>Flags of the add-on's manifests that Updraft accepts and does not need (logging format, profiling).</summary>
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal)
    {
        "--zap-devel", "--zap-encoder", "--zap-stacktrace-level", "--zap-time-encoding", "--metrics-secure", "--metrics-auth",
        "--metrics-cert-dir", "--profiling-bind-address",
    };

    /// <returns>Settings by variable name; unknown flags and missing values go to <paramref name="problems"/>.</returns>
    public static Dictionary<string, string> Parse(IReadOnlyList<string> args, List<string> problems, List<string> warnings)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            var equals = arg.IndexOf('=', StringComparison.Ordinal);
            var name = equals < 0 ? arg : arg[..equals];
            var value = equals < 0 ? null : arg[(equals + 1)..];
            if (Ignored.Contains(name))
            {
                if (value is null && i + 1 < args.Count && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    i++;
                }

                warnings.Add($"{name} is accepted for compatibility with the add-on's operator and has no effect");
                continue;
            }

            if (!Settings.TryGetValue(name, out var variable))
            {
                problems.Add($"unknown argument \"{arg}\"; the operator takes {string.Join(", ", Settings.Keys)} (or the environment variables in the README)");
                continue;
            }

            if (value is null)
            {
                if (name == "--leader-elect" && (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal)))
                {
                    value = "true";
                }
                else if (i + 1 < args.Count)
                {
                    value = args[++i];
                }
                else
                {
                    problems.Add($"{name} needs a value");
                    continue;
                }
            }

            values[variable] = value;
        }

        return values;
    }
}
