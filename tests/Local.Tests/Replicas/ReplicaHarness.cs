using Microsoft.Extensions.Time.Testing;
using Updraft.Local.Replicas;
using Updraft.Shared.Workloads;
using Updraft.Tests.Common;

namespace Updraft.Local.Tests.Replicas;

/// <summary>
/// A <see cref="WorkloadReplicas"/> under test with its event lines and its replicas' output captured, and waits for
/// conditions with generous deadlines. Disposing stops every replica.
/// </summary>
internal sealed class ReplicaHarness : IAsyncDisposable
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(90);

    private readonly StringWriter _eventLines = new();
    private readonly StringWriter _output = new();

    // TextWriter.Synchronized locks the wrapper itself (its methods are MethodImplOptions.Synchronized), not the
    // writer it wraps: readers take the same lock on the wrapper.
    private readonly TextWriter _eventLinesWriter;
    private readonly TextWriter _outputWriter;

    private ReplicaHarness(WorkloadDefinition workload, Func<CancellationToken, Task>? unpublished, FakeTimeProvider? fakeTime)
    {
        FakeTime = fakeTime;
        var time = fakeTime is null ? TimeProvider.System : (TimeProvider)fakeTime;
        _eventLinesWriter = TextWriter.Synchronized(_eventLines);
        _outputWriter = TextWriter.Synchronized(_output);
        Events = new ReplicaEventLog(_eventLinesWriter, time);
        Replicas = new WorkloadReplicas(workload, unpublished ?? (_ => Task.CompletedTask), Events, _outputWriter, time);
        Replicas.Changed += () => Interlocked.Increment(ref _changes);
    }

    /// <summary>Set when the back-off runs on a fake clock: the test advances it.</summary>
    public FakeTimeProvider? FakeTime { get; }

    public ReplicaEventLog Events { get; }

    public WorkloadReplicas Replicas { get; }

    public int Changes => Volatile.Read(ref _changes);

    public string EventLines
    {
        get
        {
            lock (_eventLinesWriter)
            {
                return _eventLines.ToString();
            }
        }
    }

    public string Output
    {
        get
        {
            lock (_outputWriter)
            {
                return _output.ToString();
            }
        }
    }

    private int _changes;

    public static ReplicaHarness Start(WorkloadDefinition workload, Func<CancellationToken, Task>? unpublished = null, bool fakeTime = false) =>
        new(workload, unpublished, fakeTime ? new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 19, 40, 1, 123, TimeSpan.Zero)) : null);

    /// <summary>A workload of <paramref name="command"/> with a TCP check, in the temp directory, every other setting as given.</summary>
    public static WorkloadDefinition Workload(
        string name,
        IReadOnlyList<string> command,
        ReadinessCheck? readiness = null,
        PortRange? ports = null,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? grace = null,
        string? workingDirectory = null,
        int maxReplicas = 10) => new("test", name)
        {
            Command = command,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
            Readiness = readiness ?? ReadinessCheck.DefaultTcp,
            Ports = ports,
            Environment = environment ?? new Dictionary<string, string>(),
            TerminationGracePeriod = grace ?? TimeSpan.FromSeconds(30),
            MaxReplicas = maxReplicas,
        };

    /// <summary><c>bash -c script</c>: bash is on every machine these tests run on (Python and /bin/sh's flavour are not).</summary>
    public static string[] Bash(string script, params string[] args) => ["bash", "-c", script, "bash", .. args];

    /// <summary>The repository's echo app on the replica's port (built with the solution, in the tests' configuration).</summary>
    public static string[] Echo(params string[] args)
    {
        var configuration = Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!)!;
        var dll = Path.Combine(Repository.Root(), "examples", "echo", "bin", configuration, "net10.0", "Updraft.Examples.Echo.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: build it first (dotnet build examples/echo -c {configuration})");
        return [DotnetHost(), dll, .. args];
    }

    /// <summary>Waits for the <paramref name="occurrence"/>-th event of <paramref name="kind"/> for replica <paramref name="index"/>.</summary>
    public async Task<ReplicaEvent> EventAsync(ReplicaEventKind kind, int index = 1, int occurrence = 1)
    {
        ReplicaEvent? found = null;
        await UntilAsync(() =>
        {
            var seen = 0;
            foreach (var recorded in Events.Recent)
            {
                if (recorded.Kind == kind && recorded.Index == index && ++seen == occurrence)
                {
                    found = recorded;
                    return true;
                }
            }

            return false;
        }, $"event {kind} #{occurrence} of replica {index}");
        return found!;
    }

    public async Task UntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Deadline;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"Timed out waiting for {what}.\nEvents:\n{EventLines}\nOutput:\n{Output}");
            }

            await Task.Delay(10);
        }
    }

    public int Count(ReplicaEventKind kind, int index = 1) => Events.Recent.Count(e => e.Kind == kind && e.Index == index);

    public static bool ProcessExists(int pid) => Directory.Exists($"/proc/{pid}");

    /// <summary>The process exists and is not a zombie (an orphan that exited waits for init to reap it).</summary>
    public static bool ProcessRuns(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] is not ('Z' or 'X');
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>The pid a script printed as <c>child=PID</c>, once it has.</summary>
    public async Task<int> ChildPidAsync()
    {
        string? line = null;
        await UntilAsync(() => (line = Output.Split('\n').FirstOrDefault(l => l.Contains("child=", StringComparison.Ordinal))) is not null, "the script's child pid");
        return int.Parse(line!.Split("child=")[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        await Replicas.StopAllAsync().WaitAsync(Deadline);
    }

    private static string DotnetHost()
    {
        if (Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host))
        {
            return host;
        }

        return Environment.ProcessPath is { } current && Path.GetFileNameWithoutExtension(current) == "dotnet" ? current : "dotnet";
    }
}
