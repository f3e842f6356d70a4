using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Updraft.Bench.Load;

/// <summary>A start-up variant: which build of the interceptor, and extra environment variables for its process.</summary>
internal sealed record StartupVariant(string Name, string Label, StartupBuild Build, IReadOnlyDictionary<string, string> Settings);

/// <summary>
/// <c>./updraft.sh bench startup</c>: start-up time (process start → first 200 through the proxy) and idle memory of
/// the interceptor under runtime settings and publish modes (ReadyToRun, trimmed, Native AOT). Each repetition starts
/// every variant once, one at a time, in an order that moves one along each repetition; medians per variant, ratios to
/// the default build with no settings. The backend is the load benchmark's, the route the one-route file.
/// </summary>
internal static class StartupComparison
{
    private const string DefaultName = "default";

    public static readonly StartupVariant[] Variants =
    [
        new(DefaultName, "as built: server GC (DATAS), concurrent GC, tiered compilation + PGO, metrics listener on", StartupBuild.Default, Settings()),
        new("workstation-gc", "DOTNET_gcServer=0", StartupBuild.Default, Settings("DOTNET_gcServer", "0")),
        new("workstation-nonconcurrent", "DOTNET_gcServer=0 DOTNET_gcConcurrent=0", StartupBuild.Default, Settings("DOTNET_gcServer", "0", "DOTNET_gcConcurrent", "0")),
        // What charts/updraft sets for the interceptor's runtime: the 64 MiB first generation, and no diagnostics IPC (every pod).
        new("chart", "DOTNET_GCgen0size=0x4000000 DOTNET_EnableDiagnostics=0 (the chart's)", StartupBuild.Default, Settings("DOTNET_GCgen0size", "0x4000000", "DOTNET_EnableDiagnostics", "0")),
        new("diagnostics-off", "DOTNET_EnableDiagnostics=0", StartupBuild.Default, Settings("DOTNET_EnableDiagnostics", "0")),
        new("tiered-pgo-off", "DOTNET_TieredPGO=0", StartupBuild.Default, Settings("DOTNET_TieredPGO", "0")),
        new("tiered-compilation-off", "DOTNET_TieredCompilation=0 (every method JIT-optimised at first call)", StartupBuild.Default, Settings("DOTNET_TieredCompilation", "0")),
        new("ready-to-run-off", "DOTNET_ReadyToRun=0 (the framework's precompiled code ignored)", StartupBuild.Default, Settings("DOTNET_ReadyToRun", "0")),
        new("w-xor-x-off", "DOTNET_EnableWriteXorExecute=0 (JIT code mapped once, not twice)", StartupBuild.Default, Settings("DOTNET_EnableWriteXorExecute", "0")),
        new("metrics-off", "OTEL_PROM_EXPORTER_ENABLED=false (no /metrics listener)", StartupBuild.Default, Settings("OTEL_PROM_EXPORTER_ENABLED", "false")),
        new("r2r", "published ReadyToRun, framework-dependent", StartupBuild.ReadyToRun, Settings()),
        new("r2r-workstation-gc", "published ReadyToRun + DOTNET_gcServer=0", StartupBuild.ReadyToRun, Settings("DOTNET_gcServer", "0")),
        new("trimmed", "published self-contained, trimmed", StartupBuild.Trimmed, Settings()),
        new("trimmed-partial", "published self-contained, trimmed with TrimMode=partial, reflection JSON on", StartupBuild.TrimmedPartial, Settings()),
        new("trimmed-partial-workstation-gc", "trimmed-partial + DOTNET_gcServer=0", StartupBuild.TrimmedPartial, Settings("DOTNET_gcServer", "0")),
        new("native-aot", "published Native AOT (the image's build)", StartupBuild.NativeAot, Settings()),
        new("native-aot-workstation-gc", "published Native AOT + DOTNET_gcServer=0", StartupBuild.NativeAot, Settings("DOTNET_gcServer", "0")),
    ];

    private sealed record Plan(int Repetitions, double IdleSeconds);

    private static readonly JsonSerializerOptions JsonOptions = new(Report.JsonOptions) { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private static readonly Plan Full = new(7, 5);

    /// <summary>One repetition and a 1-s idle wait: checks the wiring, not the numbers.</summary>
    private static readonly Plan Smoke = new(1, 1);

    private sealed class Runs
    {
        public List<StartupSample> Samples { get; } = [];

        public List<string> Errors { get; } = [];

        public bool Skipped { get; set; }
    }

    /// <param name="only">With <c>--variants a,b</c>: those variants and the default (the baseline), and only the
    /// publishes they need; null for all.</param>
    public static int Run(string repo, string work, string configuration, bool smoke, string? outFile, IReadOnlyCollection<string>? only, Action<string> log)
    {
        var unknown = only?.Where(name => Variants.All(v => v.Name != name)).ToList() ?? [];
        if (unknown.Count > 0)
        {
            Console.Error.WriteLine($"startup: unknown variant {string.Join(", ", unknown)} in --variants; the variants are {string.Join(", ", Variants.Select(v => v.Name))}");
            return 2;
        }

        var variants = Variants.Where(v => only is null || v.Name == DefaultName || only.Contains(v.Name)).ToList();
        var plan = smoke ? Smoke : Full;
        var clock = Stopwatch.StartNew();
        var commit = BenchSupport.ShortCommit(repo);
        var loadBefore = LoadAverage();
        log($"{(smoke ? "smoke run" : "full run")}, commit {commit}, {Environment.ProcessorCount} cores, load average {loadBefore}");

        // Publishing first, one at a time and with nothing else running: it takes minutes and both cores.
        var builds = new Dictionary<StartupBuild, InterceptorBuild> { [StartupBuild.Default] = StartupBuilds.AsBuilt(repo, configuration) };
        foreach (var build in variants.Select(v => v.Build).Distinct().Where(b => b != StartupBuild.Default))
        {
            builds[build] = smoke && build != StartupBuild.ReadyToRun
                ? StartupBuilds.Skip(build, "skipped in --smoke")
                : StartupBuilds.Publish(repo, work, configuration, build, log);
            if (builds[build].Skipped is { } reason)
            {
                log($"publish {build}: {reason}");
            }
        }

        var backend = new Targets(repo, work, configuration).StartBackend();
        var routesFile = Path.Combine(work, "startup-routes.yaml");
        File.WriteAllText(routesFile, Targets.RoutesYaml(1, backend.Port));
        var logs = Directory.CreateDirectory(Path.Combine(work, "startup-logs")).FullName;
        StartupProbe.WarmUpClient(backend.Port);
        var runs = variants.ToDictionary(v => v.Name, _ => new Runs());

        // One discarded start per variant: the files it maps are in the page cache before anything is timed, and a
        // variant that cannot start or forward is recorded once and left out.
        var active = new List<StartupVariant>();
        foreach (var variant in variants)
        {
            var build = builds[variant.Build];
            if (!build.Built)
            {
                runs[variant.Name].Errors.Add(build.Skipped ?? $"not built: {build.Error}");
                runs[variant.Name].Skipped = build.Skipped is not null;
                continue;
            }

            try
            {
                StartupProbe.Run(build, variant.Settings, routesFile, logs, variant.Name, 0, TimeSpan.Zero);
                active.Add(variant);
            }
            catch (InvalidOperationException e)
            {
                runs[variant.Name].Errors.Add(e.Message);
                log($"warm-up {variant.Name}: FAILED: {e.Message}");
            }
        }

        for (var rep = 1; rep <= plan.Repetitions; rep++)
        {
            var shift = rep % Math.Max(1, active.Count);
            foreach (var variant in active.Skip(shift).Concat(active.Take(shift)))
            {
                try
                {
                    var s = StartupProbe.Run(builds[variant.Build], variant.Settings, routesFile, logs, variant.Name, rep, TimeSpan.FromSeconds(plan.IdleSeconds));
                    runs[variant.Name].Samples.Add(s);
                    log(Invariant($"startup {rep}/{plan.Repetitions} {variant.Name,-26} ready {s.ReadyMs,7:F1} ms  /readyz {s.ReadyzMs,7:F1} ms  first proxied {s.ReadyRequestMs,6:F1} ms  next {s.FirstRequestMs,6:F2} ms  RSS {s.RssMiB,5:F1} MiB (anon {s.AnonMiB:F1}, file {s.FileMiB:F1}, shared {s.ShmemMiB:F1}), peak {s.PeakMiB:F1}, {s.Threads} threads"));
                }
                catch (InvalidOperationException e)
                {
                    runs[variant.Name].Errors.Add($"repetition {rep}: {e.Message}");
                    log($"startup {rep}/{plan.Repetitions} {variant.Name}: FAILED: {e.Message}");
                }
            }
        }

        var rows = variants.Select(v => Row(v, runs[v.Name])).ToList();
        var baseline = rows.First(r => r.Name == DefaultName);
        var json = JsonSerializer.Serialize(new
        {
            benchmark = "interceptor start-up and idle memory",
            commit,
            date = DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture),
            smoke,
            configuration,
            cores = Environment.ProcessorCount,
            loadAverageBefore = loadBefore,
            loadAverageAfter = LoadAverage(),
            repetitions = plan.Repetitions,
            idleSeconds = plan.IdleSeconds,
            requestsAfterReady = StartupProbe.Requests,
            builds = builds.Values.Select(b => new { build = b.Build.ToString(), b.Command, b.Built, b.Skipped, b.Error, b.PublishSeconds, b.SizeMiB, b.TrimWarnings }),
            variants = rows.Select(r => new
            {
                name = r.Name,
                label = r.Label,
                build = r.Build.ToString(),
                settings = r.Settings,
                skipped = r.Skipped,
                failed = r.Samples.Count == 0 && !r.Skipped,
                errors = r.Errors,
                median = r.Median,
                rssRatioToDefault = Ratio(r.Median?.RssMiB, baseline.Median?.RssMiB),
                readyRatioToDefault = Ratio(r.Median?.ReadyMs, baseline.Median?.ReadyMs),
                runs = r.Samples,
            }),
        }, JsonOptions);

        var markdown = Markdown(commit, plan, rows, baseline, builds.Values, clock.Elapsed, loadBefore);
        var file = outFile ?? (smoke
            ? Path.Combine(Path.GetTempPath(), $"updraft-bench-startup-smoke-{commit}.json")
            : Path.Combine(repo, "bench", "results", $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}-startup.json"));
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, json);
        Console.WriteLine();
        Console.WriteLine(markdown);
        Console.WriteLine($"Results: {file} ({clock.Elapsed.TotalSeconds:F0} s)");
        return 0;
    }

    /// <summary>A variant's runs and their medians (<see cref="StartupSample.Repetition"/> 0 there).</summary>
    private sealed record VariantRow(string Name, string Label, StartupBuild Build, IReadOnlyDictionary<string, string> Settings, List<StartupSample> Samples, List<string> Errors, bool Skipped, StartupSample? Median);

    private static VariantRow Row(StartupVariant variant, Runs runs)
    {
        var samples = runs.Samples;
        double Median(Func<StartupSample, double> value) => samples.Count == 0 ? 0 : Report.Median(samples.Select(value));
        var readyz = samples.Where(s => s.ReadyzMs is not null).Select(s => s.ReadyzMs!.Value).ToList();
        var median = samples.Count == 0 ? null : new StartupSample(
            0, Median(s => s.ReadyMs), readyz.Count == 0 ? null : Report.Median(readyz), Median(s => s.ReadyRequestMs), Median(s => s.FirstRequestMs),
            Median(s => s.MeanRequestMs), Median(s => s.RssMiB), Median(s => s.AnonMiB), Median(s => s.FileMiB), Median(s => s.ShmemMiB), Median(s => s.PeakMiB), (int)Median(s => s.Threads));
        return new(variant.Name, variant.Label, variant.Build, variant.Settings, samples, runs.Errors, runs.Skipped, median);
    }

    private static string Markdown(string commit, Plan plan, List<VariantRow> rows, VariantRow baseline, IEnumerable<InterceptorBuild> builds, TimeSpan elapsed, string load)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"Interceptor start-up and idle memory, commit {commit}, {Environment.ProcessorCount} cores (load average {load} at the start), {elapsed.TotalMinutes:F1} min: median of {plan.Repetitions} interleaved starts per variant. Ready: process start → first 200 through the proxy (polled every ~2 ms, a new connection each time); first proxied request: that poll's own time, connect → status line; next request: the first after ready, on a new connection; memory from /proc/<pid>/status after {StartupProbe.Requests} proxied requests and {plan.IdleSeconds:F0} s idle, MiB (RSS = anonymous + file + shared).");
        text.AppendLine();
        text.AppendLine("| variant | settings | start → ready ms | /readyz ms | first proxied request ms | next request ms | RSS | anon | file | shared | peak (VmHWM) | threads | RSS × default | ready × default |");
        text.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var row in rows)
        {
            if (row.Median is not { } m)
            {
                var why = row.Errors.FirstOrDefault()?.Replace("|", "\\|", StringComparison.Ordinal);
                text.AppendLine(CultureInfo.InvariantCulture, $"| {row.Name} | {row.Label} | {(row.Skipped ? why : $"failed: {why}")} | | | | | | | | | | | |");
                continue;
            }

            text.AppendLine(CultureInfo.InvariantCulture, $"| {row.Name} | {row.Label} | {m.ReadyMs:F0} | {(m.ReadyzMs is { } r ? r.ToString("F0", CultureInfo.InvariantCulture) : "—")} | {m.ReadyRequestMs:F1} | {m.FirstRequestMs:F1} | {m.RssMiB:F1} | {m.AnonMiB:F1} | {m.FileMiB:F1} | {m.ShmemMiB:F1} | {m.PeakMiB:F1} | {m.Threads} | {Ratio(m.RssMiB, baseline.Median?.RssMiB):F2} | {Ratio(m.ReadyMs, baseline.Median?.ReadyMs):F2} |");
        }

        text.AppendLine();
        text.AppendLine("| build | built | publish s | size MiB | distinct trim/AOT warnings | first error |");
        text.AppendLine("|---|---|---:|---:|---:|---|");
        foreach (var build in builds)
        {
            var built = build.Built ? "yes" : build.Skipped is null ? "no" : "skipped";
            text.AppendLine(CultureInfo.InvariantCulture, $"| {build.Build} | {built} | {build.PublishSeconds:F0} | {build.SizeMiB:F0} | {build.TrimWarnings} | {build.Error ?? build.Skipped ?? ""} |");
        }

        return text.ToString();
    }

    private static double? Ratio(double? value, double? baseline) => value is { } v && baseline is > 0 ? Math.Round(v / baseline.Value, 2) : null;

    private static Dictionary<string, string> Settings(params string[] pairs)
    {
        var settings = new Dictionary<string, string>();
        for (var i = 0; i + 1 < pairs.Length; i += 2)
        {
            settings[pairs[i]] = pairs[i + 1];
        }

        return settings;
    }

    private static string LoadAverage() => string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
