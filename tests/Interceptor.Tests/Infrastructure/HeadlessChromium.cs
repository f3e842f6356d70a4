using System.Diagnostics;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary>
/// A real headless Chromium (Debian's <c>chromium</c>) with a fresh profile in a temp directory, driven through its
/// DevTools protocol over a WebSocket: it loads a page, runs its script, and answers <see cref="EvaluateAsync"/>.
/// Disposing kills the browser by its process id (with its children) and deletes the profile, whatever happened.
/// There is no skip: without the browser the test fails saying how to install it (<c>./updraft.sh test</c> does).
/// </summary>
internal sealed class HeadlessChromium : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly string _profile;
    private readonly ClientWebSocket _socket = new();
    private readonly StringBuilder _stderr = new();
    private int _nextId;

    private HeadlessChromium(Process process, string profile)
    {
        _process = process;
        _profile = profile;
    }

    /// <summary>The browser binary: <c>/usr/bin/chromium</c>, or <c>chromium</c> elsewhere on PATH.</summary>
    public static string Binary()
    {
        string[] candidates = ["/usr/bin/chromium", .. (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries).Select(d => Path.Combine(d, "chromium"))];
        return candidates.FirstOrDefault(File.Exists)
            ?? throw new InvalidOperationException("Chromium is not installed: these tests drive a real headless Chromium. Install Debian's package " +
                "(apt-get install -y chromium), or run ./updraft.sh test, which installs it when it is missing.");
    }

    /// <summary>The flags every run uses (the closed network here needs the background ones off).</summary>
    private static List<string> Arguments(string profile) =>
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--user-data-dir=" + profile,
    ];

    /// <summary>Runs <c>chromium --dump-dom</c>: loads <paramref name="url"/>, lets its timers run for
    /// <paramref name="virtualTimeMilliseconds"/> of virtual time, and returns the serialised DOM.</summary>
    public static async Task<string> DumpDomAsync(string url, int virtualTimeMilliseconds)
    {
        var binary = Binary();
        var profile = Directory.CreateTempSubdirectory("updraft-chromium-").FullName;
        var arguments = Arguments(profile);
        arguments.AddRange(["--virtual-time-budget=" + virtualTimeMilliseconds, "--dump-dom", url]);
        var info = new ProcessStartInfo(binary, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("chromium did not start");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(StartTimeout * 2);
            await process.WaitForExitAsync(timeout.Token);
            var dom = await stdout;
            if (dom.Length == 0)
            {
                throw new InvalidOperationException($"chromium --dump-dom printed nothing (exit {process.ExitCode}): {await stderr}");
            }

            return dom;
        }
        finally
        {
            Stop(process);
            DeleteProfile(profile);
        }
    }

    /// <summary>Starts the browser on <paramref name="url"/> and connects to that page's DevTools endpoint.</summary>
    public static async Task<HeadlessChromium> OpenAsync(string url)
    {
        var binary = Binary();
        var profile = Directory.CreateTempSubdirectory("updraft-chromium-").FullName;
        var arguments = Arguments(profile);
        arguments.AddRange(["--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1", url]);
        var info = new ProcessStartInfo(binary, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("chromium did not start");
        }
        catch
        {
            DeleteProfile(profile);
            throw;
        }

        var browser = new HeadlessChromium(process, profile);
        try
        {
            process.ErrorDataReceived += (_, e) =>
            {
                lock (browser._stderr)
                {
                    browser._stderr.AppendLine(e.Data);
                }
            };
            process.OutputDataReceived += (_, _) => { };
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            await browser.ConnectAsync(url);
            return browser;
        }
        catch
        {
            await browser.DisposeAsync();
            throw;
        }
    }

    private async Task ConnectAsync(string url)
    {
        // Chromium writes the port it chose (and the browser's endpoint) to DevToolsActivePort in the profile.
        var portFile = Path.Combine(_profile, "DevToolsActivePort");
        var deadline = DateTime.UtcNow + StartTimeout;
        string? port = null;
        while (port is null)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"chromium exited ({_process.ExitCode}) before it listened: {Errors()}");
            }

            if (File.Exists(portFile) && (await File.ReadAllLinesAsync(portFile)) is [{ Length: > 0 } first, ..])
            {
                port = first;
                break;
            }

            Fail(deadline, "chromium wrote DevToolsActivePort");
            await Task.Delay(50);
        }

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        string? webSocket = null;
        while (webSocket is null)
        {
            var targets = JsonNode.Parse(await http.GetStringAsync("/json/list"))!.AsArray();
            webSocket = targets
                .Where(t => (string?)t!["type"] == "page" && ((string?)t["url"] ?? "").StartsWith(url, StringComparison.Ordinal))
                .Select(t => (string?)t!["webSocketDebuggerUrl"])
                .FirstOrDefault();
            if (webSocket is null)
            {
                Fail(deadline, "chromium opened the page " + url);
                await Task.Delay(50);
            }
        }

        await _socket.ConnectAsync(new Uri(webSocket), CancellationToken.None);
        // The target may still hold its first, empty document: wait for the page itself.
        var expected = JsonValue.Create(url).ToJsonString();
        await WaitUntilAsync($"document.readyState === 'complete' && location.href.startsWith({expected})", "chromium loaded " + url, StartTimeout);
    }

    /// <summary>Evaluates a JavaScript expression in the page and returns its value (JSON-serialisable values only).</summary>
    public async Task<JsonNode?> EvaluateAsync(string expression)
    {
        var id = Interlocked.Increment(ref _nextId);
        var command = new JsonObject
        {
            ["id"] = id,
            ["method"] = "Runtime.evaluate",
            ["params"] = new JsonObject { ["expression"] = expression, ["returnByValue"] = true },
        };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _socket.SendAsync(Encoding.UTF8.GetBytes(command.ToJsonString()), WebSocketMessageType.Text, endOfMessage: true, timeout.Token);
        while (true)
        {
            var message = JsonNode.Parse(await ReceiveAsync(timeout.Token))!;
            if ((int?)message["id"] != id)
            {
                continue; // an event, or the answer to nothing we wait for
            }

            if (message["error"] is { } error)
            {
                throw new InvalidOperationException("Runtime.evaluate failed: " + error.ToJsonString());
            }

            var result = message["result"]!;
            if (result["exceptionDetails"] is { } exception)
            {
                throw new InvalidOperationException($"the page threw evaluating {expression}: {exception.ToJsonString()}");
            }

            return result["result"]!["value"]?.DeepClone();
        }
    }

    /// <summary>Evaluates <paramref name="expression"/> until it is <c>true</c>, failing after a generous deadline.</summary>
    public async Task WaitUntilAsync(string expression, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var value = await EvaluateAsync(expression);
            if (value is JsonValue v && v.TryGetValue<bool>(out var done) && done)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting until {what} (last value of {expression}: {value?.ToJsonString() ?? "undefined"}).");
            }

            await Task.Delay(50);
        }
    }

    private async Task<string> ReceiveAsync(CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var received = await _socket.ReceiveAsync(buffer, cancellationToken);
            if (received.MessageType == WebSocketMessageType.Close)
            {
                throw new InvalidOperationException("chromium closed the DevTools connection: " + Errors());
            }

            message.Write(buffer, 0, received.Count);
            if (received.EndOfMessage)
            {
                return Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
            }
        }
    }

    private void Fail(DateTime deadline, string what)
    {
        if (DateTime.UtcNow > deadline)
        {
            throw new TimeoutException($"Timed out waiting until {what}: {Errors()}");
        }
    }

    private string Errors()
    {
        lock (_stderr)
        {
            return _stderr.ToString();
        }
    }

    private static void Stop(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            process.WaitForExit(10_000);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static void DeleteProfile(string profile)
    {
        for (var attempt = 0; attempt < 5; attempt++)
        {
            try
            {
                Directory.Delete(profile, recursive: true);
                return;
            }
            catch (DirectoryNotFoundException)
            {
                return;
            }
            catch (IOException)
            {
                // A child that was still writing; it is dead now.
                Thread.Sleep(100);
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        Stop(_process);
        _process.Dispose();
        DeleteProfile(_profile);
        return ValueTask.CompletedTask;
    }
}
