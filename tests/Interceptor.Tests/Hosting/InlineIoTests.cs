using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Updraft.Interceptor.Hosting;
using Updraft.Interceptor.Tests.Infrastructure;

namespace Updraft.Interceptor.Tests.Hosting;

/// <summary><c>UPDRAFT_INLINE_IO</c>: the runtime's inline socket completions and Kestrel's inline scheduling follow it.</summary>
public sealed partial class InlineIoTests
{
    [Fact]
    public void ApplyToRuntime_SettingUnset_TurnsOnInlineCompletions()
    {
        var environment = new Dictionary<string, string>();

        InlineIo.ApplyToRuntime(name => environment.GetValueOrDefault(name), (name, value) => environment[name] = value);

        Assert.Equal("1", environment[InlineIo.RuntimeVariable]);
    }

    [Fact]
    public void ApplyToRuntime_SettingThatDoesNotParse_CountsAsTheDefault()
    {
        // Start-up then fails naming the variable (StartupFailureTests); the runtime switch is already decided by then.
        var environment = new Dictionary<string, string> { [InlineIo.Variable] = "sometimes" };

        InlineIo.ApplyToRuntime(name => environment.GetValueOrDefault(name), (name, value) => environment[name] = value);

        Assert.Equal("1", environment[InlineIo.RuntimeVariable]);
    }

    [Theory]
    [InlineData(null, "on")]
    [InlineData("false", "off")]
    public async Task Start_RealProcess_MainAppliesTheSettingToBothHalves(string? value, string expected)
    {
        using var directory = new TempDirectory();
        directory.Write("routes.yaml", Routes.InterceptorRoute("app", 1));
        var settings = new Dictionary<string, string>();
        if (value is not null)
        {
            settings[InlineIo.Variable] = value;
        }

        await using var process = InterceptorProcess.Start(directory.Path, ["--routes", "routes.yaml"], settings);
        var line = await process.WaitForStdoutAsync(ListeningLine());

        Assert.Contains($"inline I/O {expected}, transport ", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("false")]
    [InlineData("0")]
    public void ApplyToRuntime_SettingOff_LeavesTheRuntimeAlone(string value)
    {
        var environment = new Dictionary<string, string> { [InlineIo.Variable] = value };

        InlineIo.ApplyToRuntime(name => environment.GetValueOrDefault(name), (name, value) => environment[name] = value);

        Assert.False(environment.ContainsKey(InlineIo.RuntimeVariable));
    }

    [Fact]
    public void ApplyToRuntime_RuntimeVariableGivenByTheOperator_KeepsIt()
    {
        var environment = new Dictionary<string, string> { [InlineIo.RuntimeVariable] = "0" };

        InlineIo.ApplyToRuntime(name => environment.GetValueOrDefault(name), (name, value) => environment[name] = value);

        Assert.Equal("0", environment[InlineIo.RuntimeVariable]);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public async Task Build_InlineIoSetting_SetsKestrelsInlineScheduling(string? value, bool expected)
    {
        var settings = new Dictionary<string, string?> { ["KEDA_HTTP_PROXY_PORT"] = "0", [InlineIo.Variable] = value };
        await using var app = InterceptorApplication.Build([], settings);

        var transport = app.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;

        Assert.Equal(expected, transport.UnsafePreferInlineScheduling);
    }

    [Fact]
    public async Task Build_ConsoleLogQueueFull_DropsLinesRatherThanBlockingASocketThread()
    {
        await using var app = InterceptorApplication.Build([], new Dictionary<string, string?> { ["KEDA_HTTP_PROXY_PORT"] = "0" });

        var console = app.Services.GetRequiredService<IOptions<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>>().Value;

        Assert.Equal(Microsoft.Extensions.Logging.Console.ConsoleLoggerQueueFullMode.DropWrite, console.QueueFullMode);
    }

    /// <summary>The premise of every in-process interceptor test: this process completes socket operations inline, as the
    /// interceptor's own process does (set by inline-io.runsettings, read by the runtime once).</summary>
    [Fact]
    public void TestProcess_SocketCompletions_RunInlineAsInTheInterceptor()
    {
        var engine = typeof(System.Net.Sockets.Socket).Assembly.GetType("System.Net.Sockets.SocketAsyncEngine");
        var inline = engine?.GetField("InlineSocketCompletionsEnabled", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Static);

        Assert.NotNull(inline);
        Assert.Equal(true, inline.GetValue(null));
    }

    [System.Text.RegularExpressions.GeneratedRegex("Interceptor listening: .*inline I/O")]
    private static partial System.Text.RegularExpressions.Regex ListeningLine();
}
