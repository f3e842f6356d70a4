using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Updraft.Interceptor.Tests.AccessLog;

/// <summary>One access-log line parsed back (the README's format), quoted fields unescaped.</summary>
internal sealed partial record AccessLogLine(string RemoteHost, DateTimeOffset Time, string Method, string Target, string Protocol, int Status, long Bytes, string Referer, string UserAgent, double Seconds)
{
    public static bool TryParse(string line, out AccessLogLine parsed)
    {
        parsed = null!;
        var match = Pattern().Match(line);
        if (!match.Success)
        {
            return false;
        }

        var request = match.Groups["request"].Value.Split(' ');
        if (request.Length != 3)
        {
            return false;
        }

        parsed = new AccessLogLine(
            match.Groups["host"].Value,
            DateTimeOffset.ParseExact(match.Groups["time"].Value, "dd/MMM/yyyy:HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal),
            Unescape(request[0]),
            Unescape(request[1]),
            Unescape(request[2]),
            int.Parse(match.Groups["status"].Value, CultureInfo.InvariantCulture),
            long.Parse(match.Groups["bytes"].Value, CultureInfo.InvariantCulture),
            Unescape(match.Groups["referer"].Value),
            Unescape(match.Groups["agent"].Value),
            double.Parse(match.Groups["seconds"].Value, CultureInfo.InvariantCulture));
        return true;
    }

    private static string Unescape(string text)
    {
        var result = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] != '\\')
            {
                result.Append(text[i]);
                continue;
            }

            var next = text[++i];
            switch (next)
            {
                case 'x':
                    result.Append((char)int.Parse(text.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 2;
                    break;
                case 'u':
                    result.Append((char)int.Parse(text.AsSpan(i + 1, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                    i += 4;
                    break;
                default:
                    result.Append(next);
                    break;
            }
        }

        return result.ToString();
    }

    // Inside quotes: anything but a quote or backslash, or a backslash and one character. Times are UTC.
    [GeneratedRegex("""^(?<host>\S+) - - \[(?<time>\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2}) \+0000\] "(?<request>(?:[^"\\]|\\.)*)" (?<status>\d{3}) (?<bytes>\d+) "(?<referer>(?:[^"\\]|\\.)*)" "(?<agent>(?:[^"\\]|\\.)*)" (?<seconds>\d+\.\d{6})$""")]
    private static partial Regex Pattern();
}
