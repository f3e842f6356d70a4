using System.Globalization;
using System.Text;

namespace Updraft.ExternalScaler.Http;

/// <summary>The add-on's metric names, so HPAs and dashboards built for it keep working.</summary>
internal static class HttpMetricNames
{
    public static string Concurrency(string routeName) => "http_" + routeName + "_concurrency";

    public static string Rate(string routeName) => "http_" + routeName + "_rate";

    /// <summary>
    /// <c>http-</c> + <c>namespace/name</c> with every character outside <c>[-.0-9A-Za-z]</c> written as
    /// <c>_%04X</c>: <c>default/xkcd</c> → <c>http-default_002Fxkcd</c>.
    /// </summary>
    public static string Escaped(string @namespace, string name)
    {
        var builder = new StringBuilder("http-", 5 + @namespace.Length + name.Length + 5);
        Append(builder, @namespace);
        Append(builder, "/");
        Append(builder, name);
        return builder.ToString();
    }

    private static void Append(StringBuilder builder, string text)
    {
        foreach (var c in text)
        {
            if (c is '-' or '.' || char.IsAsciiLetterOrDigit(c))
            {
                builder.Append(c);
            }
            else
            {
                builder.Append('_').Append(((int)c).ToString("X4", CultureInfo.InvariantCulture));
            }
        }
    }
}
