namespace Updraft.Shared.Hosting;

/// <summary>Start-up cannot go on; each problem is printed on its own line and the process exits non-zero.</summary>
public sealed class StartupProblemsException(IReadOnlyList<string> problems)
    : Exception(string.Join(Environment.NewLine, problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
