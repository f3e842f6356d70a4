using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Updraft.Interceptor.AccessLog;

/// <summary>
/// The access-log line: the Combined Log Format the add-on writes, plus the duration in seconds:
/// <c>127.0.0.1 - - [03/Dec/2026:16:40:05 +0000] "GET /path?q=1 HTTP/1.1" 200 1234 "referer" "user-agent" 0.001234</c>.
/// </summary>
/// <remarks>
/// A missing Referer or User-Agent is <c>"-"</c>. Whatever the client sent, a line is one line that parses the same way:
/// in the request, referer and user-agent fields a quote is written <c>\"</c>, a backslash <c>\\</c>, and a control
/// character, a space in the method or target, or a Unicode line or paragraph separator <c>\xHH</c> / <c>\uHHHH</c>.
/// </remarks>
internal static class AccessLogFormat
{
    public static void Append(StringBuilder line, in AccessLogEntry entry)
    {
        var address = entry.RemoteAddress;
        if (address is null)
        {
            line.Append('-');
        }
        else
        {
            line.Append((address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString());
        }

        line.Append(" - - [");
        var utc = entry.Started.ToUniversalTime();
        line.Append(utc.ToString("dd/MMM/yyyy:HH:mm:ss", CultureInfo.InvariantCulture)).Append(" +0000] \"");
        AppendEscaped(line, entry.Method, escapeSpace: true);
        line.Append(' ');
        AppendEscaped(line, entry.Target, escapeSpace: true);
        line.Append(' ');
        AppendEscaped(line, entry.Protocol, escapeSpace: true);
        line.Append("\" ");
        line.Append(entry.Status.ToString(CultureInfo.InvariantCulture)).Append(' ');
        line.Append(entry.Bytes.ToString(CultureInfo.InvariantCulture)).Append(" \"");
        AppendEscaped(line, entry.Referer ?? "-", escapeSpace: false);
        line.Append("\" \"");
        AppendEscaped(line, entry.UserAgent ?? "-", escapeSpace: false);
        line.Append("\" ");
        var seconds = (double)entry.DurationTicks / Stopwatch.Frequency;
        line.Append(seconds.ToString("0.000000", CultureInfo.InvariantCulture)).Append('\n');
    }

    private static void AppendEscaped(StringBuilder line, string value, bool escapeSpace)
    {
        foreach (var c in value)
        {
            switch (c)
            {
                case '"':
                    line.Append("\\\"");
                    break;
                case '\\':
                    line.Append("\\\\");
                    break;
                case ' ' when escapeSpace:
                    line.Append("\\x20");
                    break;
                case < ' ' or '\x7f':
                    line.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    break;
                case >= '\x80' and <= '\x9f' or '\u2028' or '\u2029':
                    // C1 controls (NEL among them) and the Unicode separators: line breaks to some readers.
                    line.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    break;
                default:
                    line.Append(c);
                    break;
            }
        }
    }
}
