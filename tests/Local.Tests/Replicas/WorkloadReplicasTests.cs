using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using System.Text.Json;
using Updraft.Local.Replicas;
using Updraft.Shared.Workloads;
using Updraft.Tests.Common;
using static Updraft.Local.Tests.Replicas.ReplicaHarness;

namespace Updraft.Local.Tests.Replicas;

/// <summary>Replicas as real processes: the echo app for servers, bash scripts for odd behaviour.</summary>
[UnsupportedOSPlatform("windows")]
public sealed class WorkloadReplicasTests
{
    private static readonly HttpClient Client = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(60) };

    // Never listens, ends on SIGTERM.
    private static readonly string[] Sleeper = Bash("exec sleep 1000");

    [Fact]
    public async Task SetDesired_EchoWithTcpCheck_ReadyServesAndStopsOnShutdown()
    {
        await using var harness = Start(Workload("echo", Echo("--urls", "http://127.0.0.1:$PORT")));

        harness.Replicas.SetDesired(1, "first request");

        var started = await harness.EventAsync(ReplicaEventKind.Started);
        Assert.Matches(@"^test/echo#1 started pid=\d+ port=\d+ \(scale 0->1: first request\)$", started.Replica + " " + started.Message);
        await harness.EventAsync(ReplicaEventKind.Ready);
        var address = $"127.0.0.1:{started.Port}";
        Assert.Equal([address], harness.Replicas.ReadyAddresses);
        Assert.True(harness.Changes >= 1);
        Assert.Equal(1, harness.Replicas.Running);
        Assert.Equal(1, harness.Replicas.Desired);
        var status = Assert.Single(harness.Replicas.Replicas);
        Assert.Equal((1, started.Pid, started.Port, ReplicaState.Ready, 0), (status.Index, status.Pid, status.Port, status.State, status.Restarts));
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z test/echo#1 ready after \d+(ms|(\.\d)?s)$", harness.Events.Recent[1].Line);

        using var answer = JsonDocument.Parse(await Client.GetStringAsync(new Uri($"http://{address}/hello")));
        Assert.Equal("/hello", answer.RootElement.GetProperty("path").GetString());

        await harness.Replicas.StopAllAsync();

        Assert.False(ProcessExists(started.Pid!.Value));
        Assert.Empty(harness.Replicas.ReadyAddresses);
        Assert.Equal(0, harness.Replicas.Running);
        Assert.Empty(harness.Replicas.Replicas);
        Assert.Equal("stopping (shutdown)", (await harness.EventAsync(ReplicaEventKind.Stopping)).Message);
        Assert.Matches(@"^stopped exit=0 after \d+(ms|(\.\d)?s)$", (await harness.EventAsync(ReplicaEventKind.Stopped)).Message);
    }

    [Fact]
    public async Task SetDesired_TwoWithHttpCheckInARange_TwoPortsServeAndTheNewestStopsFirst()
    {
        var from = LoopbackPorts.Free();
        var workload = Workload(
            "pair",
            Echo(),
            readiness: new ReadinessCheck(ReadinessKind.Http, "/healthz", ReadinessCheck.DefaultPeriod, ReadinessCheck.DefaultTimeout),
            ports: new PortRange(from, from + 20),
            environment: new Dictionary<string, string> { ["ASPNETCORE_URLS"] = "http://127.0.0.1:${PORT}" });
        await using var harness = Start(workload);

        harness.Replicas.SetDesired(2, "burst");
        await harness.EventAsync(ReplicaEventKind.Ready, index: 1);
        await harness.EventAsync(ReplicaEventKind.Ready, index: 2);

        var addresses = harness.Replicas.ReadyAddresses;
        Assert.Equal(2, addresses.Count);
        Assert.NotEqual(addresses[0], addresses[1]);
        foreach (var address in addresses)
        {
            var port = int.Parse(address["127.0.0.1:".Length..], CultureInfo.InvariantCulture);
            Assert.InRange(port, from, from + 20);
            Assert.Contains("\"/x\"", await Client.GetStringAsync(new Uri($"http://{address}/x")), StringComparison.Ordinal);
        }

        harness.Replicas.SetDesired(1, "quiet");

        // Out of the ready addresses before SetDesired returns.
        Assert.Equal([addresses[0]], harness.Replicas.ReadyAddresses);
        Assert.Equal("stopping (scale 2->1: quiet)", (await harness.EventAsync(ReplicaEventKind.Stopping, index: 2)).Message);
        await harness.EventAsync(ReplicaEventKind.Stopped, index: 2);
        Assert.Equal(1, harness.Replicas.Running);
        Assert.Equal(0, harness.Count(ReplicaEventKind.Stopping, index: 1));
    }

    [Fact]
    public async Task SetDesired_ReplicaListensAfterADelay_ReadyOnceItAnswers()
    {
        var workload = Workload(
            "late",
            Bash("sleep 1; exec \"$@\"", [.. Echo("--urls", "http://127.0.0.1:$PORT")]),
            readiness: new ReadinessCheck(ReadinessKind.Http, "/", ReadinessCheck.DefaultPeriod, ReadinessCheck.DefaultTimeout));
        await using var harness = Start(workload);

        harness.Replicas.SetDesired(1, "test");

        await harness.EventAsync(ReplicaEventKind.Ready);
        Assert.Single(harness.Replicas.ReadyAddresses);
        Assert.Equal(0, harness.Count(ReplicaEventKind.Failed) + harness.Count(ReplicaEventKind.Crashed));
    }

    [Fact]
    public async Task Stop_ReadyReplica_LeavesAddressesThenAwaitsUnpublishedBeforeSigtermAndFinishesInFlight()
    {
        var unpublished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hookCalled = new TaskCompletionSource<IReadOnlyList<string>>(TaskCreationOptions.RunContinuationsAsynchronously);
        WorkloadReplicas? replicas = null;
        var workload = Workload("drain", Echo("--urls", "http://127.0.0.1:$PORT"));
        await using var harness = Start(workload, async _ =>
        {
            hookCalled.TrySetResult(replicas!.ReadyAddresses);
            await unpublished.Task;
        });
        replicas = harness.Replicas;
        harness.Replicas.SetDesired(1, "test");
        var started = await harness.EventAsync(ReplicaEventKind.Started);
        await harness.EventAsync(ReplicaEventKind.Ready);
        var pid = started.Pid!.Value;

        // A request in flight on the replica: its first event arrived, four more follow over two seconds.
        using var response = await Client.GetAsync(new Uri($"http://127.0.0.1:{started.Port}/sse"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("data: event 1", await reader.ReadLineAsync());

        harness.Replicas.SetDesired(0, "cooldown");

        Assert.Empty(harness.Replicas.ReadyAddresses);
        Assert.Empty(await hookCalled.Task.WaitAsync(Deadline));
        // The hook has not completed: no SIGTERM yet, so the replica still takes new requests.
        Assert.True(ProcessExists(pid));
        Assert.Equal(ReplicaState.Stopping, Assert.Single(harness.Replicas.Replicas).State);
        Assert.Contains("\"/still-serving\"", await Client.GetStringAsync(new Uri($"http://127.0.0.1:{started.Port}/still-serving")), StringComparison.Ordinal);
        Assert.Equal(0, harness.Count(ReplicaEventKind.Stopped));

        unpublished.SetResult();

        // SIGTERM: the app stops gracefully and finishes the stream first.
        var rest = await reader.ReadToEndAsync();
        Assert.Contains("data: event 5", rest, StringComparison.Ordinal);
        Assert.StartsWith("exit=0 ", (await harness.EventAsync(ReplicaEventKind.Stopped)).Detail, StringComparison.Ordinal);
        Assert.False(ProcessExists(pid));
        Assert.Equal(0, harness.Count(ReplicaEventKind.Killed));
    }

    [Fact]
    public async Task Stop_ReplicaIgnoresSigterm_KilledWithItsChildAfterTheGrace()
    {
        var workload = Workload("stubborn", Bash("trap '' TERM; sleep 1000 & echo \"child=$!\"; wait"), grace: TimeSpan.FromSeconds(1));
        await using var harness = Start(workload);
        harness.Replicas.SetDesired(1, "test");
        var started = await harness.EventAsync(ReplicaEventKind.Started);
        var child = await harness.ChildPidAsync();
        Assert.True(ProcessExists(child));

        harness.Replicas.SetDesired(0, "test");

        Assert.Equal("killed: still running 1s after SIGTERM", (await harness.EventAsync(ReplicaEventKind.Killed)).Message);
        var stopped = await harness.EventAsync(ReplicaEventKind.Stopped);
        Assert.Equal(137, stopped.ExitCode);
        Assert.False(ProcessExists(started.Pid!.Value));
        await harness.UntilAsync(() => !ProcessExists(child), "the script's child to be gone");
    }

    [Fact]
    public async Task Stop_WrapperScriptThatDoesNotExec_ItsServerGetsSigtermFinishesInFlightAndIsWaitedFor()
    {
        // The wrapper exits at once on SIGTERM; the server it started must get SIGTERM too and be waited for.
        var echo = string.Join(' ', Echo("--urls", "http://127.0.0.1:$PORT").Select(a => "'" + a + "'"));
        await using var harness = Start(Workload("wrapped", Bash(echo + " & echo \"child=$!\"; wait")));
        harness.Replicas.SetDesired(1, "test");
        var started = await harness.EventAsync(ReplicaEventKind.Started);
        await harness.EventAsync(ReplicaEventKind.Ready);
        var child = await harness.ChildPidAsync();

        using var response = await Client.GetAsync(new Uri($"http://127.0.0.1:{started.Port}/sse"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("data: event 1", await reader.ReadLineAsync());

        harness.Replicas.SetDesired(0, "test");

        Assert.Contains("data: event 5", await reader.ReadToEndAsync(), StringComparison.Ordinal);
        var stopped = await harness.EventAsync(ReplicaEventKind.Stopped);
        Assert.Equal(143, stopped.ExitCode);
        Assert.False(ProcessRuns(child), "the server was still running when the replica was reported stopped");
        Assert.False(ProcessRuns(started.Pid!.Value));
        Assert.Equal(0, harness.Count(ReplicaEventKind.Killed));
    }

    [Fact]
    public async Task Stop_WrapperExitsButWhatItStartedIgnoresSigterm_KilledAfterTheGrace()
    {
        var workload = Workload("orphan", Bash("bash -c 'trap \"\" TERM; echo child=$$; exec sleep 1000' & wait"), grace: TimeSpan.FromSeconds(1));
        await using var harness = Start(workload);
        harness.Replicas.SetDesired(1, "test");
        var started = await harness.EventAsync(ReplicaEventKind.Started);
        var child = await harness.ChildPidAsync(); // printed once SIGTERM is ignored

        harness.Replicas.SetDesired(0, "test");

        Assert.Equal("killed: a process it started is still running 1s after SIGTERM", (await harness.EventAsync(ReplicaEventKind.Killed)).Message);
        Assert.Equal(143, (await harness.EventAsync(ReplicaEventKind.Stopped)).ExitCode);
        Assert.False(ProcessRuns(started.Pid!.Value));
        await harness.UntilAsync(() => !ProcessRuns(child), "the process the wrapper started to be gone");
    }

    [Fact]
    public async Task Crash_LeavingAProcessBehind_ThatProcessIsKilledBeforeTheRestart()
    {
        await using var harness = Start(Workload("leaver", Bash("sleep 1000 & echo \"child=$!\"; sleep 0.2; exit 3")), fakeTime: true);
        harness.Replicas.SetDesired(1, "test");

        var crashed = await harness.EventAsync(ReplicaEventKind.Crashed);
        Assert.Equal("crashed exit=3; restarting in 1s", crashed.Message);
        Assert.Equal("killed: a process it started was still running after it exited", (await harness.EventAsync(ReplicaEventKind.Killed)).Message);
        var child = await harness.ChildPidAsync();
        await harness.UntilAsync(() => !ProcessRuns(child), "the process left behind to be gone");
    }

    [Fact]
    public async Task Crash_ExitsAtOnce_ReportsTheExitCodeAndRestartsWithADoublingBackoff()
    {
        await using var harness = Start(Workload("crash", Bash("echo going; exit 3")), fakeTime: true);
        harness.Replicas.SetDesired(1, "test");

        var first = await harness.EventAsync(ReplicaEventKind.Crashed);
        Assert.Equal("crashed exit=3; restarting in 1s", first.Message);
        Assert.Equal(3, first.ExitCode);
        var status = Assert.Single(harness.Replicas.Replicas);
        Assert.Equal((ReplicaState.Backoff, 3, (int?)null), (status.State, status.LastExitCode, status.Pid));
        Assert.Empty(harness.Replicas.ReadyAddresses);
        Assert.Contains("[test/crash#1] going", harness.Output, StringComparison.Ordinal);

        harness.FakeTime!.Advance(TimeSpan.FromSeconds(1));
        Assert.EndsWith("(restart 1)", (await harness.EventAsync(ReplicaEventKind.Started, occurrence: 2)).Message, StringComparison.Ordinal);
        Assert.Equal("crashed exit=3; restarting in 2s", (await harness.EventAsync(ReplicaEventKind.Crashed, occurrence: 2)).Message);

        harness.FakeTime.Advance(TimeSpan.FromSeconds(2));
        Assert.Equal("crashed exit=3; restarting in 4s", (await harness.EventAsync(ReplicaEventKind.Crashed, occurrence: 3)).Message);
        Assert.Equal(2, Assert.Single(harness.Replicas.Replicas).Restarts);

        harness.FakeTime.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal("crashed exit=3; restarting in 8s", (await harness.EventAsync(ReplicaEventKind.Crashed, occurrence: 4)).Message);
        Assert.Equal(4, harness.Count(ReplicaEventKind.Started));
    }

    [Fact]
    public async Task Crash_DesiredDropsDuringTheBackoff_RestartCancelled()
    {
        await using var harness = Start(Workload("cancel", Bash("exit 3")), fakeTime: true);
        harness.Replicas.SetDesired(1, "test");
        await harness.EventAsync(ReplicaEventKind.Crashed);

        harness.Replicas.SetDesired(0, "cooldown");

        Assert.Equal("restart cancelled (scale 1->0: cooldown)", (await harness.EventAsync(ReplicaEventKind.RestartCancelled)).Message);
        // The replica's supervision has ended: nothing is left to restart it.
        await harness.UntilAsync(() => harness.Replicas.Replicas.Count == 0, "the replica to be gone");
        harness.FakeTime!.Advance(TimeSpan.FromMinutes(1));
        await harness.Replicas.StopAllAsync();
        Assert.Equal(1, harness.Count(ReplicaEventKind.Started));
        Assert.Equal(0, harness.Count(ReplicaEventKind.Stopping));
    }

    [Fact]
    public async Task Crash_AfterReadyForAMinute_BackoffStartsAgainAtOneSecond()
    {
        using var directory = new ScratchDirectory();
        // The first run crashes; every later one serves.
        var workload = Workload(
            "reset",
            Bash("if [ ! -e ran ]; then touch ran; exit 3; fi; exec \"$@\"", [.. Echo("--urls", "http://127.0.0.1:$PORT")]),
            workingDirectory: directory.Path);
        await using var harness = Start(workload, fakeTime: true);
        harness.Replicas.SetDesired(1, "test");
        Assert.EndsWith("restarting in 1s", (await harness.EventAsync(ReplicaEventKind.Crashed)).Message, StringComparison.Ordinal);
        harness.FakeTime!.Advance(TimeSpan.FromSeconds(1));
        await harness.EventAsync(ReplicaEventKind.Ready);

        // Ready only briefly: the back-off goes on doubling.
        Kill(Assert.Single(harness.Replicas.Replicas).Pid!.Value);
        Assert.Equal("crashed exit=137; restarting in 2s", (await harness.EventAsync(ReplicaEventKind.Crashed, occurrence: 2)).Message);
        harness.FakeTime.Advance(TimeSpan.FromSeconds(2));
        await harness.EventAsync(ReplicaEventKind.Ready, occurrence: 2);

        // Ready for a minute: back to 1 s.
        harness.FakeTime.Advance(WorkloadReplicas.BackoffReset);
        Kill(Assert.Single(harness.Replicas.Replicas).Pid!.Value);
        Assert.Equal("crashed exit=137; restarting in 1s", (await harness.EventAsync(ReplicaEventKind.Crashed, occurrence: 3)).Message);
    }

    [Fact]
    public async Task NeverReady_PastTheTimeout_FailedStoppedAndRestartedAfterTheBackoff()
    {
        var workload = Workload("deaf", Sleeper, readiness: ReadinessCheck.DefaultTcp with { Timeout = TimeSpan.FromSeconds(1) });
        await using var harness = Start(workload, fakeTime: true);
        harness.Replicas.SetDesired(1, "test");
        var started = await harness.EventAsync(ReplicaEventKind.Started);

        Assert.Equal("failed: not ready after 1s", (await harness.EventAsync(ReplicaEventKind.Failed)).Message);
        var stopped = await harness.EventAsync(ReplicaEventKind.Stopped);
        Assert.Matches(@"^stopped exit=143 after \d+(ms|(\.\d)?s); restarting in 1s$", stopped.Message);
        Assert.False(ProcessExists(started.Pid!.Value));
        Assert.Equal(ReplicaState.Backoff, Assert.Single(harness.Replicas.Replicas).State);
        Assert.Empty(harness.Replicas.ReadyAddresses);

        harness.FakeTime!.Advance(TimeSpan.FromSeconds(1));
        Assert.EndsWith("(restart 1)", (await harness.EventAsync(ReplicaEventKind.Started, occurrence: 2)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_UnknownMissingOrNotExecutableProgramOrNoDirectory_FailedToStartWithTheReasonThenBacksOff()
    {
        using var directory = new ScratchDirectory();
        File.WriteAllText(Path.Combine(directory.Path, "plain.sh"), "#!/bin/bash\necho hi\n");
        File.SetUnixFileMode(Path.Combine(directory.Path, "plain.sh"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var cases = new (string Program, string Directory, string Reason)[]
        {
            ("updraft-no-such-program", directory.Path, "'updraft-no-such-program' is not an executable file in any directory on PATH"),
            ("./missing.sh", directory.Path, "No such file or directory"),
            ("./plain.sh", directory.Path, "Permission denied"),
            ("bash", Path.Combine(directory.Path, "gone"), "No such file or directory"),
        };

        foreach (var (program, workingDirectory, reason) in cases)
        {
            await using var harness = Start(Workload("bad", [program], workingDirectory: workingDirectory), fakeTime: true);
            harness.Replicas.SetDesired(1, "test");

            var failed = await harness.EventAsync(ReplicaEventKind.FailedToStart);
            Assert.StartsWith("failed to start: ", failed.Message, StringComparison.Ordinal);
            Assert.Contains(reason, failed.Detail, StringComparison.Ordinal);
            Assert.EndsWith("; restarting in 1s", failed.Detail, StringComparison.Ordinal);
            Assert.Equal(0, harness.Replicas.Running);

            harness.FakeTime!.Advance(TimeSpan.FromSeconds(1));
            await harness.EventAsync(ReplicaEventKind.FailedToStart, occurrence: 2);
            harness.Replicas.SetDesired(0, "test");
            await harness.EventAsync(ReplicaEventKind.RestartCancelled);
            Assert.Equal(0, harness.Count(ReplicaEventKind.Started));
        }
    }

    [Fact]
    public async Task Start_FixedPortTakenByAReplicaOrAnotherProgram_ClearEventAndTheOthersRun()
    {
        var port = LoopbackPorts.Free();
        await using var harness = Start(Workload("fixed", Sleeper, ports: new PortRange(port, port)), fakeTime: true);

        harness.Replicas.SetDesired(2, "test");

        // The two replicas start in parallel: either may take the port first.
        await harness.UntilAsync(
            () => harness.Events.Recent.Any(e => e.Kind == ReplicaEventKind.Started) && harness.Events.Recent.Any(e => e.Kind == ReplicaEventKind.FailedToStart),
            "one replica started and the other failed to start");
        var winner = harness.Events.Recent.Single(e => e.Kind == ReplicaEventKind.Started);
        var loser = harness.Events.Recent.Single(e => e.Kind == ReplicaEventKind.FailedToStart);
        Assert.Equal([1, 2], new[] { winner.Index, loser.Index }.Order());
        Assert.Equal($"port={port}", winner.Message.Split(' ')[2]);
        Assert.Equal($"failed to start: port {port} is taken by another replica of this workload; restarting in 1s", loser.Message);
        Assert.Equal(1, harness.Replicas.Running);

        using var squatter = new TcpListener(IPAddress.Loopback, LoopbackPorts.Free());
        squatter.Start();
        var taken = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await using var blocked = Start(Workload("blocked", Sleeper, ports: new PortRange(taken, taken)), fakeTime: true);
        blocked.Replicas.SetDesired(1, "test");
        Assert.Equal($"failed to start: port {taken} is in use by another program; restarting in 1s", (await blocked.EventAsync(ReplicaEventKind.FailedToStart)).Message);

        // Scaling down picks the replica that has no process first.
        harness.Replicas.SetDesired(1, "test");
        await harness.EventAsync(ReplicaEventKind.RestartCancelled, index: loser.Index);
        Assert.Equal(ReplicaState.Starting, Assert.Single(harness.Replicas.Replicas, r => r.Index == winner.Index).State);
    }

    [Fact]
    public async Task StopAllAsync_SeveralReplicas_NoProcessLeft()
    {
        await using var harness = Start(Workload("many", Sleeper));
        harness.Replicas.SetDesired(3, "test");
        await harness.UntilAsync(() => harness.Replicas.Running == 3, "three running replicas");
        var pids = harness.Replicas.Replicas.Select(r => r.Pid!.Value).ToList();
        Assert.Equal(3, pids.Distinct().Count());
        Assert.Equal(3, harness.Replicas.Replicas.Select(r => r.Port).Distinct().Count());

        await harness.Replicas.StopAllAsync();

        Assert.All(pids, pid => Assert.False(ProcessExists(pid)));
        Assert.Equal(0, harness.Replicas.Running);
        Assert.Equal(0, harness.Replicas.Desired);
        Assert.Empty(harness.Replicas.Replicas);

        // Scaling after the shutdown does nothing.
        harness.Replicas.SetDesired(2, "late");
        Assert.Empty(harness.Replicas.Replicas);
        Assert.Equal(3, harness.Events.Count(ReplicaEventKind.Started));
    }

    [Fact]
    public async Task SetDesired_RapidUpsAndDowns_SettlesOnTheLastCountAndLeavesNoProcess()
    {
        await using var harness = Start(Workload("churn", Sleeper));

        foreach (var count in new[] { 3, 0, 2, 5, 1, 0, 4, 2, 4 })
        {
            harness.Replicas.SetDesired(count, "churn");
            Assert.Equal(count, harness.Replicas.Desired);
        }

        await harness.UntilAsync(() => harness.Replicas.Running == 4 && harness.Replicas.Replicas.Count == 4, "four replicas and no stopping one");
        Assert.Equal(4, harness.Replicas.Replicas.Select(r => r.Index).Distinct().Count());
        Assert.Equal(4, harness.Replicas.Replicas.Select(r => r.Port).Distinct().Count());

        await harness.Replicas.StopAllAsync();

        var pids = harness.Events.Recent.Where(e => e.Kind == ReplicaEventKind.Started).Select(e => e.Pid!.Value).ToList();
        Assert.All(pids, pid => Assert.False(ProcessExists(pid)));
        Assert.Equal(0, harness.Events.Count(ReplicaEventKind.Crashed) + harness.Events.Count(ReplicaEventKind.FailedToStart));
    }

    [Fact]
    public async Task Output_PortInArgumentsAndEnvironment_SubstitutedAndLinesPrefixedAndCut()
    {
        var script = "echo \"arg=$1 env=$GREETING port=$PORT literal=$PORTS\"; head -c 5000 /dev/zero | tr '\\0' a; echo; echo after; exec sleep 1000";
        var workload = Workload("out", Bash(script, "--port=$PORT"), environment: new Dictionary<string, string> { ["GREETING"] = "p${PORT}x", ["PORTS"] = "many" });
        await using var harness = Start(workload);

        harness.Replicas.SetDesired(1, "test");

        var port = (await harness.EventAsync(ReplicaEventKind.Started)).Port;
        await harness.UntilAsync(() => harness.Output.Contains("[test/out#1] after", StringComparison.Ordinal), "the script's last line");
        Assert.Contains($"[test/out#1] arg=--port={port} env=p{port}x port={port} literal=many\n", harness.Output, StringComparison.Ordinal);
        Assert.Contains("[test/out#1] " + new string('a', ReplicaOutput.MaxLineBytes) + ReplicaOutput.CutMarker + "\n", harness.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('a', ReplicaOutput.MaxLineBytes + 1), harness.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_RelativeProgramWithASlash_ResolvedAgainstTheWorkingDirectory()
    {
        using var directory = new ScratchDirectory();
        Directory.CreateDirectory(Path.Combine(directory.Path, "bin"));
        var script = Path.Combine(directory.Path, "bin", "run.sh");
        File.WriteAllText(script, "#!/bin/bash\necho \"from run.sh in $PWD\"\nexec sleep 1000\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await using var harness = Start(Workload("relative", ["bin/run.sh"], workingDirectory: directory.Path));

        harness.Replicas.SetDesired(1, "test");

        await harness.UntilAsync(() => harness.Output.Contains($"[test/relative#1] from run.sh in {directory.Path}", StringComparison.Ordinal), "the script's line");
    }

    private static void Kill(int pid)
    {
        using var kill = System.Diagnostics.Process.Start("kill", ["-KILL", pid.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }
}

/// <summary>A directory of the test's own under the temp directory, removed on dispose.</summary>
internal sealed class ScratchDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("replicas-").FullName;

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
