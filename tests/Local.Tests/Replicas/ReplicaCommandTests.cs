using System.Runtime.Versioning;
using Updraft.Local.Replicas;
using Updraft.Shared.Workloads;

namespace Updraft.Local.Tests.Replicas;

[UnsupportedOSPlatform("windows")]
public sealed class ReplicaCommandTests
{
    [Theory]
    [InlineData("$PORT", "8080")]
    [InlineData("${PORT}", "8080")]
    [InlineData("--urls=http://127.0.0.1:$PORT/", "--urls=http://127.0.0.1:8080/")]
    [InlineData("${PORT}${PORT}", "80808080")]
    [InlineData("$PORT$PORT", "80808080")]
    [InlineData("$$PORT", "$8080")]
    [InlineData("$PORT.", "8080.")]
    [InlineData("$PORTS", "$PORTS")]
    [InlineData("$PORT_2", "$PORT_2")]
    [InlineData("$PORT2", "$PORT2")]
    [InlineData("$POR", "$POR")]
    [InlineData("${PORT", "${PORT")]
    [InlineData("no port", "no port")]
    [InlineData("", "")]
    public void SubstitutePort_Text_ReplacesOnlyThePortVariable(string text, string expected) =>
        Assert.Equal(expected, ReplicaCommand.SubstitutePort(text, "8080"));

    [Fact]
    public void ResolveProgram_AbsoluteRelativeAndBareNames()
    {
        using var directory = new ScratchDirectory();
        var plain = Path.Combine(directory.Path, "bash");
        File.WriteAllText(plain, "not executable");

        Assert.Equal("/bin/true", ReplicaCommand.ResolveProgram("/bin/true", "/srv", null));
        Assert.Equal("/srv/app/bin/run", ReplicaCommand.ResolveProgram("./bin/run", "/srv/app", null));
        Assert.Equal("/srv/bin/run", ReplicaCommand.ResolveProgram("../bin/run", "/srv/app", null));
        // A file that is not executable is skipped, as a shell skips it.
        var bash = ReplicaCommand.ResolveProgram("bash", "/", $"{directory.Path}::/nowhere:/usr/bin:/bin");
        Assert.NotEqual(plain, bash);
        Assert.True(File.Exists(bash));
        Assert.Equal("bash", Path.GetFileName(bash));

        var missing = Assert.Throws<ReplicaStartException>(() => ReplicaCommand.ResolveProgram("updraft-none", "/", "/usr/bin:/bin"));
        Assert.Equal("'updraft-none' is not an executable file in any directory on PATH", missing.Message);
        Assert.Throws<ReplicaStartException>(() => ReplicaCommand.ResolveProgram("bash", "/", null));
    }

    [Fact]
    public void StartInfo_Workload_PortInArgumentsAndEnvironmentAndTheWorkloadsPath()
    {
        using var directory = new ScratchDirectory();
        var tool = Path.Combine(directory.Path, "serve");
        File.WriteAllText(tool, "#!/bin/bash\n");
        File.SetUnixFileMode(tool, UnixFileMode.UserRead | UnixFileMode.UserExecute);
        var workload = new WorkloadDefinition("demo", "fn")
        {
            Command = ["serve", "--port", "$PORT", "--name=${PORT}-x"],
            WorkingDirectory = "/tmp",
            Readiness = ReadinessCheck.DefaultTcp,
            Environment = new Dictionary<string, string> { ["URLS"] = "http://127.0.0.1:${PORT}", ["PATH"] = directory.Path, ["PORT"] = "1" },
        };

        var info = ReplicaCommand.StartInfo(workload, 41237);

        Assert.Equal(tool, info.FileName);
        Assert.Equal(["--port", "41237", "--name=41237-x"], info.ArgumentList);
        Assert.Equal("/tmp", info.WorkingDirectory);
        Assert.Equal("http://127.0.0.1:41237", info.Environment["URLS"]);
        Assert.Equal("41237", info.Environment["PORT"]);
        Assert.False(info.UseShellExecute);
        Assert.True(info.RedirectStandardInput && info.RedirectStandardOutput && info.RedirectStandardError);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void StartInfo_NoProgram_ClearError(bool emptyName)
    {
        var workload = new WorkloadDefinition("demo", "fn") { Command = emptyName ? [""] : [], WorkingDirectory = "/tmp", Readiness = ReadinessCheck.DefaultTcp };

        Assert.Equal("the command is empty", Assert.Throws<ReplicaStartException>(() => ReplicaCommand.StartInfo(workload, 1)).Message);
    }
}
