using System.Globalization;
using System.Text;

namespace Updraft.Tests.Common.Fuzzing;

/// <summary>
/// Writes a tree of plain .NET values as flow-style YAML: strings double-quoted (escaped) or, for <see cref="Raw"/>,
/// as given; numbers and booleans plain; lists as sequences; <see cref="YamlMap"/> as mappings, keys in order.
/// </summary>
internal static class YamlText
{
    public static string Write(object? value)
    {
        var text = new StringBuilder();
        Write(value, text);
        return text.ToString();
    }

    /// <summary>Text written into the YAML exactly as it is (plain scalars, or broken syntax on purpose).</summary>
    public sealed record Raw(string Text);

    private static void Write(object? value, StringBuilder text)
    {
        switch (value)
        {
            case null:
                text.Append("null");
                break;
            case Raw raw:
                text.Append(raw.Text);
                break;
            case string s:
                Quote(s, text);
                break;
            case bool b:
                text.Append(b ? "true" : "false");
                break;
            case IFormattable number:
                text.Append(number.ToString(null, CultureInfo.InvariantCulture));
                break;
            case YamlMap map:
                text.Append('{');
                for (var i = 0; i < map.Count; i++)
                {
                    text.Append(i == 0 ? "" : ", ");
                    Quote(map[i].Key, text);
                    text.Append(": ");
                    Write(map[i].Value, text);
                }

                text.Append('}');
                break;
            case System.Collections.IEnumerable items:
                text.Append('[');
                var first = true;
                foreach (var item in items)
                {
                    text.Append(first ? "" : ", ");
                    first = false;
                    Write(item, text);
                }

                text.Append(']');
                break;
            default:
                throw new ArgumentException("cannot write " + value.GetType(), nameof(value));
        }
    }

    private static void Quote(string s, StringBuilder text)
    {
        text.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"' or '\\':
                    text.Append('\\').Append(c);
                    break;
                case < ' ' or '\u007f' or '\u0085' or '\u2028' or '\u2029' or '\ufeff':
                    text.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
                    break;
                default:
                    text.Append(c);
                    break;
            }
        }

        text.Append('"');
    }
}

/// <summary>A YAML mapping whose keys keep their order (and may repeat, to test duplicate keys).</summary>
internal sealed class YamlMap : List<KeyValuePair<string, object?>>
{
    public void Add(string key, object? value) => Add(new KeyValuePair<string, object?>(key, value));
}
