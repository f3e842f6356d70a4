using System.Globalization;
using System.Net;
using System.Text;

namespace Updraft.Bench.Load;

/// <summary>What the load goes to: a name, its HTTP/1.1 port, its h2c port if it has one, and the process whose CPU and memory are measured.</summary>
internal sealed record Target(string Name, string Label, bool IsPeer, int Port, int? H2cPort, ChildProcess Process);

/// <summary>Starts the backend and every proxy on loopback, each in its own process, with configs in the run's temp directory.</summary>
internal sealed class Targets(string repo, string work, string configuration)
{
    /// <summary>The request every target gets: a host and path that the one-route and the 10,000-route interceptors both route.</summary>
    public const string Host = "app-1250.bench";

    public const string Path = "/api/v1/items";

    private static readonly HttpClient Probe = new(new SocketsHttpHandler { UseProxy = false, PooledConnectionLifetime = TimeSpan.Zero }) { Timeout = TimeSpan.FromSeconds(5) };

    public Target StartBackend()
    {
        int port = BenchSupport.FreePort(), h2c = BenchSupport.FreePort();
        var process = StartDotnet("backend", "bench/Backend", "Updraft.Bench.Backend", [Invariant(port), Invariant(h2c)], null);
        return Ready(new Target("direct", "direct to the backend (Kestrel)", false, port, h2c, process));
    }

    /// <summary>
    /// The order of repetition <paramref name="repetition"/> of an interleaved pass: every target, starting one further
    /// along each time, so that a slow minute on a shared machine lands on different targets.
    /// </summary>
    public static IEnumerable<Target> InTurn(List<Target> targets, int repetition) =>
        targets.Skip(repetition % targets.Count).Concat(targets.Take(repetition % targets.Count));

    /// <param name="settings">Extra environment variables for this interceptor process (a settings variant).</param>
    /// <param name="build">A published build to start (the Native AOT binary, as the image runs it); null for the
    /// solution's build, run by the dotnet host.</param>
    public Target StartInterceptor(string name, string label, int backendPort, int routes, IReadOnlyDictionary<string, string>? settings = null, InterceptorBuild? build = null)
    {
        var routesFile = System.IO.Path.Combine(work, $"{name}-routes.yaml");
        File.WriteAllText(routesFile, RoutesYaml(routes, backendPort));
        int port = BenchSupport.FreePort(), admin = BenchSupport.FreePort();
        var environment = new Dictionary<string, string>
        {
            ["KEDA_HTTP_PROXY_PORT"] = Invariant(port),
            ["KEDA_HTTP_ADMIN_PORT"] = Invariant(admin),
            ["OTEL_PROM_EXPORTER_ENABLED"] = "false",
            ["UPDRAFT_BIND_ADDRESS"] = "127.0.0.1",
            ["UPDRAFT_ROUTES_FILE"] = routesFile,
            ["UPDRAFT_LOG_LEVEL"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string>())
        {
            environment[key] = value;
        }

        var process = build is null
            ? StartDotnet(name, "src/Interceptor", "Updraft.Interceptor", [], environment)
            : ChildProcess.Start(name, build.File, build.Arguments, work, environment);
        // The proxy port speaks h2c with prior knowledge too.
        return Ready(new Target(name, label, false, port, port, process));
    }

    public Target StartYarp(int backendPort)
    {
        int port = BenchSupport.FreePort(), h2c = BenchSupport.FreePort();
        var process = StartDotnet("yarp", "bench/YarpProxy", "Updraft.Bench.YarpProxy", [Invariant(port), Invariant(h2c), $"http://127.0.0.1:{Invariant(backendPort)}"], null);
        return Ready(new Target("yarp", "YARP, LoadFromMemory, 1 route", true, port, h2c, process));
    }

    public Target StartNginx(int backendPort)
    {
        int port = BenchSupport.FreePort(), h2c = BenchSupport.FreePort();
        var prefix = Directory.CreateDirectory(System.IO.Path.Combine(work, "nginx")).FullName;
        var config = System.IO.Path.Combine(prefix, "nginx.conf");
        // One process (master_process off: the single worker is the process we start, measure and stop by pid),
        // upstream keep-alive as nginx documents it, no cap on requests per connection (the default 1,000 makes h2load's
        // connections die and wrk reconnect; Kestrel and HAProxy have no cap), every file nginx writes inside the temp prefix.
        File.WriteAllText(config, $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{prefix}}/nginx.pid;
            error_log {{prefix}}/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                keepalive_requests 1000000;
                client_body_temp_path {{prefix}}/client_body;
                proxy_temp_path {{prefix}}/proxy;
                fastcgi_temp_path {{prefix}}/fastcgi;
                uwsgi_temp_path {{prefix}}/uwsgi;
                scgi_temp_path {{prefix}}/scgi;
                upstream backend {
                    server 127.0.0.1:{{backendPort}};
                    keepalive 128;
                    keepalive_requests 1000000;
                }
                server {
                    listen 127.0.0.1:{{port}};
                    listen 127.0.0.1:{{h2c}} http2;
                    location / {
                        proxy_pass http://backend;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                    }
                }
            }
            """);
        var process = Start("nginx", "nginx", ["-p", prefix, "-c", config, "-e", System.IO.Path.Combine(prefix, "error.log")]);
        return Ready(new Target("nginx", "nginx, proxy_pass + upstream keepalive", true, port, h2c, process));
    }

    public Target StartHaproxy(int backendPort)
    {
        int port = BenchSupport.FreePort(), h2c = BenchSupport.FreePort();
        var config = System.IO.Path.Combine(work, "haproxy.cfg");
        File.WriteAllText(config, $"""
            global
                nbthread 1
                maxconn 4096
            defaults
                mode http
                option http-keep-alive
                http-reuse always
                timeout connect 5s
                timeout client 30s
                timeout server 30s
            frontend proxy
                bind 127.0.0.1:{port}
                bind 127.0.0.1:{h2c} proto h2
                default_backend app
            backend app
                server backend 127.0.0.1:{backendPort}

            """);
        // -db: stay in the foreground, so the process we start is the one that serves.
        var process = Start("haproxy", "haproxy", ["-db", "-f", config]);
        return Ready(new Target("haproxy", "HAProxy, http-reuse always", true, port, h2c, process));
    }

    /// <summary>
    /// The routes file: <paramref name="routes"/> InterceptorRoutes over hosts <c>app-N.bench</c>, four per host
    /// (prefixes <c>/</c>, <c>/api</c>, <c>/api/v1</c>, and <c>/api/v1</c> with a header matcher), so the
    /// benchmark request (<see cref="Host"/> + <see cref="Path"/>, no header) passes a header candidate before it
    /// lands on its route. With one route, the file holds only that route.
    /// </summary>
    public static string RoutesYaml(int routes, int backendPort)
    {
        var yaml = new StringBuilder();
        void Add(string name, string host, string prefix, string? header)
        {
            var headers = header is null ? "}" : $", headers: [{{name: X-Tenant, value: {header}}}]}}";
            yaml.Append(CultureInfo.InvariantCulture, $$"""
                apiVersion: http.keda.sh/v1beta1
                kind: InterceptorRoute
                metadata: {name: {{name}}, namespace: bench}
                spec:
                  target: {service: 127.0.0.1, port: {{backendPort}}}
                  scalingMetric:
                    concurrency: {targetValue: 100}
                  rules: [{hosts: [{{host}}], paths: [{value: "{{prefix}}"}]{{headers}}]
                ---

                """);
        }

        if (routes == 1)
        {
            Add("app-1250-api-v1", Host, "/api/v1", null);
            return yaml.ToString();
        }

        for (var i = 0; i < routes / 4; i++)
        {
            var host = $"app-{i}.bench";
            Add($"app-{i}-root", host, "/", null);
            Add($"app-{i}-api", host, "/api", null);
            Add($"app-{i}-api-v1", host, "/api/v1", null);
            Add($"app-{i}-api-v1-blue", host, "/api/v1", "blue");
        }

        return yaml.ToString();
    }

    private ChildProcess StartDotnet(string name, string project, string assembly, string[] arguments, Dictionary<string, string>? environment)
    {
        var dll = System.IO.Path.Combine(repo, project, "bin", configuration, "net10.0", $"{assembly}.dll");
        if (!File.Exists(dll))
        {
            throw new FileNotFoundException($"build the solution first ({System.IO.Path.GetRelativePath(repo, dll)} is missing)", dll);
        }

        return ChildProcess.Start(name, "dotnet", [dll, .. arguments], work, environment);
    }

    /// <summary>
    /// The interceptor published Native AOT, as its image builds it, into the run's temp directory (about 1.5 minutes
    /// on 2 cores); null, with the reason logged, when the publish fails, so that the run goes on without it.
    /// </summary>
    public InterceptorBuild? PublishNativeAot(Action<string> log)
    {
        var build = StartupBuilds.Publish(repo, work, configuration, StartupBuild.NativeAot, log);
        if (!build.Built)
        {
            log($"the Native AOT build is left out: {build.Error}");
            return null;
        }

        return build;
    }

    private ChildProcess Start(string name, string tool, string[] arguments) => ChildProcess.Start(name, LoadTools.Find(tool), arguments, work);

    /// <summary>Waits (at most 60 s) until the target answers the benchmark request with 200.</summary>
    private static Target Ready(Target target)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (target.Process.HasExited)
            {
                throw new InvalidOperationException($"{target.Name} exited at start-up:{Environment.NewLine}{target.Process.LogTail()}");
            }

            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{target.Port}{Path}") { Headers = { Host = Host } };
                using var response = Probe.Send(request);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return target;
                }
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{target.Name} did not answer 200 within 60 s:{Environment.NewLine}{target.Process.LogTail()}");
            }

            Thread.Sleep(100);
        }
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
