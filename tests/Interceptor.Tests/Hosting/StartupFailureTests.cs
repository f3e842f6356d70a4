using System.Net;
using System.Text.RegularExpressions;
using Updraft.Interceptor.Tests.Infrastructure;
using Updraft.Tests.Common;

namespace Updraft.Interceptor.Tests.Hosting;

/// <summary>
/// The real interceptor binary as a child process (<c>dotnet Updraft.Interceptor.dll</c>): a bad setting or routes
/// file stops start-up with exit code 2 and one stderr line per problem, naming the variable or document and field.
/// </summary>
public sealed partial class StartupFailureTests
{
    private const string Prefix = "updraft-interceptor: ";
    private const string DurationForm = "a Go duration such as 500ms, 30s, 5m or 1h30m (0s turns it off)";
    private const string PortForm = "use a number from 1 to 65535, or 0 to pick a free port";

    public static TheoryData<string, string, string> BadSettings => new()
    {
        { "KEDA_HTTP_CONNECT_TIMEOUT", "abc", $"KEDA_HTTP_CONNECT_TIMEOUT=\"abc\" is not valid; use {DurationForm}" },
        { "KEDA_HTTP_REQUEST_TIMEOUT", "5", $"KEDA_HTTP_REQUEST_TIMEOUT=\"5\" is not valid; use {DurationForm}" },
        { "KEDA_HTTP_READINESS_TIMEOUT", "-1s", $"KEDA_HTTP_READINESS_TIMEOUT=\"-1s\" is not valid; use {DurationForm}" },
        { "KEDA_CONDITION_WAIT_TIMEOUT", "10", $"KEDA_CONDITION_WAIT_TIMEOUT=\"10\" is not valid; use {DurationForm}" },
        { "KEDA_HTTP_PROXY_PORT", "70000", $"KEDA_HTTP_PROXY_PORT=\"70000\" is not a valid port; {PortForm}" },
        { "KEDA_HTTP_ADMIN_PORT", "-1", $"KEDA_HTTP_ADMIN_PORT=\"-1\" is not a valid port; {PortForm}" },
        { "OTEL_PROM_EXPORTER_PORT", "http", $"OTEL_PROM_EXPORTER_PORT=\"http\" is not a valid port; {PortForm}" },
        { "KEDA_HTTP_ENABLE_COLD_START_HEADER", "maybe", "KEDA_HTTP_ENABLE_COLD_START_HEADER=\"maybe\" is not valid; use true or false" },
        { "OTEL_PROM_EXPORTER_ENABLED", "yes", "OTEL_PROM_EXPORTER_ENABLED=\"yes\" is not valid; use true or false" },
        { "KEDA_HTTP_COLD_START_MAX_PENDING_REQUESTS", "-1", "KEDA_HTTP_COLD_START_MAX_PENDING_REQUESTS=\"-1\" is not valid; use a whole number, 0 or more" },
        { "KEDA_HTTP_COLD_START_MAX_PENDING_REQUESTS", "many", "KEDA_HTTP_COLD_START_MAX_PENDING_REQUESTS=\"many\" is not valid; use a whole number, 0 or more" },
        { "KEDA_HTTP_MAX_IDLE_CONNS", "lots", "KEDA_HTTP_MAX_IDLE_CONNS=\"lots\" is not valid; use a whole number, 0 or more" },
        { "UPDRAFT_KUBE_RETRY_MAX", "soon", $"UPDRAFT_KUBE_RETRY_MAX=\"soon\" is not valid; use {DurationForm}, at least 10ms" },
        { "UPDRAFT_INLINE_IO", "sometimes", "UPDRAFT_INLINE_IO=\"sometimes\" is not valid; use true or false" },
        { "UPDRAFT_TRANSPORT", "io_uring", "UPDRAFT_TRANSPORT=\"io_uring\" is not valid; use sockets or epoll" },
        { "UPDRAFT_LEAN_FORWARDING", "fast", "UPDRAFT_LEAN_FORWARDING=\"fast\" is not valid; use true or false" },
        { "UPDRAFT_BIND_ADDRESS", "nowhere", "UPDRAFT_BIND_ADDRESS=\"nowhere\" is not valid; use an IP address, localhost, or * for all interfaces" },
        { "UPDRAFT_ADMIN_BIND_ADDRESS", "admin.local", "UPDRAFT_ADMIN_BIND_ADDRESS=\"admin.local\" is not valid; use an IP address, localhost, or * for all interfaces" },
        { "UPDRAFT_METRICS_BIND_ADDRESS", "0.0.0.0/0", "UPDRAFT_METRICS_BIND_ADDRESS=\"0.0.0.0/0\" is not valid; use an IP address, localhost, or * for all interfaces" },
        { "UPDRAFT_IDLE_TIMEOUT", "forever", $"UPDRAFT_IDLE_TIMEOUT=\"forever\" is not valid; use {DurationForm}" },
        { "UPDRAFT_MAX_COUNT_STREAMS", "0", "UPDRAFT_MAX_COUNT_STREAMS=\"0\" is not valid; use a whole number, 1 or more" },
        { "UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL", "often", $"UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL=\"often\" is not valid; use {DurationForm}" },
        { "UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL", "100ms", "UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL=100ms is out of range; use 0s (off) or from 1s to 24h0m0s" },
        { "UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL", "2000h", "UPDRAFT_IDLE_MEMORY_RELEASE_INTERVAL=2000h0m0s is out of range; use 0s (off) or from 1s to 24h0m0s" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Start_InvalidSetting_ExitsWith2NamingVariableAndAllowedForm(string variable, string value, string expectedLine)
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", ValidRoutes(port: 1));

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, ["--routes", "routes.yaml"], new() { [variable] = value });

        Assert.Equal(2, result.ExitCode);
        Assert.Equal([Prefix + expectedLine], result.StderrLines);
    }

    [Fact]
    public async Task Start_SeveralInvalidSettings_ExitsWith2AndOneLinePerVariable()
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", ValidRoutes(port: 1));

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, ["--routes", "routes.yaml"], new()
        {
            ["KEDA_HTTP_CONNECT_TIMEOUT"] = "abc",
            ["KEDA_HTTP_PROXY_PORT"] = "70000",
            ["KEDA_HTTP_ENABLE_COLD_START_HEADER"] = "maybe",
        });

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            [
                $"{Prefix}KEDA_HTTP_CONNECT_TIMEOUT=\"abc\" is not valid; use {DurationForm}",
                "updraft-interceptor: KEDA_HTTP_ENABLE_COLD_START_HEADER=\"maybe\" is not valid; use true or false",
                $"{Prefix}KEDA_HTTP_PROXY_PORT=\"70000\" is not a valid port; {PortForm}",
            ],
            result.StderrLines.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Start_TwoListenersOnOnePort_ExitsWith2NamingBoth()
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", ValidRoutes(port: 1));

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, ["--routes", "routes.yaml"], new()
        {
            ["KEDA_HTTP_PROXY_PORT"] = "18080",
            ["KEDA_HTTP_ADMIN_PORT"] = "18080",
        });

        Assert.Equal(2, result.ExitCode);
        Assert.Equal([$"{Prefix}KEDA_HTTP_ADMIN_PORT=18080 is already used by KEDA_HTTP_PROXY_PORT; each listener needs its own port"], result.StderrLines);
    }

    [Fact]
    public async Task Start_RoutesFileWithProblems_ExitsWith2AndOneLinePerProblem()
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", """
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {name: checkout, namespace: shop}
            spec:
              target: {service: 127.0.0.1, port: 8080, portName: http}
              scalingMetric: {concurrency: {targetValue: 10}}
              rules: [{hosts: ["foo.*.com"]}]
            ---
            apiVersion: http.keda.sh/v1alpha1
            kind: HTTPScaledObject
            metadata: {name: legacy}
            spec:
              scaleTargetRef: {service: legacy, portName: http}
            ---
            apiVersion: http.keda.sh/v1beta1
            kind: Ingress
            metadata: {name: web, namespace: shop}
            ---
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {name: checkout, namespace: shop}
            spec:
              target: {service: 127.0.0.1, port: 8080}
              scalingMetric: {concurrency: {targetValue: 10}}
            ---
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata: {name: checkout, namespace: shop}
            spec:
              target: {service: 127.0.0.1, port: 8081}
              scalingMetric: {concurrency: {targetValue: 10}}
            """);

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, ["--routes", "routes.yaml"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(
            [
                "updraft-interceptor: routes.yaml: document 1 (InterceptorRoute shop/checkout): spec.target: exactly one of 'port' or 'portName' must be set",
                "updraft-interceptor: routes.yaml: document 1 (InterceptorRoute shop/checkout): spec.rules[0].hosts[0]: \"foo.*.com\" is not a valid host: '*' is only allowed as the whole leftmost label (*.example.com) or alone (*)",
                "updraft-interceptor: routes.yaml: document 2 (HTTPScaledObject default/legacy): spec.scaleTargetRef.portName: named ports resolve through a Kubernetes Service and are not available in standalone mode; set port instead",
                "updraft-interceptor: routes.yaml: document 3 (Ingress shop/web): kind: apiVersion \"http.keda.sh/v1beta1\" kind \"Ingress\" is not supported; use http.keda.sh/v1beta1 InterceptorRoute, http.keda.sh/v1alpha1 HTTPScaledObject or (standalone mode) local.updraft.dev/v1alpha1 LocalWorkload",
                "updraft-interceptor: routes.yaml: document 5 (InterceptorRoute shop/checkout): metadata.name: duplicate: InterceptorRoute shop/checkout is already defined in document 4",
            ],
            result.StderrLines);
    }

    [Theory]
    [InlineData("apiVersion: [unclosed\nkind: InterceptorRoute\n")]
    [InlineData("apiVersion: http.keda.sh/v1beta1\n  kind: InterceptorRoute\n")]
    public async Task Start_RoutesFileNotYaml_ExitsWith2AndOneLine(string yaml)
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", yaml);

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, [], new() { ["UPDRAFT_ROUTES_FILE"] = "routes.yaml" });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.Matches(NotYamlLine(), line);
    }

    // Both took the process down (stack overflow, exit 134; gigabytes for the alias bomb) before it could say why.
    [Theory]
    [InlineData("brackets")]
    [InlineData("alias bomb")]
    public async Task Start_HostileRoutesFile_ExitsWith2AndOneLineNamingTheLimit(string hostile)
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", hostile == "brackets" ? HostileYaml.NestedBrackets : HostileYaml.AliasBomb(port: 1));

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, ["--routes", "routes.yaml"]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal([$"{Prefix}routes.yaml: {(hostile == "brackets" ? HostileYaml.NestedBracketsProblem : HostileYaml.AliasBombProblem)}"], result.StderrLines);
    }

    [Fact]
    public async Task Start_ProxyPortInUse_ExitsWith2SayingWhichSettingsMoveIt_WithoutACrashOnTheWayOut()
    {
        using var taken = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var port = ((IPEndPoint)taken.LocalEndpoint).Port;
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", "");

        var result = await InterceptorProcess.RunToExitAsync(
            directory.Path,
            ["--routes", "routes.yaml"],
            new() { ["KEDA_HTTP_PROXY_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture), ["KEDA_HTTP_ADMIN_PORT"] = "0", ["OTEL_PROM_EXPORTER_PORT"] = "0" });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith(Prefix, line, StringComparison.Ordinal);
        Assert.Contains("Choose free ports with KEDA_HTTP_PROXY_PORT", line, StringComparison.Ordinal);
        // What had started (the routes file watch, the admin listener) stops before the host is disposed: no crash
        // or unhandled-exception lines, and no drain that waits for traffic that never came.
        Assert.DoesNotContain(result.StdoutLines, l => l.Contains("crit", StringComparison.OrdinalIgnoreCase) || l.Contains("Unhandled", StringComparison.Ordinal) || l.Contains("ObjectDisposedException", StringComparison.Ordinal));
        Assert.DoesNotContain(result.StdoutLines, l => l.Contains("draining", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Start_MissingRoutesFile_ExitsWith2NamingTheFile()
    {
        using var directory = new TempDirectory();

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, ["--routes", "missing.yaml"]);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith("updraft-interceptor: missing.yaml: cannot read the routes file: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_NoRouteSource_ExitsWith2SayingHowToGiveOne()
    {
        using var directory = new TempDirectory();

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, []);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(["updraft-interceptor: no route source: pass --routes FILE or set UPDRAFT_ROUTES_FILE (standalone mode), or run in a Kubernetes pod or set UPDRAFT_MODE=kubernetes (Kubernetes mode)"], result.StderrLines);
    }

    // The control for every test above: the same launch with good input starts, serves, and keeps running, also
    // when the routes file breaks afterwards (the problem is logged and the previous routes stay).
    [Fact]
    public async Task Start_ValidInputThenBrokenRoutesFile_KeepsServingAndLogsTheProblem()
    {
        await using var upstream = await TestUpstream.StartNamedAsync("up");
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", ValidRoutes(upstream.Port));
        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"]);

        var listening = await process.WaitForStdoutAsync(ListeningLine());
        var proxyPort = int.Parse(ListeningLine().Match(listening).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{proxyPort}") };
        Assert.Equal("up", await client.GetStringAsync("/"));

        directory.Write("routes.yaml", ValidRoutes(upstream.Port).Replace("port: ", "portName: ", StringComparison.Ordinal));
        var logged = await process.WaitForStdoutAsync(new Regex("was not applied"));

        Assert.Contains("routes.yaml", logged, StringComparison.Ordinal);
        Assert.Contains("document 1 (InterceptorRoute default/app): spec.target.portName: named ports", logged, StringComparison.Ordinal);
        Assert.False(process.HasExited);
        using var response = await client.GetAsync(new Uri("/", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("up", await response.Content.ReadAsStringAsync());
        Assert.Empty(process.StderrLines);
    }

    private static string ValidRoutes(int port) => Routes.InterceptorRoute("app", port);

    [GeneratedRegex(@"^updraft-interceptor: routes\.yaml: not valid YAML (at|after) line [0-9]+, column [0-9]+: .+$")]
    private static partial Regex NotYamlLine();

    [GeneratedRegex(@"Interceptor listening: proxy port ([0-9]+),")]
    private static partial Regex ListeningLine();

    [Fact]
    public async Task Start_KubernetesModeWithAnUnreadableKubeconfig_ExitsWith2NamingTheSetting()
    {
        using var directory = new TempDirectory();
        var missing = Path.Combine(directory.Path, "missing-kubeconfig");

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, [], new() { ["UPDRAFT_MODE"] = "kubernetes", ["UPDRAFT_KUBECONFIG"] = missing });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"{Prefix}Kubernetes mode cannot read the cluster configuration from UPDRAFT_KUBECONFIG={missing}: ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Start_KubernetesModeWithARoutesFile_ExitsWith2SayingTheyConflict()
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", "");

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, ["--routes", "routes.yaml"], new() { ["UPDRAFT_MODE"] = "kubernetes" });

        Assert.Equal(2, result.ExitCode);
        Assert.Equal([$"{Prefix}UPDRAFT_MODE=kubernetes reads routes from the cluster; remove --routes / UPDRAFT_ROUTES_FILE, or use UPDRAFT_MODE=standalone"], result.StderrLines);
    }

    [Fact]
    public async Task Start_UnknownMode_ExitsWith2ListingTheModes()
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", "");

        var result = await InterceptorProcess.RunToExitAsync(directory.Path, ["--routes", "routes.yaml"], new() { ["UPDRAFT_MODE"] = "cluster" });

        Assert.Equal(2, result.ExitCode);
        Assert.Equal([$"{Prefix}UPDRAFT_MODE=\"cluster\" is not a mode; use auto, standalone or kubernetes"], result.StderrLines);
    }
}
