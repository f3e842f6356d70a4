using System.Net;
using Updraft.Operator.Options;

namespace Updraft.Operator.Tests.Options;

/// <summary>
/// <see cref="OperatorOptions.Bind"/>, <see cref="OperatorFlags.Parse"/> and <see cref="BindAddress"/>: the add-on's
/// defaults, and one problem line per bad value naming the variable or flag and what is allowed.
/// </summary>
public sealed class OperatorOptionsTests
{
    private const string PortForm = "use a number from 1 to 65535";
    private const string DurationForm = "a Go duration such as 500ms, 30s, 5m or 1h30m";
    private const string AddressForm = "use :PORT, HOST:PORT (an IP address), or 0 to turn it off";

    [Fact]
    public void Bind_NothingSet_UsesTheAddOnDefaults()
    {
        var (options, problems) = Bind(new(), podNamespace: "keda");

        Assert.Empty(problems);
        Assert.Empty(options.Warnings);
        Assert.Equal("keda-add-ons-http-external-scaler", options.ScalerService);
        Assert.Equal(9090, options.ScalerPort);
        Assert.Equal("keda", options.Namespace);
        Assert.Null(options.WatchNamespace);
        Assert.False(options.LeaderElection);
        Assert.Equal("updraft-operator", options.LeaseName);
        Assert.Equal(TimeSpan.FromSeconds(15), options.LeaseDuration);
        Assert.Equal(TimeSpan.FromSeconds(10), options.RenewDeadline);
        Assert.Equal(TimeSpan.FromSeconds(2), options.RetryPeriod);
        Assert.Equal(new BindAddress(null, 8080), options.MetricsAddress);
        Assert.Equal(new BindAddress(null, 8081), options.HealthAddress);
        Assert.Equal(8, options.Workers);
        Assert.Equal(TimeSpan.FromMinutes(10), options.ResyncPeriod);
        Assert.Null(options.Kubeconfig);
        Assert.Equal("keda-add-ons-http-external-scaler.keda:9090", options.ScalerAddress);
    }

    [Fact]
    public void Bind_EverySettingValid_IsTaken()
    {
        var (options, problems) = Bind(new()
        {
            [OperatorOptions.ScalerServiceVariable] = "my-scaler",
            [OperatorOptions.ScalerPortVariable] = "8091",
            [OperatorOptions.NamespaceVariable] = "http-add-on",
            [OperatorOptions.WatchNamespaceVariable] = "apps",
            [OperatorOptions.LeaderElectVariable] = "true",
            [OperatorOptions.LeaseNameVariable] = "keda-http-add-on.operator",
            [OperatorOptions.LeaseDurationVariable] = "30s",
            [OperatorOptions.RenewDeadlineVariable] = "20s",
            [OperatorOptions.RetryPeriodVariable] = "500ms",
            [OperatorOptions.MetricsAddressVariable] = "127.0.0.1:9000",
            [OperatorOptions.HealthAddressVariable] = "[::1]:9001",
            [OperatorOptions.WorkersVariable] = "3",
            [OperatorOptions.ResyncPeriodVariable] = "1h",
            [OperatorOptions.KubeconfigVariable] = "/tmp/kubeconfig",
        }, podNamespace: "ignored-when-set");

        Assert.Empty(problems);
        Assert.Equal("my-scaler", options.ScalerService);
        Assert.Equal(8091, options.ScalerPort);
        Assert.Equal("http-add-on", options.Namespace);
        Assert.Equal("apps", options.WatchNamespace);
        Assert.True(options.LeaderElection);
        Assert.Equal("keda-http-add-on.operator", options.LeaseName);
        Assert.Equal(TimeSpan.FromSeconds(30), options.LeaseDuration);
        Assert.Equal(TimeSpan.FromSeconds(20), options.RenewDeadline);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.RetryPeriod);
        Assert.Equal(new BindAddress(IPAddress.Loopback, 9000), options.MetricsAddress);
        Assert.Equal(new BindAddress(IPAddress.IPv6Loopback, 9001), options.HealthAddress);
        Assert.Equal(3, options.Workers);
        Assert.Equal(TimeSpan.FromHours(1), options.ResyncPeriod);
        Assert.Equal("/tmp/kubeconfig", options.Kubeconfig);
        Assert.Equal("my-scaler.http-add-on:8091", options.ScalerAddress);
    }

    [Theory]
    [InlineData("svc", "ns", 1, "svc.ns:1")]
    [InlineData("keda-add-ons-http-external-scaler", "keda", 9090, "keda-add-ons-http-external-scaler.keda:9090")]
    [InlineData("s1", "0ns", 65535, "s1.0ns:65535")]
    public void ScalerAddress_ServiceNamespaceAndPort_IsServiceDotNamespaceColonPort(string service, string ns, int port, string expected)
    {
        var (options, problems) = Bind(new()
        {
            [OperatorOptions.ScalerServiceVariable] = service,
            [OperatorOptions.ScalerPortVariable] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            [OperatorOptions.NamespaceVariable] = ns,
        });

        Assert.Empty(problems);
        Assert.Equal(expected, options.ScalerAddress);
    }

    /// <summary>Variable, bad value, text the problem line must contain (besides the variable name).</summary>
    public static TheoryData<string, string, string> BadValues => new()
    {
        { OperatorOptions.ScalerServiceVariable, "Scaler", "use lower-case letters, digits and '-', starting with a letter, at most 63 characters" },
        { OperatorOptions.ScalerServiceVariable, "1scaler", "starting with a letter" },
        { OperatorOptions.ScalerServiceVariable, "scaler.keda", "is not a Service name" },
        { OperatorOptions.ScalerServiceVariable, "scaler-", "is not a Service name" },
        { OperatorOptions.ScalerServiceVariable, new string('s', 64), "at most 63 characters" },
        { OperatorOptions.ScalerPortVariable, "0", PortForm },
        { OperatorOptions.ScalerPortVariable, "70000", PortForm },
        { OperatorOptions.ScalerPortVariable, "65536", PortForm },
        { OperatorOptions.ScalerPortVariable, "abc", PortForm },
        { OperatorOptions.ScalerPortVariable, "-1", PortForm },
        { OperatorOptions.ScalerPortVariable, "90 91", PortForm },
        { OperatorOptions.NamespaceVariable, "Keda", "is not a namespace name; use lower-case letters, digits and '-', at most 63 characters" },
        { OperatorOptions.NamespaceVariable, "keda_system", "is not a namespace name" },
        { OperatorOptions.NamespaceVariable, "-keda", "is not a namespace name" },
        { OperatorOptions.WatchNamespaceVariable, "Apps", "is not a namespace name; use lower-case letters, digits and '-', at most 63 characters, or leave it unset for every namespace" },
        { OperatorOptions.WatchNamespaceVariable, "apps,web", "or leave it unset for every namespace" },
        { OperatorOptions.LeaderElectVariable, "yes", "use true or false" },
        { OperatorOptions.LeaseNameVariable, "Lease", "is not a Lease name; use lower-case letters, digits, '-' and '.', at most 253 characters" },
        { OperatorOptions.LeaseDurationVariable, "15", DurationForm + " (0s turns it off), at least 1s" },
        { OperatorOptions.LeaseDurationVariable, "500ms", "at least 1s" },
        { OperatorOptions.LeaseDurationVariable, "fifteen seconds", DurationForm },
        { OperatorOptions.RenewDeadlineVariable, "10", DurationForm },
        { OperatorOptions.RenewDeadlineVariable, "-10s", "at least 100ms" },
        { OperatorOptions.RetryPeriodVariable, "2 s", DurationForm },
        { OperatorOptions.RetryPeriodVariable, "50ms", "at least 100ms" },
        { OperatorOptions.ResyncPeriodVariable, "10x", DurationForm },
        { OperatorOptions.ResyncPeriodVariable, "0s", "at least 1s" },
        { OperatorOptions.MetricsAddressVariable, "localhost:8080", AddressForm },
        { OperatorOptions.MetricsAddressVariable, "8080", AddressForm },
        { OperatorOptions.MetricsAddressVariable, ":http", AddressForm },
        { OperatorOptions.MetricsAddressVariable, ":70000", AddressForm },
        { OperatorOptions.MetricsAddressVariable, ":-1", AddressForm },
        { OperatorOptions.MetricsAddressVariable, ":", AddressForm },
        { OperatorOptions.MetricsAddressVariable, "300.1.1.1:80", AddressForm },
        { OperatorOptions.HealthAddressVariable, "nowhere", AddressForm },
        { OperatorOptions.WorkersVariable, "0", "use a whole number, 1 or more" },
        { OperatorOptions.WorkersVariable, "-2", "use a whole number, 1 or more" },
        { OperatorOptions.WorkersVariable, "many", "use a whole number, 1 or more" },
        { "UPDRAFT_KUBE_RETRY_MAX", "soon", DurationForm + " (0s turns it off), at least 10ms" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Bind_BadValue_OneProblemNamingTheVariableValueAndAllowedForm(string variable, string value, string allowed)
    {
        var (_, problems) = Bind(new() { [variable] = value }, podNamespace: "keda");

        var problem = Assert.Single(problems);
        Assert.Contains(variable, problem, StringComparison.Ordinal);
        Assert.Contains($"\"{value}\"", problem, StringComparison.Ordinal);
        Assert.Contains(allowed, problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("true", nameof(FunctionsMode.All))]
    [InlineData("all", nameof(FunctionsMode.All))]
    [InlineData("annotated", nameof(FunctionsMode.Annotated))]
    [InlineData("FALSE", nameof(FunctionsMode.None))]
    [InlineData("none", nameof(FunctionsMode.None))]
    public void Bind_FunctionsMode_IsTaken(string value, string expected)
    {
        var (options, problems) = Bind(new() { [OperatorOptions.FunctionsVariable] = value }, podNamespace: "keda");

        Assert.Empty(problems);
        Assert.Equal(expected, options.Functions.ToString());
    }

    [Theory]
    [InlineData(OperatorOptions.FunctionsVariable, "sometimes", "is not valid; use true (every Function without updraft.dev/reconcile: \"false\"), annotated")]
    [InlineData(OperatorOptions.InterceptorServiceVariable, "Proxy_Service", "is not a Service name")]
    [InlineData(OperatorOptions.InterceptorServiceVariable, "a.b", "is not a Service name")]
    [InlineData(OperatorOptions.ClusterDomainVariable, "cluster..local", "is not a domain")]
    [InlineData(OperatorOptions.ClusterDomainVariable, "Cluster.Local", "is not a domain")]
    [InlineData(OperatorOptions.BacklogScalerVariable, "kedacore", "is not valid; use keda (async Functions' kafka, nats-jetstream and stan triggers stay on KEDA's scalers) or updraft")]
    [InlineData(OperatorOptions.DaprProxyImageVariable, "dapr proxy:v1", "is not an image reference")]
    public void Bind_BadFunctionSetting_OneProblemNamingTheVariable(string variable, string value, string expected)
    {
        var (_, problems) = Bind(new() { [variable] = value }, podNamespace: "keda");

        var problem = Assert.Single(problems);
        Assert.StartsWith($"{variable}=\"{value}\" {expected}", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_FunctionSettingsUnset_DefaultsToEveryFunctionTheAddOnsProxyAndClusterLocal()
    {
        var (options, _) = Bind(new(), podNamespace: "keda");

        Assert.Equal(FunctionsMode.All, options.Functions);
        Assert.Equal("keda-add-ons-http-interceptor-proxy", options.InterceptorService);
        Assert.Equal("cluster.local", options.ClusterDomain);
        Assert.False(options.BacklogOnUpdraftScaler);
        Assert.Equal("openfunction/dapr-proxy:v0.1.1", options.DaprProxyImage);
    }

    [Theory]
    [InlineData("keda", false)]
    [InlineData("Updraft", true)]
    public void Bind_BacklogScaler_IsTaken(string value, bool onUpdraft)
    {
        var (options, problems) = Bind(new() { [OperatorOptions.BacklogScalerVariable] = value, [OperatorOptions.DaprProxyImageVariable] = "example/dapr-proxy:v2" }, podNamespace: "keda");

        Assert.Empty(problems);
        Assert.Equal(onUpdraft, options.BacklogOnUpdraftScaler);
        Assert.Equal("example/dapr-proxy:v2", options.DaprProxyImage);
    }

    [Fact]
    public void Bind_BadScalerPort_TellsThePortRangeOnly()
    {
        var (_, zero) = Bind(new() { [OperatorOptions.ScalerPortVariable] = "0" }, podNamespace: "keda");
        var (_, text) = Bind(new() { [OperatorOptions.ScalerPortVariable] = "abc" }, podNamespace: "keda");

        Assert.Equal([$"{OperatorOptions.ScalerPortVariable}=\"0\" is not a valid port; use a number from 1 to 65535"], zero);

        // The scaler port is where the ScaledObjects point: 0 is rejected, so the line must not offer it.
        Assert.Equal([$"{OperatorOptions.ScalerPortVariable}=\"abc\" is not a valid port; use a number from 1 to 65535"], text);
    }

    [Fact]
    public void Bind_NamespaceMissingOutsideAPod_ProblemNamesTheVariable()
    {
        var (options, problems) = Bind(new(), podNamespace: null);

        Assert.Null(options.Namespace);
        Assert.Equal(
            [$"{OperatorOptions.NamespaceVariable} is required outside a pod; use the namespace the scaler Service keda-add-ons-http-external-scaler is in"],
            problems);
    }

    [Fact]
    public void Bind_NamespaceBlank_CountsAsMissing()
    {
        var (_, problems) = Bind(new() { [OperatorOptions.NamespaceVariable] = "  " }, podNamespace: null);

        Assert.Contains(problems, p => p.StartsWith($"{OperatorOptions.NamespaceVariable} is required outside a pod", StringComparison.Ordinal));
    }

    [Fact]
    public void Bind_NamespaceFromThePod_IsUsedUnlessTheVariableIsSet()
    {
        Assert.Equal("pod-ns", Bind(new(), podNamespace: "pod-ns").Options.Namespace);
        Assert.Equal("set-ns", Bind(new() { [OperatorOptions.NamespaceVariable] = "set-ns" }, podNamespace: "pod-ns").Options.Namespace);
    }

    [Theory]
    [InlineData("10s", "10s")]
    [InlineData("5s", "10s")]
    public void Bind_LeaseNotLongerThanRenewDeadline_ProblemNamesBoth(string lease, string renew)
    {
        var (_, problems) = Bind(new()
        {
            [OperatorOptions.LeaseDurationVariable] = lease,
            [OperatorOptions.RenewDeadlineVariable] = renew,
            [OperatorOptions.RetryPeriodVariable] = "1s",
        }, podNamespace: "keda");

        Assert.Equal(
            [$"{OperatorOptions.LeaseDurationVariable} ({lease}) must be longer than {OperatorOptions.RenewDeadlineVariable} ({renew})"],
            problems);
    }

    [Theory]
    [InlineData("2s", "2s")]
    [InlineData("1s", "1500ms")]
    public void Bind_RenewDeadlineNotLongerThanRetryPeriod_ProblemNamesBoth(string renew, string retry)
    {
        var (_, problems) = Bind(new()
        {
            [OperatorOptions.RenewDeadlineVariable] = renew,
            [OperatorOptions.RetryPeriodVariable] = retry,
        }, podNamespace: "keda");

        var problem = Assert.Single(problems);
        Assert.StartsWith($"{OperatorOptions.RenewDeadlineVariable} ({renew}) must be longer than {OperatorOptions.RetryPeriodVariable} (", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_LeaseDefaultsAgainstAShorterLease_ComparesWithTheDefaultRenewDeadline()
    {
        var (_, problems) = Bind(new() { [OperatorOptions.LeaseDurationVariable] = "8s" }, podNamespace: "keda");

        Assert.Equal([$"{OperatorOptions.LeaseDurationVariable} (8s) must be longer than {OperatorOptions.RenewDeadlineVariable} (10s)"], problems);
    }

    [Theory]
    [InlineData(":8080", null)]
    [InlineData("127.0.0.1:8080", null)]
    [InlineData(":8081", "127.0.0.1:8081")]
    public void Bind_MetricsAndHealthOnTheSamePort_ProblemNamesBothFlags(string metrics, string? health)
    {
        var settings = new Dictionary<string, string?> { [OperatorOptions.MetricsAddressVariable] = metrics };
        settings[OperatorOptions.HealthAddressVariable] = health ?? metrics;

        var (_, problems) = Bind(settings, podNamespace: "keda");

        var problem = Assert.Single(problems);
        Assert.Contains("--metrics-bind-address and --health-probe-bind-address both use port", problem, StringComparison.Ordinal);
        Assert.EndsWith("give them different ports", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_MetricsOnTheDefaultHealthPort_IsAConflict()
    {
        var (_, problems) = Bind(new() { [OperatorOptions.MetricsAddressVariable] = ":8081" }, podNamespace: "keda");

        Assert.Equal(["--metrics-bind-address and --health-probe-bind-address both use port 8081; give them different ports"], problems);
    }

    [Theory]
    [InlineData(":0", ":0")]
    [InlineData("0", ":8080")]
    [InlineData(":8080", "0")]
    public void Bind_PortZeroOrOff_IsNoConflict(string metrics, string health)
    {
        var (_, problems) = Bind(new()
        {
            [OperatorOptions.MetricsAddressVariable] = metrics,
            [OperatorOptions.HealthAddressVariable] = health,
        }, podNamespace: "keda");

        Assert.Empty(problems);
    }

    [Fact]
    public void Bind_SeveralBadValues_OneProblemEach()
    {
        var (_, problems) = Bind(new()
        {
            [OperatorOptions.ScalerPortVariable] = "abc",
            [OperatorOptions.WorkersVariable] = "0",
            [OperatorOptions.WatchNamespaceVariable] = "Bad",
        }, podNamespace: null);

        Assert.Equal(4, problems.Count);
        Assert.Single(problems, p => p.Contains(OperatorOptions.ScalerPortVariable, StringComparison.Ordinal));
        Assert.Single(problems, p => p.Contains(OperatorOptions.WorkersVariable, StringComparison.Ordinal));
        Assert.Single(problems, p => p.Contains(OperatorOptions.WatchNamespaceVariable, StringComparison.Ordinal));
        Assert.Single(problems, p => p.StartsWith(OperatorOptions.NamespaceVariable + " ", StringComparison.Ordinal));
    }

    [Fact]
    public void Bind_DeprecatedScalerNamesOnly_AreUsedWithAWarningEach()
    {
        var (options, problems) = Bind(new()
        {
            ["KEDAHTTP_OPERATOR_EXTERNAL_SCALER_SERVICE"] = "old-scaler",
            ["KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT"] = "8091",
        }, podNamespace: "keda");

        Assert.Empty(problems);
        Assert.Equal("old-scaler.keda:8091", options.ScalerAddress);
        Assert.Equal(
            [
                $"KEDAHTTP_OPERATOR_EXTERNAL_SCALER_SERVICE is deprecated; set {OperatorOptions.ScalerServiceVariable} instead (its value is used)",
                $"KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT is deprecated; set {OperatorOptions.ScalerPortVariable} instead (its value is used)",
            ],
            options.Warnings);
    }

    [Fact]
    public void Bind_DeprecatedAndNewNamesBothSet_NewWinsAndTheOldIsReportedIgnored()
    {
        var (options, problems) = Bind(new()
        {
            ["KEDAHTTP_OPERATOR_EXTERNAL_SCALER_SERVICE"] = "old-scaler",
            ["KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT"] = "8091",
            [OperatorOptions.ScalerServiceVariable] = "new-scaler",
            [OperatorOptions.ScalerPortVariable] = "9191",
        }, podNamespace: "keda");

        Assert.Empty(problems);
        Assert.Equal("new-scaler.keda:9191", options.ScalerAddress);
        Assert.Equal(
            [
                $"KEDAHTTP_OPERATOR_EXTERNAL_SCALER_SERVICE is deprecated and ignored because {OperatorOptions.ScalerServiceVariable} is set",
                $"KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT is deprecated and ignored because {OperatorOptions.ScalerPortVariable} is set",
            ],
            options.Warnings);
    }

    [Fact]
    public void Bind_DeprecatedOnlyForOneName_OtherNameKeepsItsNewValue()
    {
        var (options, problems) = Bind(new()
        {
            ["KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT"] = "8091",
            [OperatorOptions.ScalerServiceVariable] = "new-scaler",
        }, podNamespace: "keda");

        Assert.Empty(problems);
        Assert.Equal("new-scaler.keda:8091", options.ScalerAddress);
        Assert.Single(options.Warnings);
    }

    [Fact]
    public void Bind_NewNameBlank_FallsBackToTheDeprecatedName()
    {
        var (options, problems) = Bind(new()
        {
            ["KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT"] = "8091",
            [OperatorOptions.ScalerPortVariable] = " ",
        }, podNamespace: "keda");

        Assert.Empty(problems);
        Assert.Equal(8091, options.ScalerPort);
        Assert.Contains("(its value is used)", Assert.Single(options.Warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Bind_BadValueInTheDeprecatedName_ProblemNamesTheVariableThatWasSet()
    {
        var (_, problems) = Bind(new() { ["KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT"] = "abc" }, podNamespace: "keda");

        // The user set only the old name; a line about the new one names a variable they never set.
        var problem = Assert.Single(problems);
        Assert.StartsWith("KEDAHTTP_OPERATOR_EXTERNAL_SCALER_PORT", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("true", true)]
    [InlineData("1", true)]
    [InlineData("T", true)]
    [InlineData("TRUE", true)]
    [InlineData("false", false)]
    [InlineData("0", false)]
    [InlineData("F", false)]
    [InlineData("False", false)]
    public void Bind_LeaderElectGoBooleans_AreAccepted(string value, bool expected)
    {
        var (options, problems) = Bind(new() { [OperatorOptions.LeaderElectVariable] = value }, podNamespace: "keda");

        Assert.Empty(problems);
        Assert.Equal(expected, options.LeaderElection);
    }

    [Theory]
    [InlineData(new[] { "--leader-elect" }, true)]
    [InlineData(new[] { "--leader-elect=true" }, true)]
    [InlineData(new[] { "--leader-elect=false" }, false)]
    [InlineData(new[] { "--leader-elect", "false" }, false)]
    [InlineData(new[] { "--leader-elect", "true" }, true)]
    [InlineData(new[] { "--leader-elect", "--metrics-bind-address=:9000" }, true)]
    [InlineData(new[] { "--metrics-bind-address=:9000", "--leader-elect" }, true)]
    [InlineData(new string[0], false)]
    public void Parse_LeaderElectForms_SetLeaderElection(string[] args, bool expected)
    {
        var (options, problems) = BindArgs(args);

        Assert.Empty(problems);
        Assert.Equal(expected, options.LeaderElection);
    }

    [Theory]
    [InlineData(new[] { "--metrics-bind-address=:9000" }, ":9000")]
    [InlineData(new[] { "--metrics-bind-address", ":9000" }, ":9000")]
    [InlineData(new[] { "--metrics-bind-address=127.0.0.1:9000" }, "127.0.0.1:9000")]
    [InlineData(new[] { "--metrics-bind-address", "0" }, null)]
    [InlineData(new[] { "--metrics-bind-address=0" }, null)]
    public void Parse_MetricsBindAddressForms_SetTheMetricsAddress(string[] args, string? expected)
    {
        var (options, problems) = BindArgs(args);

        Assert.Empty(problems);
        Assert.Equal(expected, options.MetricsAddress?.ToString());
    }

    [Fact]
    public void Parse_AddOnManifestArguments_AreAllAccepted()
    {
        var problems = new List<string>();
        var warnings = new List<string>();

        var values = OperatorFlags.Parse(
            ["--leader-elect", "--metrics-bind-address=:8080", "--health-probe-bind-address", ":8081", "--zap-log-level=info", "--zap-encoder=console", "--zap-time-encoding", "rfc3339", "--kubeconfig=/k"],
            problems,
            warnings);

        Assert.Empty(problems);
        Assert.Equal("true", values[OperatorOptions.LeaderElectVariable]);
        Assert.Equal(":8080", values[OperatorOptions.MetricsAddressVariable]);
        Assert.Equal(":8081", values[OperatorOptions.HealthAddressVariable]);
        Assert.Equal("info", values["UPDRAFT_LOG_LEVEL"]);
        Assert.Equal("/k", values[OperatorOptions.KubeconfigVariable]);
        Assert.Equal(5, values.Count);
        Assert.Equal(2, warnings.Count);
        Assert.All(warnings, w => Assert.EndsWith("is accepted for compatibility with the add-on's operator and has no effect", w, StringComparison.Ordinal));
    }

    [Fact]
    public void Parse_IgnoredBooleanFlagBeforeAnotherFlag_DoesNotSwallowIt()
    {
        var problems = new List<string>();
        var warnings = new List<string>();

        var values = OperatorFlags.Parse(["--zap-devel", "--leader-elect=false"], problems, warnings);

        Assert.Empty(problems);
        Assert.Equal("false", values[OperatorOptions.LeaderElectVariable]);
        Assert.StartsWith("--zap-devel ", Assert.Single(warnings), StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_FlagOverridesTheEnvironmentVariable()
    {
        var (options, problems) = BindArgs(["--metrics-bind-address=:9000"], new() { [OperatorOptions.MetricsAddressVariable] = ":7000" });

        Assert.Empty(problems);
        Assert.Equal(9000, options.MetricsAddress!.Port);
    }

    [Theory]
    [InlineData("--unknown")]
    [InlineData("--unknown=1")]
    [InlineData("-leader-elect")]
    [InlineData("leader-elect")]
    [InlineData("--Leader-Elect")]
    public void Parse_UnknownFlag_ProblemNamesItAndTheKnownFlags(string arg)
    {
        var problems = new List<string>();

        var values = OperatorFlags.Parse([arg], problems, []);

        Assert.Empty(values);
        var problem = Assert.Single(problems);
        Assert.StartsWith($"unknown argument \"{arg}\"; the operator takes ", problem, StringComparison.Ordinal);
        foreach (var flag in new[] { "--leader-elect", "--metrics-bind-address", "--health-probe-bind-address", "--kubeconfig", "--zap-log-level" })
        {
            Assert.Contains(flag, problem, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("--metrics-bind-address")]
    [InlineData("--health-probe-bind-address")]
    [InlineData("--kubeconfig")]
    [InlineData("--zap-log-level")]
    public void Parse_FlagWithoutValueAtTheEnd_ProblemNamesTheFlag(string flag)
    {
        var problems = new List<string>();

        var values = OperatorFlags.Parse(["--leader-elect", flag], problems, []);

        Assert.Equal([$"{flag} needs a value"], problems);
        Assert.Equal(["true"], values.Values);
    }

    [Fact]
    public void Parse_BadFlagValue_ProblemNamesTheFlagAndTheAllowedForm()
    {
        var (_, problems) = BindArgs(["--metrics-bind-address=:99999", "--leader-elect=maybe"]);

        Assert.Equal(2, problems.Count);
        Assert.Contains($"--metrics-bind-address ({OperatorOptions.MetricsAddressVariable})=\":99999\" is not valid; {AddressForm}", problems);
        Assert.Contains($"{OperatorOptions.LeaderElectVariable}=\"maybe\" is not valid; use true or false", problems);
    }

    public static TheoryData<string, string?, int> Addresses => new()
    {
        { ":8080", null, 8080 },
        { ":0", null, 0 },
        { "0.0.0.0:8080", "0.0.0.0", 8080 },
        { "127.0.0.1:65535", "127.0.0.1", 65535 },
        { "[::1]:8080", "::1", 8080 },
        { "[::]:9", "::", 9 },
        { "::1:8080", "::1", 8080 },
    };

    [Theory]
    [MemberData(nameof(Addresses))]
    public void TryParse_ValidAddress_GivesHostAndPort(string text, string? host, int port)
    {
        Assert.True(BindAddress.TryParse(text, out var address));

        Assert.Equal(host is null ? null : IPAddress.Parse(host), address.Address);
        Assert.Equal(port, address.Port);
    }

    [Theory]
    [InlineData("")]
    [InlineData("8080")]
    [InlineData(":")]
    [InlineData(":65536")]
    [InlineData(":+80")]
    [InlineData(":-1")]
    [InlineData(": 80")]
    [InlineData("localhost:8080")]
    [InlineData("example.com:80")]
    [InlineData("1.2.3:80x")]
    [InlineData("[::1]")]
    public void TryParse_InvalidAddress_IsRejected(string text)
    {
        Assert.False(BindAddress.TryParse(text, out _));
    }

    [Theory]
    [InlineData(":8080")]
    [InlineData("127.0.0.1:9000")]
    public void ToString_ParsedAddress_RoundTrips(string text)
    {
        Assert.True(BindAddress.TryParse(text, out var address));

        Assert.Equal(text, address.ToString());
    }

    private static (OperatorOptions Options, List<string> Problems) Bind(Dictionary<string, string?> settings, string? podNamespace = null)
    {
        var problems = new List<string>();
        var options = OperatorOptions.Bind(name => settings.TryGetValue(name, out var value) ? value : null, podNamespace, problems);
        return (options, problems);
    }

    /// <summary>Flags mapped onto settings and layered over <paramref name="environment"/>, as start-up does.</summary>
    private static (OperatorOptions Options, List<string> Problems) BindArgs(string[] args, Dictionary<string, string?>? environment = null)
    {
        var problems = new List<string>();
        var flags = OperatorFlags.Parse(args, problems, []);
        var settings = new Dictionary<string, string?>(environment ?? [], StringComparer.Ordinal);
        foreach (var (name, value) in flags)
        {
            settings[name] = value;
        }

        var options = OperatorOptions.Bind(name => settings.TryGetValue(name, out var value) ? value : null, "keda", problems);
        return (options, problems);
    }
}
