using System.Text;

namespace Updraft.Tests.Common.Fuzzing;

/// <summary>
/// Seed inputs kept in <c>tests/corpus/&lt;parser&gt;/</c>, one per file: interesting valid and invalid examples and
/// every input a fuzz test once failed on. Each fuzz test runs all of its parser's files through its property, and
/// mutates them to generate more.
/// </summary>
internal static class Corpus
{
    public static IReadOnlyList<CorpusFile> Files(string parser)
    {
        var directory = Path.Combine(Repository.Root(), "tests", "corpus", parser);
        if (!Directory.Exists(directory))
        {
            throw new InvalidOperationException($"no corpus directory {directory}");
        }

        var files = Directory.GetFiles(directory).Order(StringComparer.Ordinal).Select(path => new CorpusFile(Path.GetFileName(path), File.ReadAllBytes(path))).ToList();
        return files.Count > 0 ? files : throw new InvalidOperationException($"the corpus directory {directory} is empty");
    }

    public static IReadOnlyList<string> Texts(string parser) => Files(parser).Select(file => file.Text).ToList();

    /// <summary>Runs <paramref name="property"/> on every file of the parser's corpus; a failure names the file.</summary>
    public static void Run(string parser, Action<CorpusFile> property)
    {
        foreach (var file in Files(parser))
        {
            try
            {
                property(file);
            }
            catch (Exception e)
            {
                throw new FuzzFailure($"tests/corpus/{parser}/{file.Name}: {e.Message}", e);
            }
        }
    }
}

internal sealed record CorpusFile(string Name, byte[] Bytes)
{
    /// <summary>The file as UTF-8 text (invalid bytes become U+FFFD).</summary>
    public string Text => Encoding.UTF8.GetString(Bytes);
}
