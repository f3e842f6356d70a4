using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Updraft.Bench.Load;

/// <summary>How a start-up variant's interceptor is built: as the solution builds it, or published one of three ways.</summary>
internal enum StartupBuild
{
    Default,
    ReadyToRun,
    Trimmed,

    /// <summary>Trimmed with <c>TrimMode=partial</c> and reflection-based JSON left on (see <see cref="StartupBuilds.Publish"/>).</summary>
    TrimmedPartial,
    NativeAot,
}

/// <summary>
/// One build of the interceptor and how to start it (<see cref="File"/> with <see cref="Arguments"/>), or why there is
/// none: the publish was skipped (<see cref="Skipped"/>) or failed (<see cref="Error"/>, its first error line).
/// </summary>
internal sealed record InterceptorBuild(
    StartupBuild Build,
    string Command,
    bool Built,
    string? Skipped,
    string? Error,
    double PublishSeconds,
    double SizeMiB,
    int TrimWarnings,
    string File,
    string[] Arguments);

/// <summary>
/// Publishes the interceptor into the run's temp directory. <c>--artifacts-path</c> puts every project's obj and bin
/// there too, so nothing in the checkout changes (a plain <c>-r linux-x64</c> publish would rewrite the projects'
/// restore files under obj/ while someone else builds from them).
/// </summary>
internal static partial class StartupBuilds
{
    private const string Rid = "linux-x64";

    private static readonly TimeSpan PublishTimeout = TimeSpan.FromMinutes(20);

    /// <summary>The interceptor as the solution built it, run by the dotnet host.</summary>
    public static InterceptorBuild AsBuilt(string repo, string configuration)
    {
        var dll = Path.Combine(repo, "src", "Interceptor", "bin", configuration, "net10.0", "Updraft.Interceptor.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"build the solution first ({Path.GetRelativePath(repo, dll)} is missing)", dll);
        }

        return new(StartupBuild.Default, "dotnet build (the solution)", true, null, null, 0, DirectoryMiB(Path.GetDirectoryName(dll)!), 0, "dotnet", [dll]);
    }

    public static InterceptorBuild Skip(StartupBuild build, string reason) => new(build, "", false, reason, null, 0, 0, 0, "", []);

    public static InterceptorBuild Publish(string repo, string work, string configuration, StartupBuild build, Action<string> log)
    {
        var name = build.ToString().ToLowerInvariant();
        var output = Path.Combine(work, "publish", name);
        // Trim and AOT analysis warnings are expected (options binding, gRPC, the Kubernetes client's YAML): they must
        // not fail the publish, since what breaks at run time is what this benchmark records. Since the routes file and
        // the Kubernetes objects bind through source-generated JSON, the trimmed and Native AOT builds start in
        // standalone mode. The partial builds estimate what trimming only the framework would save: only assemblies
        // marked trimmable (the framework's) are trimmed, ours stay whole, and reflection-based JSON stays on.
        string[] lenient = ["-p:TreatWarningsAsErrors=false", "-p:WarningsAsErrors="];
        string[] partial = ["-p:TrimMode=partial", "-p:JsonSerializerIsReflectionEnabledByDefault=true"];
        string[] specific = build switch
        {
            // The project publishes Native AOT (its image's build): the other builds switch that off.
            StartupBuild.ReadyToRun => ["--self-contained", "false", "-p:PublishAot=false", "-p:PublishReadyToRun=true"],
            StartupBuild.Trimmed => ["--self-contained", "true", "-p:PublishAot=false", "-p:PublishTrimmed=true", .. lenient],
            StartupBuild.TrimmedPartial => ["--self-contained", "true", "-p:PublishAot=false", "-p:PublishTrimmed=true", .. partial, .. lenient],
            StartupBuild.NativeAot => ["--self-contained", "true", "-p:PublishAot=true", .. lenient],
            _ => throw new ArgumentOutOfRangeException(nameof(build)),
        };
        string[] arguments =
        [
            "publish", Path.Combine(repo, "src", "Interceptor", "Interceptor.csproj"), "-c", configuration, "-r", Rid, .. specific,
            "-o", output, "--artifacts-path", Path.Combine(work, "artifacts", name), "--disable-build-servers", "-nologo", "-v", "quiet",
        ];
        var command = "dotnet " + string.Join(' ', arguments.Select(a => a.Replace(work, "<work>", StringComparison.Ordinal).Replace(repo + "/", "", StringComparison.Ordinal)));
        log($"publishing {name}: {command}");
        var clock = Stopwatch.StartNew();
        var (exitCode, text) = RunDotnet(repo, arguments, Path.Combine(work, $"publish-{name}.log"));
        var seconds = clock.Elapsed.TotalSeconds;
        var warnings = TrimWarning().Matches(text).Select(m => m.Value).Distinct().Count();
        var (file, startArguments) = build == StartupBuild.ReadyToRun
            ? ("dotnet", new[] { Path.Combine(output, "Updraft.Interceptor.dll") })
            : (Path.Combine(output, "Updraft.Interceptor"), Array.Empty<string>());
        var runnable = File.Exists(startArguments.Length > 0 ? startArguments[0] : file);
        var error = exitCode == 0 && runnable ? null : FirstError(text) ?? (exitCode == 0 ? $"published, but {file} is missing" : $"dotnet publish exited with {exitCode}");
        log(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"published {name} in {seconds:F0} s: {(error is null ? $"built, {DirectoryMiB(output):F0} MiB, {warnings} distinct trim/AOT warnings" : $"FAILED: {error}")}"));
        return new(build, command, error is null, null, error, Math.Round(seconds, 1), error is null ? DirectoryMiB(output) : 0, warnings, file, startArguments);
    }

    /// <summary>The first line of <paramref name="text"/> that reports an error, trimmed; null if none does.</summary>
    public static string? FirstError(string text) =>
        text.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => ErrorLine().IsMatch(l));

    private static (int ExitCode, string Output) RunDotnet(string repo, string[] arguments, string logFile)
    {
        (int ExitCode, string Output) result;
        try
        {
            result = ChildProcess.RunToExit("dotnet", arguments, PublishTimeout, repo);
        }
        catch (TimeoutException e)
        {
            result = (-1, "error: " + e.Message);
        }

        File.WriteAllText(logFile, result.Output);
        return result;
    }

    private static double DirectoryMiB(string directory) =>
        Math.Round(new DirectoryInfo(directory).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) / 1048576.0, 1);

    [GeneratedRegex(@"warning IL\d{4}: [^\[]*")]
    private static partial Regex TrimWarning();

    [GeneratedRegex(@"(\berror\b|Unhandled exception|Exception:|\bfailed\b|^fail:|^crit:)", RegexOptions.IgnoreCase)]
    private static partial Regex ErrorLine();
}
