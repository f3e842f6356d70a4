using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Updraft.ExternalScaler.Tests.Infrastructure;

namespace Updraft.ExternalScaler.Tests.Nats;

/// <summary>
/// A real <c>nats-server</c> (Debian's package; <c>./updraft.sh test</c> installs it) with JetStream, on free ports of
/// a loopback address, with its store in a temp directory. Stopped by its pid; can be started again on the same ports
/// and store (a restart).
/// </summary>
internal sealed class NatsServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly string _configFile;
    private Process? _process;

    private NatsServer(string name, string host, int clientPort, int monitoringPort, string directory, string configFile)
    {
        Name = name;
        Host = host;
        ClientPort = clientPort;
        MonitoringPort = monitoringPort;
        _directory = directory;
        _configFile = configFile;
    }

    public string Name { get; }

    public string Host { get; }

    public int ClientPort { get; }

    public int MonitoringPort { get; }

    public string Url => $"nats://{Host}:{ClientPort}";

    /// <summary>KEDA's <c>natsServerMonitoringEndpoint</c> form: <c>host:port</c>.</summary>
    public string MonitoringEndpoint => $"{Host}:{MonitoringPort}";

    public bool JetStream { get; private init; } = true;

    public bool Running => _process is { HasExited: false };

    /// <summary>
    /// A single node on 127.0.0.1; with <paramref name="user"/>, clients must log in. <paramref name="config"/> is added
    /// to the configuration file (a <c>tls { … }</c> block, for example).
    /// </summary>
    public static async Task<NatsServer> StartAsync(string? user = null, string? password = null, bool jetStream = true, string? config = null)
    {
        var authorization = user is null ? "" : $$"""
            authorization { user: "{{user}}", password: "{{password}}" }
            """;
        var server = Create("n1", "127.0.0.1", ScalerHarness.FreePort(), ScalerHarness.FreePort(), extra: authorization + "\n" + config, jetStream);
        try
        {
            await server.StartAgainAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>A node of a cluster whose route listeners are <paramref name="routes"/>.</summary>
    public static NatsServer CreateClusterNode(string name, string host, int clientPort, int monitoringPort, int routePort, IEnumerable<string> routes) =>
        Create(name, host, clientPort, monitoringPort, extra: $$"""
            server_tags: ["node:{{name}}"]
            cluster {
              name: updraft-test
              listen: {{host}}:{{routePort}}
              routes: [{{string.Join(", ", routes.Select(r => "nats-route://" + r))}}]
            }
            """);

    /// <summary>The path of the nats-server binary: <c>UPDRAFT_NATS_SERVER</c>, PATH, or Debian's <c>/usr/sbin</c>.</summary>
    public static string Binary()
    {
        if (Environment.GetEnvironmentVariable("UPDRAFT_NATS_SERVER") is { Length: > 0 } configured)
        {
            return configured;
        }

        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"]);
        foreach (var directory in directories)
        {
            var candidate = Path.Combine(directory, "nats-server");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException("nats-server is not installed: run ./updraft.sh test (it installs the Debian package nats-server) or set UPDRAFT_NATS_SERVER");
    }

    /// <summary>Starts the process (again) with the same ports and store, and waits until JetStream answers.</summary>
    public async Task StartAgainAsync(bool waitForJetStream = true)
    {
        if (Running)
        {
            throw new InvalidOperationException($"nats-server {Name} is already running");
        }

        _process?.Dispose();
        _process = Process.Start(new ProcessStartInfo(Binary(), ["-c", _configFile])
        {
            UseShellExecute = false,
            RedirectStandardOutput = false,
            RedirectStandardError = false,
        }) ?? throw new InvalidOperationException("nats-server did not start");
        if (waitForJetStream)
        {
            await WaitReadyAsync();
        }
    }

    /// <summary>Waits until <c>/healthz?js-enabled-only=true</c> answers 200 (a cluster node also needs its peers).</summary>
    public async Task WaitReadyAsync()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await ScalerHarness.WaitUntilAsync(async () =>
        {
            if (!Running)
            {
                throw new InvalidOperationException($"nats-server {Name} exited with {_process!.ExitCode}; log: {Log()}");
            }

            try
            {
                using var response = await http.GetAsync(new Uri($"http://{MonitoringEndpoint}/healthz{(JetStream ? "?js-enabled-only=true" : "")}"));
                return response.StatusCode == HttpStatusCode.OK;
            }
            catch (HttpRequestException)
            {
                return false;
            }
            catch (TaskCanceledException)
            {
                return false;
            }
        }, $"nats-server {Name} answers /healthz");
    }

    /// <summary>Kills the process by its pid and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill();
            await process.WaitForExitAsync();
        }
    }

    public string Log()
    {
        var path = Path.Combine(_directory, "nats.log");
        return File.Exists(path) ? File.ReadAllText(path) : "(no log)";
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _process?.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static NatsServer Create(string name, string host, int clientPort, int monitoringPort, string extra, bool jetStream = true)
    {
        var directory = Directory.CreateTempSubdirectory("updraft-nats-").FullName;
        var configFile = Path.Combine(directory, "nats.conf");
        File.WriteAllText(configFile, $$"""
            server_name: {{name}}
            listen: {{host}}:{{clientPort}}
            http: {{host}}:{{monitoringPort}}
            log_file: "{{Path.Combine(directory, "nats.log")}}"
            {{(jetStream ? $"jetstream {{ store_dir: \"{Path.Combine(directory, "store")}\" }}" : "")}}
            {{extra}}

            """);
        return new NatsServer(name, host, clientPort, monitoringPort, directory, configFile) { JetStream = jetStream };
    }
}

/// <summary>
/// Three JetStream nodes on 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all loopback), each with the same client, monitoring
/// and route ports, as pods of a StatefulSet have: KEDA's walk finds the nodes from <c>/varz</c> <c>connect_urls</c>
/// on the endpoint's monitoring port.
/// </summary>
internal sealed class NatsCluster : IAsyncDisposable
{
    private NatsCluster(IReadOnlyList<NatsServer> nodes)
    {
        Nodes = nodes;
    }

    public IReadOnlyList<NatsServer> Nodes { get; }

    public string Urls => string.Join(",", Nodes.Select(n => n.Url));

    public static async Task<NatsCluster> StartAsync()
    {
        string[] hosts = ["127.0.0.1", "127.0.0.2", "127.0.0.3"];
        var client = PortFreeOnAll(hosts);
        var monitoring = PortFreeOnAll(hosts, client);
        var route = PortFreeOnAll(hosts, client, monitoring);
        var routes = hosts.Select(h => $"{h}:{route}").ToArray();
        var nodes = hosts.Select((host, i) => NatsServer.CreateClusterNode($"n{i + 1}", host, client, monitoring, route, routes)).ToList();
        var cluster = new NatsCluster(nodes);
        try
        {
            foreach (var node in nodes)
            {
                await node.StartAgainAsync(waitForJetStream: false);
            }

            foreach (var node in nodes)
            {
                await node.WaitReadyAsync();
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            await node.DisposeAsync();
        }
    }

    private static int PortFreeOnAll(string[] hosts, params int[] taken)
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            var port = ScalerHarness.FreePort();
            if (Array.IndexOf(taken, port) < 0 && hosts.All(host => Free(host, port)))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no port is free on every loopback address of the cluster");
    }

    private static bool Free(string host, int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Parse(host), port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
