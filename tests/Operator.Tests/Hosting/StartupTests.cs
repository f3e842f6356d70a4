using Updraft.Operator.Hosting;
using Updraft.Operator.Options;
using Updraft.Operator.Tests.Infrastructure;

namespace Updraft.Operator.Tests.Hosting;

/// <summary>
/// The real operator binary as a child process (<c>dotnet Updraft.Operator.dll</c>) with bad settings: start-up stops
/// with exit code 2 and one <c>updraft-operator: </c> line per problem on stderr, naming the variable or flag. The
/// child sees none of the test host's KEDA, Updraft or Kubernetes settings.
/// </summary>
public sealed class StartupTests
{
    private const string Prefix = "updraft-operator: ";

    public static TheoryData<string, string, string> BadSettings => new()
    {
        { OperatorOptions.ScalerPortVariable, "abc", $"{OperatorOptions.ScalerPortVariable}=\"abc\" is not a valid port; use a number from 1 to 65535" },
        { OperatorOptions.ScalerPortVariable, "0", $"{OperatorOptions.ScalerPortVariable}=\"0\" is not a valid port; use a number from 1 to 65535" },
        { OperatorOptions.ScalerServiceVariable, "Bad_Name", $"{OperatorOptions.ScalerServiceVariable}=\"Bad_Name\" is not a Service name" },
        { OperatorOptions.WatchNamespaceVariable, "Apps", $"{OperatorOptions.WatchNamespaceVariable}=\"Apps\" is not a namespace name" },
        { OperatorOptions.LeaseDurationVariable, "15", $"{OperatorOptions.LeaseDurationVariable}=\"15\" is not valid; use a Go duration" },
        { OperatorOptions.WorkersVariable, "0", $"{OperatorOptions.WorkersVariable}=\"0\" is not valid; use a whole number, 1 or more" },
        { OperatorOptions.MetricsAddressVariable, "localhost:8080", $"--metrics-bind-address ({OperatorOptions.MetricsAddressVariable})=\"localhost:8080\" is not valid" },
        { "UPDRAFT_LOG_LEVEL", "loud", "UPDRAFT_LOG_LEVEL (--zap-log-level)=\"loud\" is not a level; use debug, info, warning or error" },
    };

    [Theory]
    [MemberData(nameof(BadSettings))]
    public async Task Main_BadSetting_ExitsWith2AndALineNamingTheVariable(string variable, string value, string expectedStart)
    {
        var result = await OperatorProcess.RunToExitAsync([], new() { [variable] = value });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith(Prefix + expectedStart, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Main_NamespaceMissingOutsideAPod_ExitsWith2NamingTheVariable()
    {
        // Outside a pod the service account's namespace file does not exist; inside one this case cannot be staged.
        Assert.False(File.Exists(OperatorApplication.PodNamespaceFile), $"{OperatorApplication.PodNamespaceFile} exists: the tests run in a pod");

        var result = await OperatorProcess.RunToExitAsync([], new() { [OperatorOptions.NamespaceVariable] = null });

        Assert.Equal(2, result.ExitCode);
        Assert.Equal([$"{Prefix}{OperatorOptions.NamespaceVariable} is required outside a pod; use the namespace the scaler Service keda-add-ons-http-external-scaler is in"], result.StderrLines);
    }

    [Fact]
    public async Task Main_KubeconfigFileMissing_ExitsWith2NamingTheVariableAndPath()
    {
        using var directory = new TempDirectory();
        var missing = Path.Combine(directory.Path, "missing-kubeconfig");

        var result = await OperatorProcess.RunToExitAsync([], new() { [OperatorOptions.KubeconfigVariable] = missing });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"{Prefix}{OperatorOptions.KubeconfigVariable}=\"{missing}\" cannot be used: ", line, StringComparison.Ordinal);
        Assert.EndsWith("; use the path of a readable kubeconfig", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Main_KubeconfigFlagPointsAtAMissingFile_ExitsWith2NamingTheVariable()
    {
        using var directory = new TempDirectory();
        var missing = Path.Combine(directory.Path, "nope.yaml");

        var result = await OperatorProcess.RunToExitAsync(["--kubeconfig", missing], []);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith($"{Prefix}{OperatorOptions.KubeconfigVariable}=\"{missing}\" cannot be used: ", Assert.Single(result.StderrLines), StringComparison.Ordinal);
    }

    /// <summary>
    /// No UPDRAFT_KUBECONFIG, no KUBECONFIG, no ~/.kube/config, not in a pod: there is no cluster to talk to, and
    /// start-up must say which variable to set rather than run against a guessed server.
    /// </summary>
    [Fact]
    public async Task Main_NoKubeconfigAnywhereOutsideAPod_ExitsWith2TellingWhichVariableToSet()
    {
        var result = await OperatorProcess.RunToExitAsync([], new() { [OperatorOptions.KubeconfigVariable] = null });

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith(Prefix, line, StringComparison.Ordinal);
        Assert.EndsWith($"; set {OperatorOptions.KubeconfigVariable} to a kubeconfig, or run in a pod", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--bogus")]
    [InlineData("--leader-elect-now")]
    public async Task Main_UnknownFlag_ExitsWith2NamingTheFlag(string flag)
    {
        var result = await OperatorProcess.RunToExitAsync([flag], []);

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith($"{Prefix}unknown argument \"{flag}\"; the operator takes --leader-elect, ", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Main_SeveralProblems_ExitsWith2AndOneLineEach()
    {
        var result = await OperatorProcess.RunToExitAsync(["--metrics-bind-address"], new()
        {
            [OperatorOptions.ScalerPortVariable] = "70000",
            [OperatorOptions.NamespaceVariable] = null,
        });

        Assert.Equal(2, result.ExitCode);
        Assert.Equal(3, result.StderrLines.Count);
        Assert.All(result.StderrLines, line => Assert.StartsWith(Prefix, line, StringComparison.Ordinal));
        Assert.Contains($"{Prefix}--metrics-bind-address needs a value", result.StderrLines);
        Assert.Single(result.StderrLines, l => l.StartsWith($"{Prefix}{OperatorOptions.ScalerPortVariable}=\"70000\"", StringComparison.Ordinal));
        Assert.Single(result.StderrLines, l => l.StartsWith($"{Prefix}{OperatorOptions.NamespaceVariable} is required", StringComparison.Ordinal));
    }

    [Fact]
    public void CleanEnvironment_HostSettings_AreDroppedAndOthersKept()
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["KEDA_HTTP_OPERATOR_NAMESPACE"] = "x",
            ["KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT"] = "x",
            ["KEDA_HTTP_OPERATOR_WATCH_NAMESPACE"] = "x",
            ["UPDRAFT_KUBECONFIG"] = "x",
            ["UPDRAFT_OPERATOR_WORKERS"] = "x",
            ["KUBECONFIG"] = "x",
            ["KUBERNETES_SERVICE_HOST"] = "10.0.0.1",
            ["KUBERNETES_SERVICE_PORT"] = "443",
            ["ASPNETCORE_URLS"] = "x",
            ["DOTNET_ENVIRONMENT"] = "x",
            ["PATH"] = "/usr/bin",
            ["DOTNET_ROOT"] = "/dotnet",
        };

        OperatorProcess.CleanEnvironment(environment);

        Assert.Equal(["DOTNET_ROOT", "PATH"], environment.Keys.Order(StringComparer.Ordinal));
    }

    /// <summary>A temporary directory, deleted on dispose.</summary>
    private sealed class TempDirectory : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("updraft-operator-startup-").FullName;

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
}
