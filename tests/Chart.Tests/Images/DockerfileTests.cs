using System.Xml.Linq;
using Updraft.Chart.Tests.Infrastructure;
using Updraft.Tests.Common;

namespace Updraft.Chart.Tests.Images;

/// <summary>
/// Each component's Dockerfile agrees with the chart that runs its image: the same non-root user, <c>TMPDIR</c> where
/// the chart mounts its emptyDir, the runtime's diagnostics off as the chart sets it, every container port exposed, and
/// the entry point the project builds. Rendered with the chart's defaults; no container engine needed.
/// </summary>
public sealed class DockerfileTests
{
    public static TheoryData<string, string> Components() => new()
    {
        { "Interceptor", "updraft-interceptor" },
        { "ExternalScaler", "updraft-scaler" },
        { "Operator", "updraft-operator" },
    };

    public static TheoryData<string> Projects() => ["Interceptor", "ExternalScaler", "Operator"];

    /// <summary>What every build reads from the repository root.</summary>
    private static readonly string[] RootFiles = ["global.json", "Directory.Build.props", "Directory.Build.targets", "Directory.Packages.props", ".editorconfig"];

    /// <summary>
    /// The build stage copies, before its restore, the root build files and the project file of every project the
    /// component references (transitively), and before its publish, each of those projects' folders and every file
    /// outside them that a project includes (the protos). The image tests build the three components in one directory,
    /// where one Dockerfile's gap could be filled by another's copy: this is what keeps each one whole.
    /// </summary>
    [Theory]
    [MemberData(nameof(Projects))]
    public void Dockerfile_Component_CopiesEverythingItsBuildReads(string component)
    {
        var root = Repository.Root();
        var dockerfile = Dockerfile.Load(Path.Combine(root, "src", component, "Dockerfile"));
        var stage = dockerfile.PublishedFrom.Stage;
        var instructions = stage.Instructions.ToList();
        var runs = instructions.Select((i, index) => (i, index)).Where(p => p.i.Keyword == "RUN").Select(p => p.index).ToList();
        Assert.Equal(2, runs.Count);
        Assert.StartsWith("dotnet restore ", instructions[runs[0]].Arguments, StringComparison.Ordinal);
        Assert.StartsWith("dotnet publish ", instructions[runs[1]].Arguments, StringComparison.Ordinal);
        var beforeRestore = CopiedSources(instructions.Take(runs[0]));
        var beforePublish = CopiedSources(instructions.Take(runs[1]));

        foreach (var file in RootFiles)
        {
            Assert.True(Covers(beforeRestore, file), $"{dockerfile.Path} does not copy {file} before the restore");
        }

        foreach (var project in ProjectClosure(Path.Combine(root, "src", component, component + ".csproj")))
        {
            var relative = Relative(root, project);
            Assert.True(Covers(beforeRestore, relative), $"{dockerfile.Path} does not copy {relative} before the restore");
            var folder = Relative(root, Path.GetDirectoryName(project)!);
            Assert.True(Covers(beforePublish, folder + "/x"), $"{dockerfile.Path} does not copy {folder}/ before the publish");
            foreach (var outside in IncludedOutside(project))
            {
                var path = Relative(root, outside);
                Assert.True(Covers(beforePublish, path), $"{dockerfile.Path} does not copy {path} ({Path.GetFileName(project)} includes it) before the publish");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Components))]
    public async Task Dockerfile_Component_AgreesWithTheChartsDeployment(string component, string deploymentName)
    {
        var dockerfile = Dockerfile.Load(Path.Combine(Repository.Root(), "src", component, "Dockerfile"));
        var objects = await Helm.TemplateAsync([]);
        var deployment = objects.Single(o => o["kind"]!.GetValue<string>() == "Deployment" && o["metadata"]!["name"]!.GetValue<string>() == deploymentName);
        var pod = deployment["spec"]!["template"]!["spec"]!;
        var container = pod["containers"]![0]!;
        var chartEnvironment = ComponentProcess.EnvironmentOf(deployment, "updraft");
        var environment = dockerfile.Environment;

        // The same user as the chart's runAsUser (runAsNonRoot needs a numeric USER to check).
        Assert.Equal(pod["securityContext"]!["runAsUser"]!.GetValue<long>().ToString(System.Globalization.CultureInfo.InvariantCulture), dockerfile.User);
        Assert.True(container["securityContext"]!["readOnlyRootFilesystem"]!.GetValue<bool>());

        // TMPDIR is where the chart mounts a writable emptyDir; diagnostics as the chart sets them.
        Assert.Equal(chartEnvironment["TMPDIR"], environment["TMPDIR"]);
        var mount = container["volumeMounts"]!.AsArray().Single(m => m!["mountPath"]!.GetValue<string>() == environment["TMPDIR"])!;
        var volume = pod["volumes"]!.AsArray().Single(v => v!["name"]!.GetValue<string>() == mount["name"]!.GetValue<string>())!;
        Assert.NotNull(volume["emptyDir"]);
        Assert.Equal(chartEnvironment["DOTNET_EnableDiagnostics"], environment["DOTNET_EnableDiagnostics"]);
        // The component binds its own ports: the base image's ASPNETCORE_HTTP_PORTS (8080) is cleared.
        Assert.Equal("", environment["ASPNETCORE_HTTP_PORTS"]);

        // Every port the chart's container declares is exposed.
        var ports = container["ports"]!.AsArray().Select(p => (int)p!["containerPort"]!.GetValue<long>()).ToList();
        Assert.Subset(new HashSet<int>(dockerfile.ExposedPorts), new HashSet<int>(ports));

        // The project's assembly, in the directory the build stage's publish output is copied to: the Native AOT binary
        // itself where the project publishes AOT, else `dotnet <assembly>.dll`.
        var project = XDocument.Load(Path.Combine(Repository.Root(), "src", component, component + ".csproj"));
        var assembly = project.Descendants("AssemblyName").Single().Value;
        var nativeAot = project.Descendants("PublishAot").SingleOrDefault()?.Value == "true";
        Assert.Equal(nativeAot ? ["./" + assembly] : ["dotnet", assembly + ".dll"], dockerfile.Entrypoint);
        Assert.Equal("/app", dockerfile.WorkingDirectory);
        Assert.Equal("build", dockerfile.PublishedFrom.Stage.Name);

        // A chiseled base of the project's .NET version, built with the matching SDK: the ASP.NET Core runtime, or for
        // Native AOT only the runtime's native dependencies, built with the SDK that has the native toolchain.
        var version = System.Text.RegularExpressions.Regex.Escape((XDocument.Load(Path.Combine(Repository.Root(), "Directory.Build.props")).Descendants("TargetFramework").Single().Value)["net".Length..]);
        Assert.Matches($@"/dotnet/{(nativeAot ? "runtime-deps" : "aspnet")}:{version}-[a-z]+-chiseled$", dockerfile.Runtime.Image);
        Assert.Matches(nativeAot ? $@"/dotnet/sdk:{version}-[a-z]+-aot$" : $@"/dotnet/sdk:{version}$", dockerfile.PublishedFrom.Stage.Image);
        if (nativeAot)
        {
            // The publish is the AOT one: no framework-dependent switches, and no separate symbols file in the image.
            var publish = dockerfile.PublishedFrom.Stage.All("RUN").Last().Arguments;
            Assert.DoesNotContain("--self-contained false", publish, StringComparison.Ordinal);
            Assert.DoesNotContain("UseAppHost=false", publish, StringComparison.Ordinal);
            Assert.Contains("-p:DebugType=none", publish, StringComparison.Ordinal);
        }
    }

    /// <summary>The COPY sources (paths in the build context, without a trailing slash) of <paramref name="instructions"/>.</summary>
    private static List<string> CopiedSources(IEnumerable<DockerInstruction> instructions) =>
    [
        .. instructions.Where(i => i.Keyword == "COPY").SelectMany(i => Dockerfile.Words(i.Arguments).SkipLast(1)).Select(s => s.Trim('/')),
    ];

    /// <summary>Whether <paramref name="path"/> is one of <paramref name="sources"/> or inside one of them.</summary>
    private static bool Covers(List<string> sources, string path) =>
        sources.Any(s => path == s || path.StartsWith(s + "/", StringComparison.Ordinal));

    private static string Relative(string root, string path) => Path.GetRelativePath(root, path).Replace('\\', '/');

    /// <summary>The project and every project it references, transitively.</summary>
    private static HashSet<string> ProjectClosure(string project)
    {
        var closure = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>([Path.GetFullPath(project)]);
        while (pending.TryPop(out var current))
        {
            if (!closure.Add(current))
            {
                continue;
            }

            foreach (var reference in XDocument.Load(current).Descendants("ProjectReference"))
            {
                pending.Push(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(current)!, reference.Attribute("Include")!.Value)));
            }
        }

        return closure;
    }

    /// <summary>Files a project includes from outside its own folder (Protobuf items, linked sources), other than project references.</summary>
    private static IEnumerable<string> IncludedOutside(string project)
    {
        var folder = Path.GetDirectoryName(project)! + Path.DirectorySeparatorChar;
        return XDocument.Load(project).Descendants()
            .Where(e => e.Name.LocalName != "ProjectReference" && e.Attribute("Include") is not null)
            .Select(e => Path.GetFullPath(Path.Combine(folder, e.Attribute("Include")!.Value)))
            .Where(p => !p.StartsWith(folder, StringComparison.Ordinal) && File.Exists(p));
    }
}
