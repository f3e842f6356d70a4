using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Faults;

/// <summary>
/// The interceptor binary as a child process on fixed loopback proxy and admin ports (so a restarted process is the
/// same replica to clients and to the scaler), with what the fault matrix reads from it: <c>/queue</c> and its managed
/// heap. In standalone mode it owns its routes file.
/// </summary>
internal sealed partial class InterceptorChild : IAsyncDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly Dictionary<string, string> _settings;
    private readonly HttpClient _http = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(10) };
    private int _settles;

    private InterceptorChild(Dictionary<string, string> settings, string address, int proxyPort, int adminPort)
    {
        _settings = settings;
        Address = address;
        ProxyPort = proxyPort;
        AdminPort = adminPort;
    }

    public InterceptorProcess Process { get; private set; } = null!;

    public string Address { get; }

    public int ProxyPort { get; }

    public int AdminPort { get; }

    public int MetricsPort { get; private set; }

    /// <summary><c>host:port</c> of the admin listener, as the scaler is given it.</summary>
    public string AdminAddress => $"{Address}:{AdminPort}";

    private string RoutesFile => Path.Combine(_directory.Path, "routes.yaml");

    private bool Standalone => !_settings.ContainsKey("UPDRAFT_MODE");

    /// <summary>Standalone mode, serving <paramref name="routesYaml"/>.</summary>
    public static Task<InterceptorChild> StartStandaloneAsync(string routesYaml, Dictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>(settings ?? [], StringComparer.Ordinal);
        var child = new InterceptorChild(all, "127.0.0.1", FreePort(), FreePort());
        File.WriteAllText(child.RoutesFile, routesYaml);
        all["UPDRAFT_ROUTES_FILE"] = child.RoutesFile;
        return child.StartProcessAsync();
    }

    /// <summary>Kubernetes mode against <paramref name="kubeconfig"/>.</summary>
    public static Task<InterceptorChild> StartKubernetesAsync(string kubeconfig, Dictionary<string, string>? settings = null)
    {
        var all = new Dictionary<string, string>(settings ?? [], StringComparer.Ordinal)
        {
            ["UPDRAFT_MODE"] = "kubernetes",
            ["UPDRAFT_KUBECONFIG"] = kubeconfig,
        };
        return new InterceptorChild(all, "127.0.0.1", FreePort(), FreePort()).StartProcessAsync();
    }

    /// <summary>SIGKILL: in-flight requests die with the process.</summary>
    public Task KillAsync() => Process.KillAsync();

    /// <summary>Starts the process again on the same ports (the old one must have exited).</summary>
    public async Task RestartAsync()
    {
        Assert.True(Process.HasExited, "the previous interceptor process is still running");
        await Process.DisposeAsync();
        await StartProcessAsync();
    }

    /// <summary>The route's in-flight count from <c>/queue</c>, or null when <c>/queue</c> does not list it.</summary>
    public async Task<int?> ConcurrencyAsync(string route)
    {
        using var queue = JsonDocument.Parse(await _http.GetStringAsync(new Uri($"http://{AdminAddress}/queue")));
        return queue.RootElement.TryGetProperty(route, out var entry) ? entry.GetProperty("Concurrency").GetInt32() : null;
    }

    /// <summary>The route's request count from <c>/queue</c> (since this process started), or null when it is not listed.</summary>
    public async Task<long?> RequestCountAsync(string route)
    {
        using var queue = JsonDocument.Parse(await _http.GetStringAsync(new Uri($"http://{AdminAddress}/queue")));
        return queue.RootElement.TryGetProperty(route, out var entry) ? entry.GetProperty("RequestCount").GetInt64() : null;
    }

    /// <summary>Waits until <c>/queue</c> reports no request in flight for <paramref name="route"/>.</summary>
    public Task WaitForIdleAsync(string route) =>
        Poll.UntilAsync(async () => await ConcurrencyAsync(route) == 0, $"/queue reports concurrency 0 for {route}");

    /// <summary>
    /// The managed heap (<c>dotnet_total_memory_bytes</c>, what <c>GC.GetTotalMemory</c> says) once settled. In standalone
    /// mode a routes file change makes the interceptor run a blocking, compacting full collection (it does so after
    /// every parse), so the figure is the live objects only. In Kubernetes mode nothing forces a collection from
    /// outside, so it is the least of several samples taken while small requests keep the young generations collected.
    /// </summary>
    public async Task<long> SettledHeapBytesAsync(string host)
    {
        if (Standalone)
        {
            var loaded = LoadedLines();
            await File.AppendAllTextAsync(RoutesFile, $"# settle {++_settles}\n");
            await Poll.UntilAsync(() => Task.FromResult(LoadedLines() > loaded), "the routes file is reloaded (a full, compacting collection)");
            return await HeapBytesAsync();
        }

        using var client = FaultLoad.Client(Address, ProxyPort);
        var least = long.MaxValue;
        for (var i = 0; i < 20; i++)
        {
            for (var j = 0; j < 20; j++)
            {
                using var request = FaultLoad.Get(host);
                await FaultLoad.SendAsync(client, request, CancellationToken.None);
            }

            least = Math.Min(least, await HeapBytesAsync());
            await Task.Delay(50);
        }

        return least;
    }

    /// <summary><c>dotnet_total_memory_bytes</c> from the Prometheus port, as it is now.</summary>
    public async Task<long> HeapBytesAsync()
    {
        var text = await _http.GetStringAsync(new Uri($"http://{Address}:{MetricsPort}/metrics"));
        var match = TotalMemory().Match(text);
        Assert.True(match.Success, "the interceptor's /metrics has no dotnet_total_memory_bytes");
        return (long)double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    public async ValueTask DisposeAsync()
    {
        if (Process is not null)
        {
            await Process.DisposeAsync();
        }

        _http.Dispose();
        _directory.Dispose();
    }

    /// <summary>A loopback port nothing listens on now.</summary>
    public static int FreePort() => TestUpstream.FreePort();

    private async Task<InterceptorChild> StartProcessAsync()
    {
        var settings = new Dictionary<string, string>(_settings, StringComparer.Ordinal)
        {
            ["UPDRAFT_BIND_ADDRESS"] = Address,
            ["KEDA_HTTP_PROXY_PORT"] = ProxyPort.ToString(CultureInfo.InvariantCulture),
            ["KEDA_HTTP_ADMIN_PORT"] = AdminPort.ToString(CultureInfo.InvariantCulture),
        };
        Process = InterceptorProcess.Start(_directory.Path, [], settings);
        try
        {
            var line = await Process.WaitForStdoutAsync(Listening());
            MetricsPort = int.Parse(Listening().Match(line).Groups[1].Value, CultureInfo.InvariantCulture);
            await Poll.UntilAsync(ReadyAsync, "the interceptor is ready");
            return this;
        }
        catch
        {
            await DisposeAsync();
            throw;
        }
    }

    private async Task<bool> ReadyAsync()
    {
        try
        {
            using var response = await _http.GetAsync(new Uri($"http://{AdminAddress}/readyz"));
            return response.IsSuccessStatusCode;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    private int LoadedLines() => Process.StdoutLines.Count(line => line.Contains("Loaded ", StringComparison.Ordinal) && line.Contains(" routes from ", StringComparison.Ordinal));

    [GeneratedRegex(@"Interceptor listening: .*metrics port ([0-9]+)")]
    private static partial Regex Listening();

    [GeneratedRegex(@"^dotnet_total_memory_bytes (\S+)", RegexOptions.Multiline)]
    private static partial Regex TotalMemory();
}
