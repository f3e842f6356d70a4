using System.Diagnostics;
using System.Text.Json.Nodes;
using Updraft.Tests.Common;

namespace Updraft.Chart.Tests.Infrastructure;

/// <summary>
/// One of Updraft's components (<c>dotnet Updraft.X.dll</c>, copied next to the test assembly by the project
/// references) run as the chart's container would run it: with the container's environment as the chart rendered it
/// (a <c>fieldRef</c> to <c>metadata.namespace</c> becomes the release namespace) plus the given overrides (loopback
/// ports, a kubeconfig instead of the pod's mounted token). Killed by its process id on dispose.
/// </summary>
internal sealed class ComponentProcess : IAsyncDisposable
{
    private static readonly string[] ClearedPrefixes = ["KEDA_", "KEDAHTTP_", "UPDRAFT_", "OTEL_", "KUBECONFIG", "KUBERNETES_", "ASPNETCORE_", "DOTNET_"];

    private readonly Process _process;
    private readonly List<string> _output = [];

    private ComponentProcess(Process process) => _process = process;

    public bool HasExited => _process.HasExited;

    public IReadOnlyList<string> Output
    {
        get
        {
            lock (_output)
            {
                return [.. _output];
            }
        }
    }

    /// <summary>The environment of <paramref name="deployment"/>'s first container, as the kubelet would give it.</summary>
    public static Dictionary<string, string?> EnvironmentOf(JsonObject deployment, string ns)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        var container = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;
        foreach (var variable in container["env"]!.AsArray())
        {
            var name = variable!["name"]!.GetValue<string>();
            if (variable["value"] is { } value)
            {
                environment[name] = value.GetValue<string>();
            }
            else if (variable["valueFrom"]?["fieldRef"]?["fieldPath"]?.GetValue<string>() == "metadata.namespace")
            {
                environment[name] = ns;
            }
            else
            {
                throw new InvalidOperationException($"the test cannot resolve {name}: {variable.ToJsonString()}");
            }
        }

        return environment;
    }

    /// <summary>The container's arguments.</summary>
    public static string[] ArgumentsOf(JsonObject deployment) =>
        deployment["spec"]!["template"]!["spec"]!["containers"]![0]!["args"] is JsonArray args
            ? [.. args.Select(a => a!.GetValue<string>())]
            : [];

    public static ComponentProcess Start(string dll, IReadOnlyDictionary<string, string?> environment, IEnumerable<string> args)
    {
        var path = Path.Combine(AppContext.BaseDirectory, dll);
        Assert.True(File.Exists(path), $"{path} is missing");
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(path);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        foreach (var key in info.Environment.Keys.Where(k => ClearedPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal))).ToList())
        {
            info.Environment.Remove(key);
        }

        foreach (var (key, value) in environment)
        {
            info.Environment[key] = value;
        }

        var process = new Process { StartInfo = info };
        var result = new ComponentProcess(process);
        process.OutputDataReceived += (_, e) => result.Add(e.Data);
        process.ErrorDataReceived += (_, e) => result.Add(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return result;
    }

    /// <summary>A loopback port nobody listens on right now.</summary>
    public static int FreePort() => LoopbackPorts.Free();

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Add(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
}
