using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Updraft.Bench;
using Updraft.Bench.Load;

// Load benchmark (bench/README.md). Starts a minimal Kestrel backend and, in front of it, the interceptor (standalone,
// one route; again with 10,000 routes; and with the chart's GC setting), nginx (upstream keep-alive), HAProxy and a plain YARP app, all on
// 127.0.0.1, then measures in one run with interleaved repetitions:
//   1. throughput: wrk, HTTP/1.1 keep-alive, fixed connection count, as fast as each target answers;
//   2. latency: this program's open-loop constant-rate client at 50% and 10% of the direct maximum from pass 1;
//   3. h2c throughput: h2load with prior knowledge, where the target speaks h2c ("n/a" where it does not);
// and the CPU time and peak working set of every target's process from /proc.
// Usage: Updraft.Bench.Load [settings|soak|startup|lowload] [Release|Debug] [--smoke] [--minutes N] [--aot|--idle (soak)] [--out FILE] [--post BYTES] [--variants A,B (startup)]
//   settings: compare the interceptor under runtime/transport settings variants instead (SettingsComparison).
//   startup: start-up time and idle memory of the interceptor under runtime settings and publish modes (StartupComparison).
//   soak: the interceptor at half its maximum for N minutes, with route reloads and upstream restarts (Soak); --aot soaks
//         the image's Native AOT build instead of the JIT build; --idle leaves two interceptors idle but for probes and
//         scrapes instead, one with the idle memory release off (IdleSoak).
//   lowload: CPU per request and added latency at 100, 1,000 and 10,000 req/s, open loop, against HAProxy (LowLoad).
// Or: Updraft.Bench.Load rate PORT RATE SECONDS [CONNECTIONS]: the open-loop client alone (RateCommand, for bench/profile.sh).
if (args.FirstOrDefault() == "rate")
{
    return RateCommand.Run(args);
}

var repo = BenchSupport.RepositoryRoot();
var compareSettings = args.FirstOrDefault() == "settings";
var soak = args.FirstOrDefault() == "soak";
var startup = args.FirstOrDefault() == "startup";
var lowLoad = args.FirstOrDefault() == "lowload";
var configuration = args.Skip(compareSettings || soak || startup || lowLoad ? 1 : 0).FirstOrDefault(a => !a.StartsWith('-')) ?? "Release";
var smoke = args.Contains("--smoke");
var outIndex = Array.IndexOf(args, "--out");
var postIndex = Array.IndexOf(args, "--post");
var postBytes = postIndex < 0 ? 0
    : postIndex + 1 < args.Length && int.TryParse(args[postIndex + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var bytes) && bytes is > 0 and <= 1_000_000 ? bytes
    : -1;
if (postBytes < 0)
{
    Console.Error.WriteLine("loadbench: --post takes the body size in bytes, 1 to 1000000 (e.g. --post 1024)");
    return 2;
}

var plan = smoke ? Plan.Smoke : Plan.Full;
var clock = Stopwatch.StartNew();

Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    ChildProcess.StopAll();
    Environment.Exit(130);
};
AppDomain.CurrentDomain.ProcessExit += (_, _) => ChildProcess.StopAll();

var work = Directory.CreateTempSubdirectory("updraft-bench-load-");
try
{
    return soak
        ? Soak.Run(repo, work.FullName, configuration, args, Log)
        : compareSettings
        ? SettingsComparison.Run(repo, work.FullName, configuration, smoke, outIndex >= 0 && outIndex + 1 < args.Length ? Path.GetFullPath(args[outIndex + 1]) : null, Log)
        : startup
        ? StartupComparison.Run(repo, work.FullName, configuration, smoke, outIndex >= 0 && outIndex + 1 < args.Length ? Path.GetFullPath(args[outIndex + 1]) : null, VariantsArgument(), Log)
        : lowLoad
        ? LowLoad.Run(repo, work.FullName, configuration, args, Log)
        : Run();
}
catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or System.ComponentModel.Win32Exception)
{
    Console.Error.WriteLine($"loadbench: {e.Message}");
    return 1;
}
finally
{
    ChildProcess.StopAll();
    work.Delete(recursive: true);
}

int Run()
{
    var commit = BenchSupport.ShortCommit(repo);
    var tools = new Dictionary<string, string>
    {
        ["wrk"] = LoadTools.Version("wrk", "-v"),
        ["h2load"] = LoadTools.Version("h2load", "--version"),
        ["nginx"] = LoadTools.Version("nginx", "-v"),
        ["haproxy"] = LoadTools.Version("haproxy", "-v"),
        ["dotnet"] = Environment.Version.ToString(),
    };
    foreach (var (tool, version) in tools.Where(t => t.Value == "missing"))
    {
        Console.Error.WriteLine($"loadbench: {tool} is not installed (./updraft.sh bench load installs it)");
        return 1;
    }

    Log($"{(smoke ? "smoke run" : "full run")}, commit {commit}, {Environment.ProcessorCount} cores; starting the targets");
    var starter = new Targets(repo, work.FullName, configuration);
    // Published before anything runs: the image's build, the one a deployment runs.
    var nativeAot = starter.PublishNativeAot(Log);
    var sockets = new Dictionary<string, string> { ["UPDRAFT_TRANSPORT"] = "sockets" };
    var direct = starter.StartBackend();
    var targets = new List<Target>
    {
        direct,
        starter.StartInterceptor("interceptor", "Updraft interceptor, 1 route", direct.Port, routes: 1),
        starter.StartInterceptor("interceptor-10k", "Updraft interceptor, 10,000 routes", direct.Port, routes: 10_000),
        starter.StartInterceptor("interceptor-sockets", "Updraft interceptor, 1 route, UPDRAFT_TRANSPORT=sockets", direct.Port, routes: 1, sockets),
        // As bench/README.md's production settings deploy it: the larger first GC generation, for the low-load tail.
        starter.StartInterceptor("interceptor-chart", "Updraft interceptor, 1 route, DOTNET_GCgen0size=64 MiB (the chart's setting)", direct.Port, routes: 1, new Dictionary<string, string> { ["DOTNET_GCgen0size"] = "0x4000000" }),
        starter.StartNginx(direct.Port),
        starter.StartHaproxy(direct.Port),
        starter.StartYarp(direct.Port),
    };
    if (nativeAot is not null)
    {
        targets.Insert(2, starter.StartInterceptor("interceptor-aot", "Updraft interceptor, 1 route, Native AOT (the image's build)", direct.Port, routes: 1, build: nativeAot));
        targets.Insert(3, starter.StartInterceptor("interceptor-aot-sockets", "Updraft interceptor, 1 route, Native AOT, UPDRAFT_TRANSPORT=sockets", direct.Port, routes: 1, sockets, nativeAot));
    }

    var idleMemory = targets.ToDictionary(t => t.Name, t => t.Process.StatusMiB("VmRSS"));
    var results = targets.ToDictionary(t => t.Name, _ => new TargetResults());
    var script = LoadTools.WriteWrkScript(work.FullName, postBytes);
    var bodyFile = postBytes > 0 ? Path.Combine(work.FullName, "body.bin") : null;
    if (bodyFile is not null)
    {
        File.WriteAllBytes(bodyFile, Enumerable.Repeat((byte)'x', postBytes).ToArray());
    }

    string Url(Target t, int port) => $"http://127.0.0.1:{port}{Targets.Path}";

    // Warm-up: JIT tiers, connection pools, nginx/HAProxy upstream connections. Discarded.
    if (plan.WarmupSeconds > 0)
    {
        foreach (var target in targets)
        {
            LoadTools.Wrk(script, Url(target, target.Port), Targets.Host, plan.WrkThreads, plan.Connections, plan.WarmupSeconds);
        }
    }

    // 1. Throughput, interleaved: each repetition visits every target, starting one further along each time.
    for (var rep = 0; rep < plan.ThroughputReps; rep++)
    {
        foreach (var target in Targets.InTurn(targets, rep))
        {
            var (run, cpu) = Measure(target, direct, () => LoadTools.Wrk(script, Url(target, target.Port), Targets.Host, plan.WrkThreads, plan.Connections, plan.WrkSeconds));
            results[target.Name].Throughput.Add(run);
            results[target.Name].ThroughputCpu.Add(cpu with { Requests = run.Requests });
            Log(Invariant($"throughput {rep + 1}/{plan.ThroughputReps} {target.Name,-16} {run.RequestsPerSecond,9:F0} req/s  p50 {run.P50Ms:F2} ms  p99 {run.P99Ms:F2} ms  errors {run.Errors}  machine busy {cpu.MachineBusy:P0}"));
        }
    }

    var directMax = Median(results[direct.Name].Throughput.Select(r => r.RequestsPerSecond));

    // 2. Latency at fixed rates derived from the direct maximum, interleaved the same way.
    var endpoint = (Target t) => new IPEndPoint(IPAddress.Loopback, t.Port);
    var request = Encoding.ASCII.GetBytes(postBytes > 0
        ? Invariant($"POST {Targets.Path} HTTP/1.1\r\nHost: {Targets.Host}\r\nContent-Type: application/octet-stream\r\nContent-Length: {postBytes}\r\n\r\n") + new string('x', postBytes)
        : $"GET {Targets.Path} HTTP/1.1\r\nHost: {Targets.Host}\r\n\r\n");
    for (var rep = 0; rep < plan.LatencyReps; rep++)
    {
        foreach (var fraction in plan.RateFractions)
        {
            var rate = Math.Round(directMax * fraction);
            foreach (var target in Targets.InTurn(targets, rep))
            {
                var (run, cpu) = Measure(target, direct, () => ConstantRateClient.Run(endpoint(target), request, rate, plan.RateWarmupSeconds, plan.RateSeconds, plan.Connections));
                var key = FractionKey(fraction);
                var r = results[target.Name];
                (r.Latency.TryGetValue(key, out var runs) ? runs : r.Latency[key] = []).Add(run);
                (r.LatencyCpu.TryGetValue(key, out var cpus) ? cpus : r.LatencyCpu[key] = []).Add(cpu);
                Log(Invariant($"latency {rep + 1}/{plan.LatencyReps} at {rate:F0} req/s {target.Name,-16} achieved {run.AchievedRate,7:F0}  p50 {Ms(Percentile(run.Latencies, 0.5)):F3} ms  p99 {Ms(Percentile(run.Latencies, 0.99)):F3} ms  p99.9 {Ms(Percentile(run.Latencies, 0.999)):F3} ms  errors {run.Errors}  {target.Name} {cpu.ProcessSeconds / cpu.WallSeconds:F2} cores, client {cpu.ClientSeconds / cpu.WallSeconds:F2}, machine busy {cpu.MachineBusy:P0}"));
            }
        }
    }

    // 3. h2c, where the target speaks it.
    var h2cTargets = targets.Where(t => t.H2cPort is int port && LoadTools.SupportsH2c(Url(t, port), Targets.Host, bodyFile)).ToList();
    foreach (var target in targets.Except(h2cTargets))
    {
        Log($"h2c {target.Name}: not supported, recorded as n/a");
    }

    for (var rep = 0; rep < plan.H2Reps; rep++)
    {
        foreach (var target in Targets.InTurn(h2cTargets, rep))
        {
            var run = LoadTools.H2Load(Url(target, target.H2cPort!.Value), Targets.Host, plan.WrkThreads, plan.H2Connections, plan.H2Streams, plan.H2Seconds, bodyFile);
            results[target.Name].H2c.Add(run);
            Log(Invariant($"h2c {rep + 1}/{plan.H2Reps} {target.Name,-16} {run.RequestsPerSecond,9:F0} req/s  failed {run.Failed}"));
        }
    }

    foreach (var target in targets)
    {
        results[target.Name].PeakWorkingSetMiB = target.Process.StatusMiB("VmHWM");
        results[target.Name].IdleWorkingSetMiB = idleMemory[target.Name];
    }

    var report = Report.Build(commit, smoke, plan, tools, targets, results, directMax, clock.Elapsed, postBytes);
    var resultsDirectory = Path.Combine(repo, "bench", "results");
    Directory.CreateDirectory(resultsDirectory);
    var file = outIndex >= 0 && outIndex + 1 < args.Length
        ? Path.GetFullPath(args[outIndex + 1])
        : smoke
            ? Path.Combine(work.Parent!.FullName, $"updraft-bench-load-smoke-{commit}{(postBytes > 0 ? Invariant($"-post{postBytes}") : "")}.json")
            : Path.Combine(resultsDirectory, $"{DateTime.UtcNow:yyyy-MM-dd}-{commit}{(postBytes > 0 ? Invariant($"-post{postBytes}") : "")}.json");
    File.WriteAllText(file, report.Json);
    Console.WriteLine();
    Console.WriteLine(report.Markdown);
    Console.WriteLine($"Results: {file} ({clock.Elapsed.TotalSeconds:F0} s)");
    return 0;
}

(T Run, CpuSample Cpu) Measure<T>(Target target, Target backend, Func<T> measure)
{
    var machine = MachineCpu();
    var process = target.Process.CpuSeconds();
    var backendCpu = backend.Process.CpuSeconds();
    var client = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
    var started = Stopwatch.GetTimestamp();
    var run = measure();
    var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
    var (busy, total) = MachineCpu();
    var machineBusy = total > machine.Total ? (busy - machine.Busy) / (double)(total - machine.Total) : 0;
    var clientSeconds = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - client;
    return (run, new CpuSample(target.Process.CpuSeconds() - process, target == backend ? 0 : backend.Process.CpuSeconds() - backendCpu, clientSeconds, seconds, machineBusy, 0));
}

// --variants a,b: the start-up variants to run (the default always runs, as the baseline).
string[]? VariantsArgument()
{
    var index = Array.IndexOf(args, "--variants");
    return index >= 0 && index + 1 < args.Length ? args[index + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : null;
}

void Log(string message) => Console.WriteLine(Invariant($"[{clock.Elapsed.TotalSeconds,5:F0}s] {message}"));

static (long Busy, long Total) MachineCpu()
{
    // First line of /proc/stat: cpu user nice system idle iowait irq softirq steal ...
    var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
        .Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
    var total = fields.Sum();
    return (total - fields[3] - fields[4], total);
}

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

static double Ms(long nanoseconds) => nanoseconds / 1e6;

static long Percentile(long[] sorted, double quantile) => Report.Percentile(sorted, quantile);

static double Median(IEnumerable<double> values) => Report.Median(values);

static string FractionKey(double fraction) => Report.FractionKey(fraction);
