using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using System.Text;
using System.Text.RegularExpressions;
using Updraft.Tests.Common;

namespace Updraft.Chart.Tests.Images;

/// <summary>A component's image as far as it can be made without a container engine: its Dockerfile and the publish output.</summary>
internal sealed record PublishedImage(string Component, Dockerfile Dockerfile, string Directory, TimeSpan BuildTime);

/// <summary>
/// Each component built the way its Dockerfile's build stage builds it: the stage's <c>COPY</c> steps copy from the
/// repository (honouring <c>.dockerignore</c>, keeping modification times as Docker does) into a directory that stands
/// for the stage's file system, and its <c>RUN dotnet ...</c> steps run there with <c>$TARGETARCH</c> set for this
/// machine. The publish directory the runtime stage copies is then moved aside and made read-only, as the image's root
/// file system is in the chart. The three components build one after the other in the same stage directory, so the
/// projects they share compile once (that each Dockerfile copies everything its own build needs is checked by
/// <see cref="DockerfileTests"/>). Each is built on first use (a few tens of seconds), once per test class; everything
/// is deleted afterwards.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PublishedImages : IAsyncLifetime
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromMinutes(10);
    private readonly Dictionary<string, Lazy<Task<PublishedImage>>> _images = new(StringComparer.Ordinal);
    private readonly SemaphoreSlim _building = new(1, 1);
    private string? _root;

    /// <summary>A directory every user can enter (the component runs as another user and reads its files from here).</summary>
    internal string Root => _root ?? throw new InvalidOperationException("not initialized");

    public Task InitializeAsync()
    {
        _root = Directory.CreateTempSubdirectory("updraft-images-").FullName;
        File.SetUnixFileMode(_root, Sandbox.ReadAndEnter);
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        if (_root is not null)
        {
            Sandbox.Delete(_root);
        }

        return Task.CompletedTask;
    }

    /// <param name="component">The folder under <c>src/</c> (Interceptor, ExternalScaler, Operator).</param>
    internal Task<PublishedImage> GetAsync(string component)
    {
        Lazy<Task<PublishedImage>> image;
        lock (_images)
        {
            if (!_images.TryGetValue(component, out image!))
            {
                image = new Lazy<Task<PublishedImage>>(() => BuildAsync(component));
                _images[component] = image;
            }
        }

        return image.Value;
    }

    private async Task<PublishedImage> BuildAsync(string component)
    {
        await _building.WaitAsync();
        try
        {
            return await BuildOneAsync(component);
        }
        finally
        {
            _building.Release();
        }
    }

    private async Task<PublishedImage> BuildOneAsync(string component)
    {
        var repository = Repository.Root();
        var dockerfile = Dockerfile.Load(Path.Combine(repository, "src", component, "Dockerfile"));
        var (stage, published) = dockerfile.PublishedFrom;
        // The build stage's file system: its absolute paths (WORKDIR /src, -o /app) land under this directory.
        var fileSystem = Directory.CreateDirectory(Path.Combine(Root, "build-stage")).FullName;
        var ignore = DockerIgnore.Load(repository);
        var arguments = new Dictionary<string, string>(StringComparer.Ordinal);
        var workingDirectory = fileSystem;
        var elapsed = Stopwatch.StartNew();
        foreach (var instruction in stage.Instructions)
        {
            switch (instruction.Keyword)
            {
                case "ARG":
                    var name = instruction.Arguments.Trim();
                    arguments[name] = name == "TARGETARCH"
                        ? TargetArch()
                        : throw dockerfile.Unsupported(instruction, "only the TARGETARCH build argument is supported here");
                    break;
                case "WORKDIR":
                    workingDirectory = Directory.CreateDirectory(InStage(fileSystem, workingDirectory, instruction.Arguments.Trim())).FullName;
                    break;
                case "COPY":
                    var words = Dockerfile.Words(instruction.Arguments);
                    if (words.Count < 2 || words.Any(w => w.StartsWith("--", StringComparison.Ordinal) || w.Contains('*', StringComparison.Ordinal)))
                    {
                        throw dockerfile.Unsupported(instruction, "expected COPY SOURCE... DESTINATION without flags or wildcards");
                    }

                    var destination = InStage(fileSystem, workingDirectory, words[^1]);
                    foreach (var source in words[..^1])
                    {
                        Copy(repository, source, destination, intoDirectory: words.Count > 2 || words[^1].EndsWith('/'), ignore, dockerfile, instruction);
                    }

                    break;
                case "RUN":
                    var command = Expand(instruction, dockerfile, arguments);
                    if (command.Count == 0 || command[0] != "dotnet")
                    {
                        throw dockerfile.Unsupported(instruction, "only `RUN dotnet ...` steps are supported here");
                    }

                    // Absolute paths (the -o output) are the stage's own.
                    var args = command.Skip(1).Select(a => a.StartsWith('/') ? InStage(fileSystem, workingDirectory, a) : a).ToList();
                    var result = await Sandbox.RunAsync(Sandbox.DotnetHost(), args, workingDirectory, BuildEnvironment, StepTimeout);
                    Assert.True(result.ExitCode == 0, $"{dockerfile.Path}:{instruction.Line}: `{string.Join(' ', command)}` failed (exit code {result.ExitCode}):\n{Tail(result.Output)}");
                    break;
                default:
                    throw dockerfile.Unsupported(instruction, "the image tests do not run this instruction in a build stage");
            }
        }

        var output = InStage(fileSystem, workingDirectory, published);
        Assert.True(File.Exists(Path.Combine(output, dockerfile.Entrypoint[^1])), $"{dockerfile.Entrypoint[^1]} is not in the publish output {output}");
        // The image's copy of the output; the next component's build publishes to the same path.
        var directory = Path.Combine(Root, component.ToLowerInvariant());
        Directory.Move(output, directory);
        Sandbox.MakeReadOnly(directory);
        return new PublishedImage(component, dockerfile, directory, elapsed.Elapsed);
    }

    /// <summary>The test host's environment without MSBuild's own variables, and no build nodes left running.</summary>
    private static void BuildEnvironment(IDictionary<string, string?> environment)
    {
        foreach (var key in environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            environment.Remove(key);
        }

        environment["MSBUILDDISABLENODEREUSE"] = "1";
        environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        environment["DOTNET_NOLOGO"] = "1";
    }

    /// <summary>What Docker's TARGETARCH would be on this machine.</summary>
    private static string TargetArch() => RuntimeInformation.OSArchitecture switch
    {
        Architecture.X64 => "amd64",
        Architecture.Arm64 => "arm64",
        var other => throw new PlatformNotSupportedException("no container architecture for " + other),
    };

    /// <summary>A path of the build stage (absolute, or relative to its working directory) under <paramref name="fileSystem"/>.</summary>
    private static string InStage(string fileSystem, string workingDirectory, string path) =>
        path.StartsWith('/') ? Path.Combine(fileSystem, path.TrimStart('/')) : Path.GetFullPath(Path.Combine(workingDirectory, path));

    private static List<string> Expand(DockerInstruction instruction, Dockerfile dockerfile, Dictionary<string, string> arguments)
    {
        if (instruction.Arguments.IndexOfAny(['&', '|', ';', '>', '<', '"', '\'', '`', '\\']) >= 0)
        {
            throw dockerfile.Unsupported(instruction, "shell syntax in RUN is not supported here");
        }

        var text = Regex.Replace(instruction.Arguments, @"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", match =>
            arguments.TryGetValue(match.Groups[1].Value, out var value)
                ? value
                : throw dockerfile.Unsupported(instruction, $"${match.Groups[1].Value} is not a declared build argument"));
        return Dockerfile.Words(text);
    }

    private static void Copy(string repository, string source, string destination, bool intoDirectory, DockerIgnore ignore, Dockerfile dockerfile, DockerInstruction instruction)
    {
        var relative = source.Trim('/');
        var full = Path.Combine(repository, relative);
        if (ignore.Excludes(relative) || !(File.Exists(full) || Directory.Exists(full)))
        {
            throw dockerfile.Unsupported(instruction, $"{source} is not in the build context (missing, or excluded by .dockerignore)");
        }

        if (File.Exists(full))
        {
            CopyFile(full, intoDirectory ? Path.Combine(destination, Path.GetFileName(full)) : destination);
            return;
        }

        // A directory: its contents, without what .dockerignore keeps out of the context (bin/, obj/).
        foreach (var file in Directory.EnumerateFiles(full, "*", SearchOption.AllDirectories))
        {
            var inContext = Path.GetRelativePath(repository, file).Replace('\\', '/');
            if (ignore.Excludes(inContext))
            {
                continue;
            }

            CopyFile(file, Path.Combine(destination, Path.GetRelativePath(full, file)));
        }
    }

    /// <summary>Copies with the source's modification time, as Docker's COPY does (so an unchanged file stays up to date for MSBuild).</summary>
    private static void CopyFile(string source, string target)
    {
        var modified = File.GetLastWriteTimeUtc(source);
        if (File.Exists(target) && File.GetLastWriteTimeUtc(target) == modified && new FileInfo(target).Length == new FileInfo(source).Length)
        {
            return;
        }

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        File.Copy(source, target, overwrite: true);
        File.SetLastWriteTimeUtc(target, modified);
    }

    private static string Tail(string output)
    {
        var lines = output.Split('\n');
        return string.Join('\n', lines.Skip(Math.Max(0, lines.Length - 60)));
    }
}

/// <summary>
/// The patterns of the repository's <c>.dockerignore</c> in the forms it uses: <c>**/NAME</c> (that name at any depth)
/// and <c>PATH</c> (from the context root); names may hold <c>*</c> and <c>?</c>. An excluded directory excludes
/// everything below it.
/// </summary>
internal sealed class DockerIgnore(IReadOnlyList<string> patterns)
{
    public static DockerIgnore Load(string repository)
    {
        var path = Path.Combine(repository, ".dockerignore");
        Assert.True(File.Exists(path), ".dockerignore is missing: the build context would carry bin/ and obj/");
        var patterns = File.ReadAllLines(path)
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .Select(l => l.TrimEnd('/'))
            .ToList();
        Assert.DoesNotContain(patterns, p => p.StartsWith('!'));
        return new DockerIgnore(patterns);
    }

    /// <param name="relative">A path from the context root, with <c>/</c> separators.</param>
    public bool Excludes(string relative)
    {
        var segments = relative.Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var pattern in patterns)
        {
            if (pattern.StartsWith("**/", StringComparison.Ordinal))
            {
                var name = pattern[3..];
                if (segments.Any(s => Matches(name, s)))
                {
                    return true;
                }

                continue;
            }

            var parts = pattern.Split('/');
            if (parts.Length <= segments.Length && parts.Select((p, i) => Matches(p, segments[i])).All(m => m))
            {
                return true;
            }
        }

        return false;
    }

    private static bool Matches(string pattern, string name) =>
        System.IO.Enumeration.FileSystemName.MatchesSimpleExpression(pattern, name, ignoreCase: false);
}

/// <summary>The result of one child process run to its end: its exit code, stdout, and stdout and stderr together.</summary>
internal sealed record RunResult(int ExitCode, string Stdout, string Output);

/// <summary>File-system and process helpers of the image tests.</summary>
[SupportedOSPlatform("linux")]
internal static class Sandbox
{
    /// <summary>r-x for everyone (directories the component's user enters and reads).</summary>
    public const UnixFileMode ReadAndEnter =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    private const UnixFileMode Writable = UnixFileMode.UserWrite | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    /// <summary>The dotnet host the tests run on (the image's <c>dotnet</c>).</summary>
    public static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
        {
            return host;
        }

        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, "dotnet");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("dotnet is not on PATH");
    }

    /// <summary>
    /// <paramref name="directory"/> and everything below it readable by everyone and writable by no one
    /// (<c>chmod -R a-w,a+rX</c>), as an image's files are to its user.
    /// </summary>
    public static void MakeReadOnly(string directory)
    {
        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos("*", SearchOption.AllDirectories).Append(new DirectoryInfo(directory)))
        {
            if (entry.LinkTarget is null)
            {
                var readable = UnixFileMode.UserRead | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
                if (entry is DirectoryInfo)
                {
                    readable |= UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
                }

                entry.UnixFileMode = (entry.UnixFileMode & ~Writable) | readable;
            }
        }
    }

    /// <summary>Gives the owner write permission back everywhere below <paramref name="directory"/>, then deletes it.</summary>
    public static void Delete(string directory)
    {
        if (!Directory.Exists(directory))
        {
            return;
        }

        foreach (var entry in new DirectoryInfo(directory).EnumerateFileSystemInfos("*", SearchOption.AllDirectories).Append(new DirectoryInfo(directory)))
        {
            if (entry.LinkTarget is null)
            {
                entry.UnixFileMode |= UnixFileMode.UserWrite | UnixFileMode.UserRead | (entry is DirectoryInfo ? UnixFileMode.UserExecute : 0);
            }
        }

        Directory.Delete(directory, recursive: true);
    }

    /// <summary>Runs <paramref name="file"/> to its end, stdout and stderr together.</summary>
    public static async Task<RunResult> RunAsync(string file, IEnumerable<string> args, string? workingDirectory = null, Action<IDictionary<string, string?>>? environment = null, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        environment?.Invoke(info.Environment);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start " + file);
        var stdout = new StringBuilder();
        var output = new StringBuilder();
        void Append(string? line, bool isStdout)
        {
            if (line is not null)
            {
                lock (output)
                {
                    output.AppendLine(line);
                    if (isStdout)
                    {
                        stdout.AppendLine(line);
                    }
                }
            }
        }

        process.OutputDataReceived += (_, e) => Append(e.Data, isStdout: true);
        process.ErrorDataReceived += (_, e) => Append(e.Data, isStdout: false);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish within {(timeout ?? TimeSpan.FromSeconds(60)).TotalSeconds:0} s");
        }

        process.WaitForExit();
        lock (output)
        {
            return new RunResult(process.ExitCode, stdout.ToString(), output.ToString());
        }
    }
}
