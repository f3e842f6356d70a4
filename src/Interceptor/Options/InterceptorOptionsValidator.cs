using Microsoft.Extensions.Options;

namespace Updraft.Interceptor.Options;

/// <summary>Fails start-up with one message per bad setting, each naming the variable and what is allowed.</summary>
internal sealed class InterceptorOptionsValidator : IValidateOptions<InterceptorOptions>
{
    public ValidateOptionsResult Validate(string? name, InterceptorOptions options)
    {
        var problems = new List<string>(options.BindingProblems);
        CheckDistinct(options, problems);
        if (options.RoutingTableMaxStaleness < options.RoutingTableRefreshInterval)
        {
            problems.Add($"{InterceptorOptionsBinder.MaxStalenessVariable}={Updraft.Shared.Durations.GoDuration.Format(options.RoutingTableMaxStaleness)} is shorter than "
                + $"{InterceptorOptionsBinder.RefreshIntervalVariable}={Updraft.Shared.Durations.GoDuration.Format(options.RoutingTableRefreshInterval)}; the staleness limit must be at least the refresh interval");
        }

        var release = options.IdleMemoryReleaseInterval;
        if (release > TimeSpan.Zero && (release < Hosting.IdleMemoryRelease.ShortestInterval || release > Hosting.IdleMemoryRelease.LongestInterval))
        {
            problems.Add($"{InterceptorOptionsBinder.IdleMemoryReleaseVariable}={Updraft.Shared.Durations.GoDuration.Format(release)} is out of range; "
                + $"use 0s (off) or from {Updraft.Shared.Durations.GoDuration.Format(Hosting.IdleMemoryRelease.ShortestInterval)} to {Updraft.Shared.Durations.GoDuration.Format(Hosting.IdleMemoryRelease.LongestInterval)}");
        }

        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    private static void CheckDistinct(InterceptorOptions options, List<string> problems)
    {
        var ports = new List<(string Name, int Port)> { ("KEDA_HTTP_PROXY_PORT", options.ProxyPort), ("KEDA_HTTP_ADMIN_PORT", options.AdminPort) };
        if (options.MetricsEnabled)
        {
            ports.Add(("OTEL_PROM_EXPORTER_PORT", options.MetricsPort));
        }

        if (options.Tls.Enabled)
        {
            ports.Add(("KEDA_HTTP_PROXY_TLS_PORT", options.Tls.Port));
        }

        for (var i = 0; i < ports.Count; i++)
        {
            for (var j = i + 1; j < ports.Count; j++)
            {
                if (ports[i].Port != 0 && ports[i].Port == ports[j].Port)
                {
                    problems.Add($"{ports[j].Name}={ports[j].Port} is already used by {ports[i].Name}; each listener needs its own port");
                }
            }
        }
    }
}
