using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Google.Protobuf;
using Grpc.Net.Client;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Protos.ExternalScaler;
using Updraft.Tests.Common;
using ExternalScalerService = Updraft.Protos.ExternalScaler.ExternalScaler;

namespace Updraft.Interceptor.Tests.Hosting;

/// <summary>
/// The README's first steps, run as a new user runs them: <c>./updraft.sh demo</c> (on free loopback ports) and the
/// <c>dotnet run --project src/...</c> commands from the repository root. They run what the solution build produced
/// (in the configuration these tests were built in); <c>./updraft.sh test</c> builds the whole solution first.
/// </summary>
public sealed partial class FirstRunTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(90);

    /// <summary>Ctrl-C must stop every demo process within this (it took about 35 s when the scaler held a stream open).</summary>
    private static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Demo_StartsServesAndAnswersTheScalerQuestion_CtrlCStopsEveryProcessAtOnce()
    {
        var configuration = Configuration();
        foreach (var output in new[] { "examples/echo", "src/Interceptor", "src/ExternalScaler", "src/Local" })
        {
            var directory = Path.Combine(Repository.Root(), output, "bin", configuration, "net10.0");
            Assert.True(Directory.Exists(directory), $"{directory} is missing: build the solution first (dotnet build Updraft.slnx -c {configuration})");
        }

        using var temp = new TempDirectory();
        var ports = Enumerable.Range(0, 6).Select(_ => TestUpstream.FreePort()).ToArray();
        var (proxy, admin, metrics, local, scaler, scalerMetrics) = (ports[0], ports[1], ports[2], ports[3], ports[4], ports[5]);
        // The example as it is, but from a temp directory (the repository root named in full), in this build's
        // configuration, and with a shorter cooldown (still longer than the direct /sse request, 2.5 s, which the
        // interceptor does not see) so the scale-down comes within the test.
        var routes = await File.ReadAllTextAsync(Path.Combine(Repository.Root(), "examples/standalone/routes.yaml"));
        Assert.Contains("workingDirectory: ../..", routes, StringComparison.Ordinal);
        Assert.Contains("cooldownPeriod: 15s", routes, StringComparison.Ordinal);
        temp.Write("routes.yaml", routes
            .Replace("workingDirectory: ../..", "workingDirectory: " + Repository.Root(), StringComparison.Ordinal)
            .Replace("/bin/Release/", $"/bin/{configuration}/", StringComparison.Ordinal)
            .Replace("cooldownPeriod: 15s", "cooldownPeriod: 6s", StringComparison.Ordinal));
        var settings = new Dictionary<string, string>
        {
            ["CONFIGURATION"] = configuration,
            ["UPDRAFT_DEMO_NO_BUILD"] = "1",
            ["UPDRAFT_DEMO_ROUTES"] = Path.Combine(temp.Path, "routes.yaml"),
            ["KEDA_HTTP_PROXY_PORT"] = Text(proxy),
            ["KEDA_HTTP_ADMIN_PORT"] = Text(admin),
            ["UPDRAFT_DEMO_METRICS_PORT"] = Text(metrics),
            ["UPDRAFT_LOCAL_PORT"] = Text(local),
            ["KEDA_HTTP_SCALER_PORT"] = Text(scaler),
            ["UPDRAFT_DEMO_SCALER_METRICS_PORT"] = Text(scalerMetrics),
        };

        // In a session of its own, as in a terminal: Ctrl-C there signals the script and everything it started. SIGINT
        // at its default, as a terminal's shell leaves it for a foreground job: a test run started in the background
        // inherits it ignored, and bash cannot trap a signal ignored on entry.
        await using var demo = ChildProcess.Start("setsid", ["env", "--default-signal=INT", "bash", "./updraft.sh", "demo"], settings);
        try
        {
            using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(30) };
            await WaitUntilAsync(demo, () => Task.FromResult(demo.Output.Contains("follows the replicas feed", StringComparison.Ordinal)), "the interceptor follows the local autoscaler");
            await WaitUntilAsync(demo, () => Task.FromResult(demo.Output.Contains("receiving counts over the push stream", StringComparison.Ordinal)), "the scaler streams the interceptor's counts");
            Assert.DoesNotContain(" started pid=", demo.Output, StringComparison.Ordinal);

            // The first request finds the echo app at zero: it is held, the app started, and then it is answered.
            using var hello = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxy}/hello") { Headers = { Host = "echo.localhost" } };
            using var helloResponse = await client.SendAsync(hello);
            var coldStart = helloResponse.Headers.GetValues("X-KEDA-HTTP-Cold-Start").Single();
            var started = StartedLine().Match(demo.Output);
            Assert.True(started.Success, demo.Output);
            var echo = int.Parse(started.Groups["port"].Value, CultureInfo.InvariantCulture);

            // The status page it names is served, with the demo's routes on it.
            Assert.Contains($"  http://127.0.0.1:{admin}/\n", demo.Output, StringComparison.Ordinal);
            Assert.Contains("demo/echo", await client.GetStringAsync(new Uri($"http://127.0.0.1:{admin}/")), StringComparison.Ordinal);

            // /sse answers with its events, straight from the echo app's replica and through the interceptor.
            var direct = await client.GetStringAsync(new Uri($"http://127.0.0.1:{echo}/sse"));
            using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{proxy}/sse") { Headers = { Host = "echo.localhost" } };
            using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
            var proxied = await ReadEventsAsync(response);

            // What KEDA would see, without grpcurl.
            var ask = await ChildProcess.RunAsync("bash", ["./updraft.sh", "ask-scaler", "echo"], settings);
            // And the grpcurl command it prints: a request its method takes (grpcurl, like this parser, rejects unknown
            // fields), sent where it says.
            var grpcurl = GrpcurlCommand().Match(demo.Output);
            Assert.True(grpcurl.Success, demo.Output);
            using var channel = GrpcChannel.ForAddress($"http://{grpcurl.Groups["address"].Value}");
            var scalerClient = new ExternalScalerService.ExternalScalerClient(channel);
            var grpcurlAnswer = await scalerClient.GetMetricsAsync(JsonParser.Default.Parse<GetMetricsRequest>(grpcurl.Groups["json"].Value));

            // Every listener on loopback only, the replica's included.
            var nonLoopback = Listeners().Where(l => (ports.Contains(l.Port) || l.Port == echo) && !IPAddress.IsLoopback(l.Address)).ToList();
            // Quiet for the cooldown: the echo app goes back to zero.
            await WaitUntilAsync(demo, () => Task.FromResult(demo.Output.Contains("demo/echo#1 stopped exit=", StringComparison.Ordinal)), "the echo app stops after the cooldown");
            var group = ProcessGroup(demo.Id);
            var groupLines = string.Join("\n", group.Select(CommandLine));

            var interrupted = Stopwatch.StartNew();
            Signal("INT", -demo.Id);
            var exitCode = await demo.WaitForExitAsync(StopTimeout + TimeSpan.FromSeconds(5));
            while (ProcessGroup(demo.Id).Count > 0 && interrupted.Elapsed < StopTimeout)
            {
                await Task.Delay(50);
            }

            var stoppedAfter = interrupted.Elapsed;
            var left = ProcessGroup(demo.Id);

            Assert.Equal(["data: event 1", "data: event 2", "data: event 3", "data: event 4", "data: event 5"], direct.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal(["data: event 1", "data: event 2", "data: event 3", "data: event 4", "data: event 5"], proxied);
            Assert.True(ask.ExitCode == 0, ask.Output);
            Assert.Contains("GetMetricSpec  http_echo_concurrency  target 10\n", ask.Output, StringComparison.Ordinal);
            Assert.Contains("IsActive       false", ask.Output, StringComparison.Ordinal);
            Assert.Contains("GetMetrics     http_echo_concurrency  0", ask.Output, StringComparison.Ordinal);
            Assert.Equal("GetMetrics", grpcurl.Groups["method"].Value);
            Assert.Equal($"127.0.0.1:{scaler}", grpcurl.Groups["address"].Value);
            Assert.Equal("http_echo_concurrency", Assert.Single(grpcurlAnswer.MetricValues).MetricName);
            Assert.Empty(nonLoopback);
            Assert.Equal(HttpStatusCode.OK, helloResponse.StatusCode);
            Assert.Equal("true", coldStart);
            Assert.Contains("demo/echo#1 stopping (scale 1->0: no trigger active for the cooldown period (6s))", demo.Output, StringComparison.Ordinal);
            // the script, the interceptor, the scaler, the local autoscaler (the echo app stopped)
            Assert.True(group.Count == 4, groupLines + "\n" + demo.Output);
            Assert.Empty(left);
            Assert.True(stoppedAfter < StopTimeout, $"the demo took {stoppedAfter} to stop");
            Assert.Equal(130, exitCode);
            // A normal start and stop: nothing logged as a warning or a failure.
            var problems = demo.Output.Split('\n').Where(line => line.Contains(" warn: ", StringComparison.Ordinal) || line.Contains(" fail: ", StringComparison.Ordinal) || line.Contains(" crit: ", StringComparison.Ordinal)).ToList();
            Assert.True(problems.Count == 0, demo.Output);
        }
        finally
        {
            foreach (var pid in ProcessGroup(demo.Id))
            {
                Signal("KILL", pid);
            }
        }
    }

    [Fact]
    public async Task Demo_BuildFails_ShowsTheBuildOutputAndStartsNothing()
    {
        using var temp = new TempDirectory();
        // A dotnet whose build fails the way a compile error does.
        WriteScript(temp, "dotnet", "echo 'Program.cs(3,1): error CS1002: ; expected'\necho 'Build FAILED.'\nexit 1\n");

        var settings = new Dictionary<string, string> { ["PATH"] = temp.Path + ":" + Environment.GetEnvironmentVariable("PATH") };

        var result = await ChildProcess.RunAsync("bash", ["./updraft.sh", "demo"], settings);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("error CS1002: ; expected", result.Output, StringComparison.Ordinal);
        Assert.Contains("the build failed", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("Try, in another terminal", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TestRun_DotnetTestLeavesDirectoriesInTheTempDirectory_RemovedWhenTheRunEnds()
    {
        using var temp = new TempDirectory();
        var calls = Path.Combine(temp.Path, "calls");
        var outer = Directory.CreateDirectory(Path.Combine(temp.Path, "tmp")).FullName;
        // A dotnet whose builds succeed and whose test runs leave an empty directory and a file in the temp directory,
        // as the SDK's 'dotnet test' and the processes tests start do.
        WriteScript(temp, "dotnet", $"echo \"$1 $TMPDIR\" >> '{calls}'\n[ \"$1\" != test ] || {{ mktemp -d >/dev/null; mktemp >/dev/null; }}\n");
        var settings = new Dictionary<string, string> { ["PATH"] = temp.Path + ":" + Environment.GetEnvironmentVariable("PATH"), ["TMPDIR"] = outer };

        // The fuzz run: what './updraft.sh test' does around 'dotnet test', without the packages and servers it installs.
        var result = await ChildProcess.RunAsync("bash", ["./updraft.sh", "fuzz", "1"], settings);

        var tests = File.ReadAllLines(calls).Where(line => line.StartsWith("test ", StringComparison.Ordinal)).ToList();
        Assert.True(result.ExitCode == 0, result.Output);
        Assert.Equal(3, tests.Count);
        Assert.All(tests, line => Assert.StartsWith($"test {outer}/updraft-tests-", line, StringComparison.Ordinal));
        Assert.Empty(Directory.EnumerateFileSystemEntries(outer));
    }

    [Theory]
    [InlineData("src/Interceptor", new[] { "--routes", "examples/standalone/routes.yaml" }, "Interceptor listening")]
    [InlineData("src/ExternalScaler", new[] { "--routes", "examples/standalone/routes.yaml", "--interceptors", "127.0.0.1:9" }, "Scaler listening")]
    public async Task ReadmeDotnetRun_FromTheRepositoryRoot_ReadsTheRelativeRoutesFile(string project, string[] args, string listening)
    {
        var settings = new Dictionary<string, string>
        {
            ["KEDA_HTTP_PROXY_PORT"] = "0",
            ["KEDA_HTTP_ADMIN_PORT"] = "0",
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_PORT"] = "0",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_LOCAL_REPLICAS"] = "127.0.0.1:9",
        };

        // As the README writes it, without building again (the test run built it).
        await using var run = ChildProcess.Start("dotnet", ["run", "--no-build", "-c", Configuration(), "--project", project, "--", .. args], settings);
        try
        {
            await WaitUntilAsync(run, () => Task.FromResult(run.Output.Contains(listening, StringComparison.Ordinal)), $"{project} listens");
        }
        finally
        {
            run.Kill();
        }

        Assert.Contains("Loaded 3 routes from examples/standalone/routes.yaml", run.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("src/Interceptor/{0}/Updraft.Interceptor.dll", "KEDA_HTTP_PROXY_PORT", "KEDA_HTTP_ADMIN_PORT")]
    [InlineData("src/Interceptor/{0}/Updraft.Interceptor.dll", "KEDA_HTTP_ADMIN_PORT", "KEDA_HTTP_PROXY_PORT")]
    [InlineData("src/ExternalScaler/{0}/Updraft.ExternalScaler.dll", "KEDA_HTTP_SCALER_PORT", "OTEL_PROM_EXPORTER_PORT")]
    public async Task PortInUse_ExitsWithTheVariablesToSet(string program, string busyVariable, string otherVariable)
    {
        using var busy = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        busy.Start();
        var port = ((IPEndPoint)busy.LocalEndpoint).Port;
        var settings = new Dictionary<string, string>
        {
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["KEDA_HTTP_PROXY_PORT"] = "0",
            ["KEDA_HTTP_ADMIN_PORT"] = "0",
            ["KEDA_HTTP_SCALER_PORT"] = "0",
            ["OTEL_PROM_EXPORTER_PORT"] = "0",
            ["UPDRAFT_ROUTES_FILE"] = "examples/standalone/routes.yaml",
            ["UPDRAFT_LOCAL_REPLICAS"] = "127.0.0.1:9",
            [busyVariable] = Text(port),
        };

        var dll = string.Format(CultureInfo.InvariantCulture, program, $"bin/{Configuration()}/net10.0");
        var (exitCode, output) = await ChildProcess.RunAsync("dotnet", [dll], settings);

        Assert.Equal(2, exitCode);
        Assert.Contains($"127.0.0.1:{port}", output, StringComparison.Ordinal);
        Assert.Contains(busyVariable, output, StringComparison.Ordinal);
        Assert.Contains(otherVariable, output, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
    }

    private static string CommandLine(int pid)
    {
        try
        {
            return pid + ": " + File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return pid + ": (gone)";
        }
    }

    /// <summary>The local autoscaler's line for the echo app's first replica, with its port.</summary>
    [GeneratedRegex(@"demo/echo#1 started pid=\d+ port=(?<port>\d+)")]
    private static partial Regex StartedLine();

    /// <summary>The demo's grpcurl line: its request (-d), the scaler's address and the method.</summary>
    [GeneratedRegex(@"grpcurl [^']* -d '(?<json>[^']+)' \\\s+(?<address>\S+) externalscaler\.ExternalScaler/(?<method>\w+)")]
    private static partial Regex GrpcurlCommand();

    /// <summary>The configuration these tests were built in (their output is bin/CONFIGURATION/net10.0).</summary>
    private static string Configuration() =>
        Path.GetFileName(Path.GetDirectoryName(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar))!)!;

    private static void WriteScript(TempDirectory directory, string name, string body)
    {
        directory.Write(name, "#!/bin/sh\n" + body);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(Path.Combine(directory.Path, name), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static string Text(int port) => port.ToString(CultureInfo.InvariantCulture);

    private static async Task<HttpStatusCode?> StatusAsync(HttpClient client, string url, string host)
    {
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { Host = host } };
            using var response = await client.SendAsync(request);
            return response.StatusCode;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>The <c>data:</c> lines of a server-sent event stream, read as they arrive until it ends.</summary>
    private static async Task<List<string>> ReadEventsAsync(HttpResponseMessage response)
    {
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var events = new List<string>();
        while (await reader.ReadLineAsync() is { } line)
        {
            if (line.Length > 0)
            {
                events.Add(line);
            }
        }

        return events;
    }

    private static async Task WaitUntilAsync(ChildProcess process, Func<Task<bool>> condition, string what)
    {
        var deadline = Stopwatch.StartNew();
        while (!await condition())
        {
            if (process.HasExited)
            {
                Assert.Fail($"Exited ({process.ExitCode}) before {what}:\n{process.Output}");
            }

            if (deadline.Elapsed > StartTimeout)
            {
                Assert.Fail($"Timed out waiting until {what}:\n{process.Output}");
            }

            await Task.Delay(100);
        }
    }

    /// <summary>The processes whose process group is <paramref name="group"/> (from /proc).</summary>
    private static List<int> ProcessGroup(int group)
    {
        var members = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            try
            {
                // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (fields[0] != "Z" && int.Parse(fields[2], CultureInfo.InvariantCulture) == group)
                {
                    members.Add(pid);
                }
            }
            catch (IOException)
            {
                // Gone meanwhile.
            }
        }

        return members;
    }

    /// <summary>The local addresses of listening TCP sockets (IPv4 and IPv6).</summary>
    private static List<IPEndPoint> Listeners() =>
        [.. System.Net.NetworkInformation.IPGlobalProperties.GetIPGlobalProperties().GetActiveTcpListeners()];

    private static void Signal(string signal, int target)
    {
        using var kill = Process.Start("kill", ["-" + signal, "--", target.ToString(CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    /// <summary>A child process run from the repository root, its stdout and stderr collected together.</summary>
    private sealed class ChildProcess : IAsyncDisposable
    {
        private static readonly string[] ClearedPrefixes = ["KEDA_", "UPDRAFT_", "OTEL_", "ASPNETCORE_", "DOTNET_ENVIRONMENT", "CONFIGURATION"];

        private readonly Process _process;
        private readonly StringBuilder _output = new();

        private ChildProcess(Process process) => _process = process;

        public int Id => _process.Id;

        public bool HasExited => _process.HasExited;

        public int ExitCode => _process.ExitCode;

        public string Output
        {
            get
            {
                lock (_output)
                {
                    return _output.ToString();
                }
            }
        }

        public static ChildProcess Start(string program, string[] args, Dictionary<string, string> settings)
        {
            var info = new ProcessStartInfo(program)
            {
                WorkingDirectory = Repository.Root(),
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            foreach (var arg in args)
            {
                info.ArgumentList.Add(arg);
            }

            foreach (var key in info.Environment.Keys.Where(k => ClearedPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal))).ToList())
            {
                info.Environment.Remove(key);
            }

            foreach (var (key, value) in settings)
            {
                info.Environment[key] = value;
            }

            var process = new Process { StartInfo = info };
            var child = new ChildProcess(process);
            process.OutputDataReceived += (_, e) => child.Add(e.Data);
            process.ErrorDataReceived += (_, e) => child.Add(e.Data);
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return child;
        }

        /// <summary>Runs to the end (two minutes at most).</summary>
        public static async Task<(int ExitCode, string Output)> RunAsync(string program, string[] args, Dictionary<string, string> settings)
        {
            await using var child = Start(program, args, settings);
            return (await child.WaitForExitAsync(TimeSpan.FromMinutes(2)), child.Output);
        }

        public async Task<int> WaitForExitAsync(TimeSpan timeout)
        {
            using var cancel = new CancellationTokenSource(timeout);
            try
            {
                await _process.WaitForExitAsync(cancel.Token);
            }
            catch (OperationCanceledException)
            {
                Assert.Fail($"Still running after {timeout}:\n{Output}");
            }

            // Drain the output readers.
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public void Kill()
        {
            try
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(TimeSpan.FromSeconds(30));
            }
            catch (InvalidOperationException)
            {
                // Already gone.
            }
        }

        public ValueTask DisposeAsync()
        {
            Kill();
            _process.Dispose();
            return ValueTask.CompletedTask;
        }

        private void Add(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (_output)
            {
                _output.Append(line).Append('\n');
            }
        }
    }
}
