using System.Text;

namespace Updraft.Tests.Common;

/// <summary>
/// Routes files that once took the interceptor and the scaler down, and the one-line problem each must now get
/// (issue 16: hostile YAML). Both are rejected while they are read, before they use much stack or memory.
/// </summary>
internal static class HostileYaml
{
    /// <summary>100 KB of nested flow sequences: the YAML loader recursed once per level until the stack overflowed.</summary>
    public static string NestedBrackets { get; } = new string('[', 50_000) + new string(']', 50_000);

    public const string NestedBracketsProblem = "document 1: nested deeper than the limit of 32 levels at line 1, column 33";

    /// <summary>
    /// A "billion laughs" of about 570 bytes inside an otherwise valid InterceptorRoute (<c>default/app</c> aimed at
    /// <paramref name="port"/>): nine anchors, each a list of nine aliases to the one before, 9^9 scalars written out.
    /// </summary>
    public static string AliasBomb(int port)
    {
        var yaml = new StringBuilder("""
            apiVersion: http.keda.sh/v1beta1
            kind: InterceptorRoute
            metadata:
              name: app
              annotations:
                a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]

            """);
        for (var level = 'b'; level <= 'i'; level++)
        {
            var previous = (char)(level - 1);
            yaml.Append($"    {level}: &{level} [{string.Join(",", Enumerable.Repeat($"*{previous}", 9))}]\n");
        }

        return yaml.Append($$$"""
            spec:
              target: {service: 127.0.0.1, port: {{{port}}}}
              scalingMetric: {concurrency: {targetValue: 10}}

            """).ToString();
    }

    public const string AliasBombProblem = "document 1: alias *f at line 12, column 18 expands the file past the limit of 2,000,000 YAML nodes (an alias counts as the nodes it repeats)";
}
