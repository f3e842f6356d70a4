using System.Diagnostics;
using System.Globalization;
using System.Text;
using Updraft.Shared.Workloads;

namespace Updraft.Local.Replicas;

/// <summary>What a replica runs: the workload's command with its port filled in.</summary>
internal static class ReplicaCommand
{
    /// <summary>
    /// The program is <c>Command[0]</c>: absolute as given; a relative path with a '/' taken from the working
    /// directory; a bare name looked up on <c>PATH</c> (the workload's own <c>PATH</c> when it sets one). The arguments
    /// and environment values have <c>$PORT</c> and <c>${PORT}</c> replaced, and <c>PORT</c> is set.
    /// </summary>
    /// <exception cref="ReplicaStartException">No program, or a bare name that is on no directory of <c>PATH</c>.</exception>
    public static ProcessStartInfo StartInfo(WorkloadDefinition workload, int port)
    {
        if (workload.Command.Count == 0 || workload.Command[0].Length == 0)
        {
            throw new ReplicaStartException("the command is empty");
        }

        var portText = port.ToString(CultureInfo.InvariantCulture);
        var info = new ProcessStartInfo
        {
            UseShellExecute = false,
            WorkingDirectory = workload.WorkingDirectory,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };

        foreach (var (name, value) in workload.Environment)
        {
            info.Environment[name] = SubstitutePort(value, portText);
        }

        info.Environment["PORT"] = portText;
        info.FileName = ResolveProgram(workload.Command[0], workload.WorkingDirectory, info.Environment.TryGetValue("PATH", out var path) ? path : null);
        for (var i = 1; i < workload.Command.Count; i++)
        {
            info.ArgumentList.Add(SubstitutePort(workload.Command[i], portText));
        }

        return info;
    }

    /// <summary>
    /// Replaces <c>${PORT}</c> and <c>$PORT</c> (not <c>$PORTS</c> or <c>$PORT_2</c>: as in a shell, the name runs to the
    /// first character that cannot be part of one).
    /// </summary>
    public static string SubstitutePort(string text, string port)
    {
        if (!text.Contains("$PORT", StringComparison.Ordinal) && !text.Contains("${PORT}", StringComparison.Ordinal))
        {
            return text;
        }

        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (string.CompareOrdinal(text, i, "${PORT}", 0, 7) == 0)
            {
                result.Append(port);
                i += 6;
            }
            else if (string.CompareOrdinal(text, i, "$PORT", 0, 5) == 0 && (i + 5 == text.Length || !IsNameCharacter(text[i + 5])))
            {
                result.Append(port);
                i += 4;
            }
            else
            {
                result.Append(text[i]);
            }
        }

        return result.ToString();
    }

    /// <summary>The path to run; a bare name not found on <paramref name="path"/> throws <see cref="ReplicaStartException"/>.</summary>
    public static string ResolveProgram(string program, string workingDirectory, string? path)
    {
        if (Path.IsPathRooted(program))
        {
            return program;
        }

        if (program.Contains('/', StringComparison.Ordinal))
        {
            return Path.GetFullPath(Path.Combine(workingDirectory, program));
        }

        foreach (var directory in (path ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate) && IsExecutable(candidate))
            {
                return candidate;
            }
        }

        throw new ReplicaStartException($"'{program}' is not an executable file in any directory on PATH");
    }

    public static bool IsExecutable(string file) => OperatingSystem.IsWindows() ||
        (File.GetUnixFileMode(file) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    private static bool IsNameCharacter(char c) => char.IsAsciiLetterOrDigit(c) || c == '_';
}

/// <summary>A replica's program cannot be started; the message says why.</summary>
internal sealed class ReplicaStartException(string message) : Exception(message);
