using System.Text;
using System.Text.Json;

namespace Updraft.Chart.Tests.Images;

/// <summary>One instruction of a Dockerfile: its keyword (upper case) and the rest of its line, continuations joined.</summary>
internal sealed record DockerInstruction(string Keyword, string Arguments, int Line);

/// <summary>One <c>FROM</c> stage: its base image, its name (<c>AS name</c>) and its instructions.</summary>
internal sealed record DockerStage(string Image, string? Name, IReadOnlyList<DockerInstruction> Instructions)
{
    public IEnumerable<DockerInstruction> All(string keyword) => Instructions.Where(i => i.Keyword == keyword);
}

/// <summary>
/// The parts of a component's Dockerfile the image tests run (the build stage's COPY and RUN steps) and check (the
/// runtime stage's ENV, USER, WORKDIR, EXPOSE and ENTRYPOINT). Only the forms Updraft's Dockerfiles use are
/// understood; anything else fails the test with the line, rather than being guessed at.
/// </summary>
internal sealed class Dockerfile
{
    private Dockerfile(string path, IReadOnlyList<DockerStage> stages)
    {
        Path = path;
        Stages = stages;
    }

    public string Path { get; }

    public IReadOnlyList<DockerStage> Stages { get; }

    /// <summary>The stage the image is made of (the last one).</summary>
    public DockerStage Runtime => Stages[^1];

    /// <summary>The runtime stage's <c>ENV</c> variables, in order (a later one replaces an earlier one).</summary>
    public IReadOnlyDictionary<string, string> Environment
    {
        get
        {
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var instruction in Runtime.All("ENV"))
            {
                foreach (var (name, value) in ParseEnv(instruction))
                {
                    environment[name] = value;
                }
            }

            return environment;
        }
    }

    /// <summary>The runtime stage's <c>USER</c> (the last one), or null.</summary>
    public string? User => Runtime.All("USER").LastOrDefault()?.Arguments.Trim();

    /// <summary>The runtime stage's working directory (its last <c>WORKDIR</c>), or <c>/</c>.</summary>
    public string WorkingDirectory => Runtime.All("WORKDIR").LastOrDefault()?.Arguments.Trim() ?? "/";

    /// <summary>The runtime stage's exposed ports.</summary>
    public IReadOnlyList<int> ExposedPorts =>
        [.. Runtime.All("EXPOSE").SelectMany(i => Words(i.Arguments)).Select(p => int.Parse(p.Split('/')[0], System.Globalization.CultureInfo.InvariantCulture))];

    /// <summary>The runtime stage's <c>ENTRYPOINT</c> in exec (JSON) form.</summary>
    public IReadOnlyList<string> Entrypoint
    {
        get
        {
            var instruction = Runtime.All("ENTRYPOINT").LastOrDefault() ?? throw Unsupported(null, "the runtime stage has no ENTRYPOINT");
            try
            {
                return JsonSerializer.Deserialize<string[]>(instruction.Arguments) ?? throw Unsupported(instruction, "ENTRYPOINT is not a JSON array");
            }
            catch (JsonException)
            {
                throw Unsupported(instruction, "ENTRYPOINT must be in exec form (a JSON array)");
            }
        }
    }

    /// <summary>
    /// The runtime stage's one <c>COPY --from=STAGE SOURCE .</c>: the build stage and the directory its output is taken
    /// from (the publish directory).
    /// </summary>
    public (DockerStage Stage, string Directory) PublishedFrom
    {
        get
        {
            var copies = Runtime.All("COPY").ToList();
            if (copies.Count != 1)
            {
                throw Unsupported(copies.FirstOrDefault(), "the runtime stage must copy exactly one thing: the build stage's publish output");
            }

            var words = Words(copies[0].Arguments);
            if (words.Count != 3 || !words[0].StartsWith("--from=", StringComparison.Ordinal) || words[2] != ".")
            {
                throw Unsupported(copies[0], "expected COPY --from=STAGE DIRECTORY .");
            }

            var name = words[0]["--from=".Length..];
            var stage = Stages.SingleOrDefault(s => s.Name == name) ?? throw Unsupported(copies[0], $"no stage is named {name}");
            return (stage, words[1]);
        }
    }

    public static Dockerfile Load(string path)
    {
        var stages = new List<DockerStage>();
        string? image = null;
        string? name = null;
        var instructions = new List<DockerInstruction>();
        foreach (var instruction in Instructions(File.ReadAllLines(path)))
        {
            if (instruction.Keyword == "FROM")
            {
                if (image is not null)
                {
                    stages.Add(new DockerStage(image, name, instructions));
                }

                var words = Words(instruction.Arguments).Where(w => !w.StartsWith("--", StringComparison.Ordinal)).ToList();
                image = words[0];
                name = words.Count == 3 && words[1].Equals("AS", StringComparison.OrdinalIgnoreCase) ? words[2] : null;
                instructions = [];
            }
            else if (image is null)
            {
                if (instruction.Keyword != "ARG")
                {
                    throw new InvalidOperationException($"{path}:{instruction.Line}: {instruction.Keyword} before the first FROM");
                }
            }
            else
            {
                instructions.Add(instruction);
            }
        }

        if (image is null)
        {
            throw new InvalidOperationException(path + " has no FROM");
        }

        stages.Add(new DockerStage(image, name, instructions));
        return new Dockerfile(path, stages);
    }

    /// <summary>Whitespace-separated words (Dockerfile arguments outside ENV, which has its own quoting).</summary>
    public static List<string> Words(string text) => [.. text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)];

    public InvalidOperationException Unsupported(DockerInstruction? instruction, string problem) =>
        new(instruction is null ? $"{Path}: {problem}" : $"{Path}:{instruction.Line}: {problem}: {instruction.Keyword} {instruction.Arguments}");

    /// <summary><c>ENV NAME=VALUE ...</c>, values plain or double-quoted (an empty value clears the variable).</summary>
    private IEnumerable<(string Name, string Value)> ParseEnv(DockerInstruction instruction)
    {
        var text = instruction.Arguments;
        var position = 0;
        while (true)
        {
            while (position < text.Length && char.IsWhiteSpace(text[position]))
            {
                position++;
            }

            if (position == text.Length)
            {
                yield break;
            }

            var equals = text.IndexOf('=', position);
            if (equals < 0)
            {
                throw Unsupported(instruction, "expected ENV NAME=VALUE");
            }

            var variable = text[position..equals];
            if (variable.Length == 0 || variable.Any(char.IsWhiteSpace))
            {
                throw Unsupported(instruction, "expected ENV NAME=VALUE");
            }

            position = equals + 1;
            var value = new StringBuilder();
            if (position < text.Length && text[position] == '"')
            {
                var close = text.IndexOf('"', position + 1);
                if (close < 0)
                {
                    throw Unsupported(instruction, "unterminated quote");
                }

                value.Append(text, position + 1, close - position - 1);
                position = close + 1;
            }
            else
            {
                while (position < text.Length && !char.IsWhiteSpace(text[position]))
                {
                    if (text[position] is '$' or '\\' or '\'')
                    {
                        throw Unsupported(instruction, "variables, escapes and single quotes in ENV are not supported here");
                    }

                    value.Append(text[position++]);
                }
            }

            yield return (variable, value.ToString());
        }
    }

    /// <summary>Instructions with comments dropped and backslash continuations joined.</summary>
    private static IEnumerable<DockerInstruction> Instructions(string[] lines)
    {
        var current = new StringBuilder();
        var start = 0;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            if (current.Length == 0)
            {
                start = i + 1;
            }

            if (line.EndsWith('\\'))
            {
                current.Append(line[..^1]).Append(' ');
                continue;
            }

            current.Append(line);
            var text = current.ToString();
            current.Clear();
            var space = text.IndexOfAny([' ', '\t']);
            yield return space < 0
                ? new DockerInstruction(text.ToUpperInvariant(), "", start)
                : new DockerInstruction(text[..space].ToUpperInvariant(), text[(space + 1)..].Trim(), start);
        }
    }
}
