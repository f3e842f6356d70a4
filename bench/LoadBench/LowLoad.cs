using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;

namespace Updraft.Bench.Load;

/// <summary>One fixed rate: the offered rate, the client connections it is dealt over and the measured window of each repetition.</summary>
internal sealed record LowLoadRate(double Rate, int Connections, double Seconds);

/// <summary>Settling: 1-second rounds at a rate until this many rounds in a row cost the JIT thread at most one tick, or at most so many rounds.</summary>
internal sealed record SettleRule(int QuietRounds, int MaxRounds);

/// <summary>
/// Repetitions per rate, the warm-up at the rate before each measured window, and a first warm-up per target before
/// any measurement (JIT tiers, upstream connections), each followed by settling (<see cref="TieredJit"/>).
/// </summary>
internal sealed record LowLoadPlan(int Repetitions, double WarmupSeconds, LowLoadRate FirstWarmup, LowLoadRate[] Rates)
{
    /// <summary>
    /// Windows long enough for /proc's 10 ms CPU ticks: 2,000, 10,000 and 60,000 requests per window. About 10 minutes
    /// with six targets (<see cref="EstimatedSeconds"/>), 12 if the JIT never goes quiet.
    /// </summary>
    public static readonly LowLoadPlan Full = new(2, 1, new(10_000, 32, 3), [new(100, 8, 20), new(1_000, 8, 10), new(10_000, 32, 6)]);

    /// <summary>Checks the wiring and the output; the numbers mean nothing.</summary>
    public static readonly LowLoadPlan Smoke = new(1, 0.5, new(10_000, 32, 1), [new(100, 8, 2), new(1_000, 8, 2)]);

    /// <summary>After the first warm-up, at the plan's rates in turn; the .NET processes took 8–11 rounds in the first runs.</summary>
    public static readonly SettleRule FirstSettle = new(2, 15);

    /// <summary>Before each measured window, at its rate.</summary>
    public static readonly SettleRule WindowSettle = new(1, 5);

    /// <summary>Per client run, beyond its schedule: connecting, the client's 100 ms lead, the last answers.</summary>
    private const double OverheadSeconds = 0.2;

    private const int TypicalFirstSettleRounds = 8;

    /// <summary>The typical wall time of the passes, without the targets' start-up (a few seconds in all).</summary>
    public double EstimatedSeconds(int targets) =>
        targets * (FirstWarmup.Seconds + OverheadSeconds + (TypicalFirstSettleRounds * (1 + OverheadSeconds))
            + (Repetitions * Rates.Sum(r => WindowSettle.QuietRounds * (1 + OverheadSeconds) + WarmupSeconds + r.Seconds + OverheadSeconds)));
}

/// <summary>
/// One measured window: what the client saw, and the CPU seconds the target's process, the backend and this process
/// (the client) used over the window alone. <see cref="JitCpuSeconds"/> is the part of the target's spent by its
/// tiered-compilation thread (0 once settled); <see cref="SettleRounds"/> the 1-second rounds run before the window.
/// </summary>
internal sealed record LowLoadRun(
    LowLoadRate Rate, string Target, int Repetition, RateRun Load,
    double ProcessCpuSeconds, double BackendCpuSeconds, double ClientCpuSeconds, double WallSeconds, double MachineBusy,
    double JitCpuSeconds, int SettleRounds)
{
    /// <summary>Requests due in the window that got a 2xx: what the CPU is divided by.</summary>
    public long Requests => Load.Latencies.LongLength;
}

/// <summary>
/// <c>./updraft.sh bench lowload</c> (bench/README.md, "Low load"): CPU per request and added latency at 100, 1,000 and
/// 10,000 requests/s with the open-loop constant-rate client, for the interceptor (defaults, the YARP path, the chart's
/// GC setting) against HAProxy, nginx and the backend itself, interleaved repetitions per rate.
/// </summary>
internal static class LowLoad
{
    public static int Run(string repo, string work, string configuration, string[] args, Action<string> log)
    {
        var smoke = args.Contains("--smoke");
        var outIndex = Array.IndexOf(args, "--out");
        var plan = smoke ? LowLoadPlan.Smoke : LowLoadPlan.Full;
        var clock = Stopwatch.StartNew();
        var commit = BenchSupport.ShortCommit(repo);
        var tools = new Dictionary<string, string>
        {
            ["nginx"] = LoadTools.Version("nginx", "-v"),
            ["haproxy"] = LoadTools.Version("haproxy", "-v"),
            ["dotnet"] = Environment.Version.ToString(),
        };
        foreach (var (tool, _) in tools.Where(t => t.Value == "missing"))
        {
            Console.Error.WriteLine($"lowload: {tool} is not installed (./updraft.sh bench lowload installs it)");
            return 1;
        }

        log(Invariant($"low load, {(smoke ? "smoke run" : "full run")}, commit {commit}, {Environment.ProcessorCount} cores; starting the targets"));
        var settings = new Dictionary<string, IReadOnlyDictionary<string, string>>
        {
            ["interceptor"] = new Dictionary<string, string>(),
            ["interceptor-yarp-path"] = new Dictionary<string, string> { ["UPDRAFT_LEAN_FORWARDING"] = "false" },
            ["interceptor-chart"] = new Dictionary<string, string> { ["DOTNET_GCgen0size"] = "0x4000000" },
            ["interceptor-sockets"] = new Dictionary<string, string> { ["UPDRAFT_TRANSPORT"] = "sockets" },
        };
        var starter = new Targets(repo, work, configuration);
        var nativeAot = starter.PublishNativeAot(log);
        var direct = starter.StartBackend();
        var targets = new List<Target>
        {
            direct,
            starter.StartInterceptor("interceptor", "Updraft interceptor, defaults (lean HTTP/1.1 path)", direct.Port, routes: 1, settings["interceptor"]),
            starter.StartInterceptor("interceptor-yarp-path", "Updraft interceptor, UPDRAFT_LEAN_FORWARDING=false (YARP path)", direct.Port, routes: 1, settings["interceptor-yarp-path"]),
            starter.StartInterceptor("interceptor-chart", "Updraft interceptor, DOTNET_GCgen0size=64 MiB (the chart's setting)", direct.Port, routes: 1, settings["interceptor-chart"]),
            starter.StartInterceptor("interceptor-sockets", "Updraft interceptor, UPDRAFT_TRANSPORT=sockets", direct.Port, routes: 1, settings["interceptor-sockets"]),
            starter.StartNginx(direct.Port),
            starter.StartHaproxy(direct.Port),
        };
        if (nativeAot is not null)
        {
            settings["interceptor-aot"] = new Dictionary<string, string>();
            targets.Insert(2, starter.StartInterceptor("interceptor-aot", "Updraft interceptor, defaults, Native AOT (the image's build)", direct.Port, routes: 1, settings["interceptor-aot"], nativeAot));
            settings["interceptor-aot-sockets"] = new Dictionary<string, string> { ["UPDRAFT_TRANSPORT"] = "sockets" };
            targets.Insert(3, starter.StartInterceptor("interceptor-aot-sockets", "Updraft interceptor, Native AOT, UPDRAFT_TRANSPORT=sockets", direct.Port, routes: 1, settings["interceptor-aot-sockets"], nativeAot));
        }

        log(Invariant($"{targets.Count} targets up; the passes take about {plan.EstimatedSeconds(targets.Count) / 60:F1} min"));

        var request = Encoding.ASCII.GetBytes($"GET {Targets.Path} HTTP/1.1\r\nHost: {Targets.Host}\r\n\r\n");
        foreach (var target in targets)
        {
            var warm = plan.FirstWarmup;
            var run = ConstantRateClient.Run(Endpoint(target), request, warm.Rate, 0, warm.Seconds, warm.Connections);
            var rounds = Settle(target, request, plan.Rates, LowLoadPlan.FirstSettle);
            log(Invariant($"warm-up {target.Name,-22} {warm.Rate:F0} req/s for {warm.Seconds:F0} s: achieved {run.AchievedRate:F0}, errors {run.Errors + run.NotSent}; settled in {rounds} rounds of 1 s"));
        }

        var runs = new List<LowLoadRun>();
        foreach (var rate in plan.Rates)
        {
            for (var rep = 0; rep < plan.Repetitions; rep++)
            {
                foreach (var target in Targets.InTurn(targets, rep))
                {
                    var rounds = Settle(target, request, [rate], LowLoadPlan.WindowSettle);
                    var run = Measure(target, direct, rate, plan.WarmupSeconds, request, rep, rounds);
                    runs.Add(run);
                    log(Invariant($"{rate.Rate,6:F0} req/s {rep + 1}/{plan.Repetitions} {target.Name,-22} achieved {run.Load.AchievedRate,6:F0}  p50 {Ms(run.Load.Latencies, 0.5):F3}  p99 {Ms(run.Load.Latencies, 0.99):F3}  p99.9 {Ms(run.Load.Latencies, 0.999):F3} ms  errors {run.Load.Errors + run.Load.NotSent}  CPU {run.ProcessCpuSeconds * 1e6 / Math.Max(1, run.Requests):F1} µs/req (backend {run.BackendCpuSeconds * 1e6 / Math.Max(1, run.Requests):F1})  JIT {run.JitCpuSeconds * 1e3:F0} ms (settled in {rounds})  machine busy {run.MachineBusy:P0}"));
                }
            }
        }

        var report = LowLoadReport.Build(commit, smoke, plan, tools, targets, settings, runs, clock.Elapsed);
        var file = outIndex >= 0 && outIndex + 1 < args.Length
            ? Path.GetFullPath(args[outIndex + 1])
            : smoke
                ? Path.Combine(Path.GetTempPath(), $"updraft-bench-lowload-smoke-{commit}.json")
                : Path.Combine(repo, "bench", "results", $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}-lowload.json");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        File.WriteAllText(file, report.Json);
        Console.WriteLine();
        Console.WriteLine(report.Markdown);
        Console.WriteLine($"Results: {file} ({clock.Elapsed.TotalSeconds:F0} s)");
        return 0;
    }

    /// <summary>One repetition against one target; the CPU counters are read when the client's measured window starts and when it ends.</summary>
    private static LowLoadRun Measure(Target target, Target backend, LowLoadRate rate, double warmupSeconds, byte[] request, int repetition, int settleRounds)
    {
        CpuMark? from = null;
        Dictionary<int, long>? jit = null;
        var load = ConstantRateClient.Run(Endpoint(target), request, rate.Rate, warmupSeconds, rate.Seconds, rate.Connections, () =>
        {
            from = CpuMark.Take(target, backend);
            jit = TieredJit.Snapshot(target.Process.Id);
        });
        var to = CpuMark.Take(target, backend);
        var jitAfter = TieredJit.Snapshot(target.Process.Id);
        if (from is null || jit is null)
        {
            throw new InvalidOperationException("the constant-rate client never started its measured window");
        }

        var machineTotal = to.MachineTotal - from.MachineTotal;
        return new LowLoadRun(
            rate, target.Name, repetition, load,
            to.Process - from.Process,
            to.Backend - from.Backend,
            to.Client - from.Client,
            Stopwatch.GetElapsedTime(from.Timestamp, to.Timestamp).TotalSeconds,
            machineTotal > 0 ? (to.MachineBusy - from.MachineBusy) / (double)machineTotal : 0,
            TieredJit.Ticks(jit, jitAfter) / (double)Native.ClockTicks(),
            settleRounds);
    }

    /// <summary>
    /// Runs 1-second rounds at <paramref name="rates"/> in turn until the target's tiered-compilation thread has used at
    /// most one tick in <see cref="SettleRule.QuietRounds"/> rounds in a row; returns the rounds run. Without it the
    /// JIT lands in the windows: after the first warm-up it kept compiling for seconds on a busy machine, and the first
    /// requests after a pause set off more.
    /// </summary>
    private static int Settle(Target target, byte[] request, LowLoadRate[] rates, SettleRule rule)
    {
        var quiet = 0;
        var round = 0;
        while (round < rule.MaxRounds && quiet < rule.QuietRounds)
        {
            var rate = rates[round % rates.Length];
            var before = TieredJit.Snapshot(target.Process.Id);
            ConstantRateClient.Run(Endpoint(target), request, rate.Rate, 0, 1, rate.Connections);
            quiet = TieredJit.Ticks(before, TieredJit.Snapshot(target.Process.Id)) <= 1 ? quiet + 1 : 0;
            round++;
        }

        return round;
    }

    private static IPEndPoint Endpoint(Target target) => new(IPAddress.Loopback, target.Port);

    private static double Ms(long[] sorted, double quantile) => Report.Percentile(sorted, quantile) / 1e6;

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    /// <summary>CPU counters at one instant: the target's and the backend's process, this process, and the whole machine (/proc/stat ticks).</summary>
    private sealed record CpuMark(double Process, double Backend, double Client, long Timestamp, long MachineBusy, long MachineTotal)
    {
        public static CpuMark Take(Target target, Target backend)
        {
            // First line of /proc/stat: cpu user nice system idle iowait irq softirq steal ...
            var machine = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            var total = machine.Sum();
            using var self = System.Diagnostics.Process.GetCurrentProcess();
            return new CpuMark(
                target.Process.CpuSeconds(),
                backend.Process.CpuSeconds(),
                self.TotalProcessorTime.TotalSeconds,
                Stopwatch.GetTimestamp(),
                total - machine[3] - machine[4],
                total);
        }
    }
}
