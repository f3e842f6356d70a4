using CsCheck;

namespace Updraft.Tests.Common.Fuzzing;

/// <summary>
/// Generators of the inputs parsers meet on a bad day: control characters, unicode (lone surrogates, bidi overrides,
/// line separators), percent-encoding, huge and odd numbers, deep nesting, empty and blank text; and mutations of
/// known inputs (the corpus), which reach deeper into a parser than random text does.
/// </summary>
internal static class Hostile
{
    /// <summary>Short pieces that break parsers: YAML/JSON syntax, escapes, numbers at the edges, odd unicode.</summary>
    public static readonly string[] Tokens =
    [
        "", " ", "  ", "\t", "\n", "\r\n", "\r", "\0", "\u0001", "\u001b", "\u007f", "\u0085", "\u2028", "\u2029",
        "\u00a0", "\ufeff", "\u202e", "\u200b", "\ud800", "\udc00", "\ud83d\ude00", "\uffff", "é", "E\u0301", "µ", "μ", "İ", "ß",
        "%", "%2", "%2F", "%2f", "%252F", "%2E", "%2e%2e", "%00", "%0A", "%ZZ", "%C3%A9", "%FF",
        ".", "..", "/", "//", "/../", "/./", "\\", "?", "#", "@", ":", "::", "[", "]", "{", "}", ",", "*", "*.", "&", "!", "|", ">", "'", "\"", "`", "=",
        "- ", ": ", "---\n", "...\n", "&a ", "*a", "<<: ", "!!str ", "!!binary ", "? ", "%YAML 1.2\n", "#c",
        "0", "-0", "+0", "00", "-1", "1", "65535", "65536", "2147483647", "2147483648", "-2147483649", "9223372036854775807",
        "9223372036854775808", "99999999999999999999999999999999", "1e309", "1e-400", "0x10", "1_000", ".5", "5.", "NaN", "Infinity", "-Infinity",
        "null", "~", "true", "False", "yes", "on",
        "ns", "us", "ms", "s", "m", "h", "1h", "2562048h",
        "localhost", "[::1]", "127.0.0.1", "a..b", "xn--e1afmkfd", "app.example.com.",
    ];

    private static readonly Gen<char> AsciiChar = Gen.Char[' ', '~'];

    private static readonly Gen<char> AnyChar = Gen.Frequency(
        (6, AsciiChar),
        (1, Gen.Char['\0', '\u001f']),
        (1, Gen.Char['\u0080', '\u07ff']),
        (1, Gen.Char['\ud800', '\udfff']),
        (1, Gen.Char));

    /// <summary>Any short text, ASCII most of the time.</summary>
    public static readonly Gen<string> Text = Gen.Frequency(
        (4, Gen.String[AnyChar, 0, 40]),
        (3, Gen.OneOf(Tokens).Array[0, 8].Select(parts => string.Concat(parts))),
        (1, Gen.OneOf("", " ", "\t", "\n", " \r\n\t ", "\u00a0", "\u3000")),
        (1, Gen.Select(Gen.OneOf("[", "{", "- ", "a:", "(", "%25", "../"), Gen.Int[30, 3000], (piece, count) => string.Concat(Enumerable.Repeat(piece, count)))),
        (1, Gen.Select(Gen.Char["0123456789"], Gen.Int[20, 400], (digit, count) => new string(digit, count))));

    /// <summary>Text close to <paramref name="seeds"/>: one of them with a few random edits.</summary>
    public static Gen<string> Mutated(IReadOnlyList<string> seeds)
    {
        var edit = Gen.Select(Gen.Int[0, 6], Gen.Int[0, int.MaxValue], Gen.Int[0, 24], Gen.OneOf(Tokens), (kind, position, length, token) => new Edit(kind, position, length, token));
        return Gen.Select(Gen.Int[0, seeds.Count - 1], edit.Array[1, 5], (index, edits) => Apply(seeds[index], edits));
    }

    private static string Apply(string text, Edit[] edits)
    {
        foreach (var edit in edits)
        {
            var at = text.Length == 0 ? 0 : edit.Position % (text.Length + 1);
            var length = Math.Min(edit.Length, text.Length - at);
            text = edit.Kind switch
            {
                0 => text.Remove(at, length),
                1 => text.Insert(at, edit.Token),
                2 => text.Remove(at, length).Insert(at, edit.Token),
                3 => text.Insert(at, text.Substring(at, length)),
                4 => text[..at],
                5 => at < text.Length ? text.Remove(at, 1).Insert(at, ((char)(text[at] ^ (1 << (edit.Length % 7)))).ToString()) : text,
                _ => text.Insert(at, string.Concat(Enumerable.Repeat(edit.Token, 1 + edit.Length))),
            };
        }

        return text;
    }

    private sealed record Edit(int Kind, int Position, int Length, string Token);
}
