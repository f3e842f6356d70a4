using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Differential;

/// <summary>
/// A real nginx (Debian's package; <c>./updraft.sh test</c> installs it) as a plain reverse proxy on a free loopback
/// port in front of <c>127.0.0.1:upstreamPort</c>, in the foreground as one process, with its configuration, pid file,
/// logs and temp files in a directory of its own. Stopped by its process id on dispose.
/// </summary>
internal sealed class NginxProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private NginxProcess(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string ErrorLog => ReadLog("error.log");

    /// <summary>The path of the nginx binary: <c>UPDRAFT_NGINX</c>, PATH, or Debian's <c>/usr/sbin</c>.</summary>
    public static string Binary()
    {
        if (Environment.GetEnvironmentVariable("UPDRAFT_NGINX") is { Length: > 0 } configured)
        {
            return File.Exists(configured) ? configured : throw new InvalidOperationException($"UPDRAFT_NGINX is {configured}, which does not exist");
        }

        var directories = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/local/sbin", "/usr/local/bin", "/usr/bin"]);
        foreach (var directory in directories)
        {
            var candidate = Path.Combine(directory, "nginx");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException(
            "nginx is not installed, and the differential forwarding tests compare the interceptor with it: run ./updraft.sh test " +
            "(it installs the Debian package nginx) or set UPDRAFT_NGINX to an nginx binary");
    }

    public static async Task<NginxProcess> StartAsync(int upstreamPort)
    {
        var binary = Binary();
        var directory = Directory.CreateTempSubdirectory("updraft-nginx-").FullName;
        var port = TestUpstream.FreePort();
        var configFile = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(configFile, Config(directory, port, upstreamPort));

        // -e: the error log before the configuration is read (else nginx opens Debian's /var/log/nginx/error.log first).
        var process = Process.Start(new ProcessStartInfo(binary, ["-p", directory + "/", "-c", configFile, "-e", Path.Combine(directory, "error.log")])
        {
            UseShellExecute = false,
            RedirectStandardOutput = false,
            RedirectStandardError = false,
        }) ?? throw new InvalidOperationException("nginx did not start");
        var nginx = new NginxProcess(process, directory, port);
        try
        {
            await nginx.WaitListeningAsync();
            return nginx;
        }
        catch
        {
            await nginx.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The reference: what an ingress controller's nginx does for a plain HTTP/1.1 backend, made transparent where
    /// nginx's defaults would rewrite the request for reasons unrelated to proxying (see <see cref="DifferentialDecisions"/>).
    /// </summary>
    /// <remarks>
    /// <list type="bullet">
    /// <item><c>Host $http_host</c>: the client's Host as sent (what ingress-nginx's <c>$best_http_host</c> is). The
    /// interceptor, like the add-on's Go proxy, keeps it; <c>$host</c> would lower-case it and drop the port.</item>
    /// <item><c>X-Forwarded-For $proxy_add_x_forwarded_for</c>; <c>X-Forwarded-Host</c>/<c>-Proto</c> kept when the
    /// client sent them, else set from this hop: Go's ReverseProxy rules, which the interceptor follows, written in
    /// nginx (ingress-nginx does the same with <c>use-forwarded-headers</c>).</item>
    /// <item><c>Upgrade $http_upgrade</c> and <c>Connection</c> mapped from it: ingress-nginx's WebSocket set-up.</item>
    /// <item>Request buffering stays on (nginx's and ingress-nginx's default): off, nginx forwards a chunked body as
    /// chunked or with a Content-Length depending on whether the body came in the same read as the head, a timing
    /// the test cannot control. Buffered, it always sends a Content-Length.</item>
    /// <item>Everything else is nginx's default, as ingress-nginx's defaults are (header buffers of 8 KB,
    /// underscores in header names ignored).</item>
    /// </list>
    /// </remarks>
    private static string Config(string directory, int port, int upstreamPort) => $$"""
        daemon off;
        master_process off;
        worker_processes 1;
        pid {{directory}}/nginx.pid;
        error_log {{directory}}/error.log info;
        events { worker_connections 256; }
        http {
            access_log {{directory}}/access.log;
            client_body_temp_path {{directory}}/client_body;
            proxy_temp_path {{directory}}/proxy;
            fastcgi_temp_path {{directory}}/fastcgi;
            uwsgi_temp_path {{directory}}/uwsgi;
            scgi_temp_path {{directory}}/scgi;

            map $http_upgrade $updraft_connection { default upgrade; "" ""; }
            map $http_x_forwarded_host $updraft_forwarded_host { "" $http_host; default $http_x_forwarded_host; }
            map $http_x_forwarded_proto $updraft_forwarded_proto { "" $scheme; default $http_x_forwarded_proto; }

            server {
                listen 127.0.0.1:{{port}};
                location / {
                    proxy_pass http://127.0.0.1:{{upstreamPort}};
                    proxy_http_version 1.1;
                    proxy_set_header Host $http_host;
                    proxy_set_header Upgrade $http_upgrade;
                    proxy_set_header Connection $updraft_connection;
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                    proxy_set_header X-Forwarded-Host $updraft_forwarded_host;
                    proxy_set_header X-Forwarded-Proto $updraft_forwarded_proto;
                }
            }
        }

        """;

    private async Task WaitListeningAsync()
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"nginx exited with {_process.ExitCode}; error log: {ErrorLog}");
            }

            try
            {
                using var probe = new TcpClient();
                await probe.ConnectAsync(IPAddress.Loopback, Port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(20);
            }
        }
    }

    private string ReadLog(string name)
    {
        try
        {
            return File.ReadAllText(Path.Combine(_directory, name));
        }
        catch (IOException)
        {
            return "(none)";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
