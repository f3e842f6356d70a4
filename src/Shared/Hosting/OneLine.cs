using System.Globalization;
using System.Text;

namespace Updraft.Shared.Hosting;

/// <summary>
/// Problem messages quote values as they were written (metadata, routes files, peers' documents). A control character
/// or line separator in one must not split the message, which becomes one log record, gRPC status or status condition:
/// such characters are written as <c>\uXXXX</c>.
/// </summary>
public static class OneLine
{
    public static string Escape(string text)
    {
        var first = IndexOfBreak(text);
        if (first < 0)
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 16).Append(text, 0, first);
        for (var i = first; i < text.Length; i++)
        {
            var c = text[i];
            if (IsBreak(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static int IndexOfBreak(string text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (IsBreak(text[i]))
            {
                return i;
            }
        }

        return -1;
    }

    private static bool IsBreak(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';
}
