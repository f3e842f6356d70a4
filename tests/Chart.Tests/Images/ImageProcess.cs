using System.Diagnostics;
using System.Globalization;
using System.Runtime.Versioning;

namespace Updraft.Chart.Tests.Images;

/// <summary>
/// A component's publish output started as its image starts it: the Dockerfile's <c>ENTRYPOINT</c> in its
/// <c>WORKDIR</c>, as a non-root user, with a container's clean environment: the base image's variables, then the
/// Dockerfile's <c>ENV</c>, with <c>TMPDIR</c> and <c>HOME</c> pointed at the sandbox's directories (where the
/// chart's <c>/tmp</c> emptyDir and the image's read-only home would be), plus the run's own settings (loopback ports).
/// Stopped with SIGTERM, as the kubelet stops a container; killed by its process id on dispose if still running.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class ImageProcess : IAsyncDisposable
{
    /// <summary>
    /// What the chiseled ASP.NET Core and runtime-deps base images set (the tests cannot pull them, so this is their
    /// documented environment; runtime-deps, the Native AOT images' base, sets the same).
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string> BaseImageEnvironment = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ["APP_UID"] = "1654",
        ["ASPNETCORE_HTTP_PORTS"] = "8080",
        ["DOTNET_RUNNING_IN_CONTAINER"] = "true",
    };

    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly List<string> _output = [];

    private ImageProcess(Process process) => _process = process;

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> Output
    {
        get
        {
            lock (_output)
            {
                return [.. _output];
            }
        }
    }

    public string Describe() => string.Join('\n', Output);

    public static ImageProcess Start(PublishedImage image, ImageSandbox sandbox, IReadOnlyDictionary<string, string> settings, params string[] args)
    {
        var entrypoint = image.Dockerfile.Entrypoint;
        // `dotnet X.dll` (a framework-dependent build) runs this machine's dotnet host; `./X` (Native AOT) the binary
        // in the working directory, which is the publish output.
        var program = entrypoint[0] == "dotnet"
            ? Sandbox.DotnetHost()
            : entrypoint[0].StartsWith("./", StringComparison.Ordinal)
            ? Path.Combine(image.Directory, entrypoint[0][2..])
            : throw new InvalidOperationException($"{image.Dockerfile.Path}: the ENTRYPOINT must be `dotnet X.dll` or `./X`, not {entrypoint[0]}");
        var info = new ProcessStartInfo
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = image.Directory,
        };
        if (sandbox.User.Switch)
        {
            // setpriv execs the component: the process id is the component's own.
            info.FileName = "setpriv";
            foreach (var arg in new[] { $"--reuid={sandbox.User.Uid}", $"--regid={sandbox.User.Uid}", "--clear-groups", "--", program })
            {
                info.ArgumentList.Add(arg);
            }
        }
        else
        {
            info.FileName = program;
        }

        foreach (var arg in entrypoint.Skip(1).Concat(args))
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment.Clear();
        foreach (var (name, value) in BaseImageEnvironment)
        {
            info.Environment[name] = value;
        }

        foreach (var (name, value) in image.Dockerfile.Environment)
        {
            info.Environment[name] = value;
        }

        info.Environment["HOME"] = sandbox.Home;
        info.Environment["TMPDIR"] = sandbox.Temp;
        foreach (var (name, value) in settings)
        {
            info.Environment[name] = value;
        }

        var process = new Process { StartInfo = info };
        var result = new ImageProcess(process);
        process.OutputDataReceived += (_, e) => result.Add(e.Data);
        process.ErrorDataReceived += (_, e) => result.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>The process's <c>/proc/PID/status</c> fields (Uid, Gid, Groups, CapEff, ...).</summary>
    public Dictionary<string, string> Status()
    {
        var status = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines($"/proc/{Id.ToString(CultureInfo.InvariantCulture)}/status"))
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                status[line[..colon]] = line[(colon + 1)..].Trim();
            }
        }

        return status;
    }

    /// <summary>SIGTERM, then waits for the exit; returns the exit code.</summary>
    public async Task<int> StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", Id.ToString(CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }

        using var timeout = new CancellationTokenSource(StopTimeout);
        try
        {
            await _process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"did not exit within {StopTimeout.TotalSeconds:0} s of SIGTERM:\n{Describe()}");
        }

        _process.WaitForExit();
        return _process.ExitCode;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }
    }
}

/// <summary>
/// The user a component runs as: uid 65534 (nobody) through <c>setpriv</c> when the tests run as root, otherwise the
/// tests' own user, which is not root either.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed record ImageUser(int Uid, bool Switch)
{
    public const int Nobody = 65534;

    public static ImageUser ForThisMachine()
    {
        var uid = EffectiveUid();
        return uid == 0 ? new ImageUser(Nobody, Switch: true) : new ImageUser(uid, Switch: false);
    }

    private static int EffectiveUid()
    {
        var line = File.ReadAllLines("/proc/self/status").Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return int.Parse(line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[2], CultureInfo.InvariantCulture);
    }
}

/// <summary>
/// The directories of one run: <see cref="Temp"/> (TMPDIR, the component's user's own, as the chart's emptyDir),
/// <see cref="Home"/> (HOME, read-only, as the image's home on its read-only root) and <see cref="Config"/> (files
/// the component reads, read-only, as a mounted ConfigMap). <see cref="WatchAsync"/> records what exists; <see cref="WritesSinceAsync"/>
/// lists everything the component's user created or changed since then outside <see cref="Temp"/>.
/// </summary>
[SupportedOSPlatform("linux")]
internal sealed class ImageSandbox
{
    /// <summary>Every place the component's user could create a file without being given one (world-writable).</summary>
    private static readonly string[] SharedWritable = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock"];

    /// <summary>
    /// Names the .NET runtime gives what it writes to the temp directory (diagnostics IPC, debugger pipes, shared
    /// memory of named mutexes); when the component runs as the tests' own user, only these are attributable to it.
    /// </summary>
    private static readonly string[] RuntimeNames = ["dotnet-diagnostic-", "clr-debug-pipe-", "clr-debug-", ".dotnet", "CoreFxPipe_"];

    private ImageSandbox(ImageUser user, string directory)
    {
        User = user;
        Home = Path.Combine(directory, "home");
        Temp = Path.Combine(directory, "tmp");
        Config = Path.Combine(directory, "config");
    }

    public ImageUser User { get; }

    public string Home { get; }

    public string Temp { get; }

    public string Config { get; }

    public static async Task<ImageSandbox> CreateAsync(string root, string name)
    {
        var directory = Directory.CreateDirectory(Path.Combine(root, name + "-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        File.SetUnixFileMode(directory, Sandbox.ReadAndEnter);
        var sandbox = new ImageSandbox(ImageUser.ForThisMachine(), directory);
        Directory.CreateDirectory(sandbox.Home);
        Directory.CreateDirectory(sandbox.Config);
        Directory.CreateDirectory(sandbox.Temp);
        File.SetUnixFileMode(sandbox.Temp, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        if (sandbox.User.Switch)
        {
            var chown = await Sandbox.RunAsync("chown", [$"{sandbox.User.Uid}:{sandbox.User.Uid}", sandbox.Temp]);
            Assert.True(chown.ExitCode == 0, "chown " + sandbox.Temp + ": " + chown.Output);
        }

        return sandbox;
    }

    /// <summary>Writes a file the component reads (before <see cref="WatchAsync"/>).</summary>
    public string WriteConfig(string name, string content)
    {
        var path = Path.Combine(Config, name);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>Seals <see cref="Home"/> and <see cref="Config"/> read-only and records what exists now.</summary>
    public async Task<Watched> WatchAsync(PublishedImage image)
    {
        Sandbox.MakeReadOnly(Home);
        Sandbox.MakeReadOnly(Config);
        return new Watched(Snapshots(image), await OwnedBySharedAsync());
    }

    /// <summary>What the component's user created or changed outside <see cref="Temp"/> since <paramref name="before"/>.</summary>
    public async Task<List<string>> WritesSinceAsync(PublishedImage image, Watched before, int processId)
    {
        var writes = new List<string>();
        foreach (var (directory, snapshot) in Snapshots(image))
        {
            var earlier = before.Snapshots[directory];
            writes.AddRange(snapshot.Except(earlier, StringComparer.Ordinal).Select(e => $"{directory}: {e}"));
            writes.AddRange(earlier.Except(snapshot, StringComparer.Ordinal).Select(e => $"{directory}: gone or changed: {e}"));
        }

        var owned = await OwnedBySharedAsync();
        var created = owned.Except(before.Shared, StringComparer.Ordinal);
        if (!User.Switch)
        {
            // The tests' own user also owns what other tests create at the same time: keep what only the runtime names so.
            var pid = processId.ToString(CultureInfo.InvariantCulture);
            created = created.Where(p => Path.GetFileName(p) is var name && (name.Contains(pid, StringComparison.Ordinal) || RuntimeNames.Any(r => name.StartsWith(r, StringComparison.Ordinal))));
        }

        writes.AddRange(created.Select(p => "created " + p));
        return writes;
    }

    /// <summary>Everything in <see cref="Temp"/>, for the test's log.</summary>
    public IEnumerable<string> TempEntries() =>
        Directory.EnumerateFileSystemEntries(Temp, "*", SearchOption.AllDirectories).Select(p => Path.GetRelativePath(Temp, p));

    private Dictionary<string, List<string>> Snapshots(PublishedImage image) => new(StringComparer.Ordinal)
    {
        [image.Directory] = Snapshot(image.Directory),
        [Home] = Snapshot(Home),
        [Config] = Snapshot(Config),
    };

    /// <summary>Every entry below <paramref name="directory"/> (itself included): path, kind, size, modification time, mode.</summary>
    private static List<string> Snapshot(string directory) =>
    [
        .. new DirectoryInfo(directory).EnumerateFileSystemInfos("*", SearchOption.AllDirectories).Append(new DirectoryInfo(directory))
            .Select(e => string.Join(
                ' ',
                Path.GetRelativePath(directory, e.FullName),
                e is DirectoryInfo ? "dir" : "file",
                e is FileInfo f ? f.Length.ToString(CultureInfo.InvariantCulture) : "-",
                e.LastWriteTimeUtc.Ticks.ToString(CultureInfo.InvariantCulture),
                e.UnixFileMode.ToString()))
            .Order(StringComparer.Ordinal),
    ];

    /// <summary>Paths in the world-writable directories owned by the component's user, <see cref="Temp"/> left out.</summary>
    private async Task<HashSet<string>> OwnedBySharedAsync()
    {
        var args = new List<string>();
        args.AddRange(SharedWritable.Where(Directory.Exists));
        args.AddRange(["(", "-path", Temp, "-prune", ")", "-o", "-uid", User.Uid.ToString(CultureInfo.InvariantCulture), "-print"]);
        // Entries of other tests that vanish during the walk make find complain on stderr: only its stdout counts.
        var result = await Sandbox.RunAsync("find", args);
        return new HashSet<string>(result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries), StringComparer.Ordinal);
    }

    /// <summary>What existed when the run started.</summary>
    internal sealed record Watched(Dictionary<string, List<string>> Snapshots, HashSet<string> Shared);
}
