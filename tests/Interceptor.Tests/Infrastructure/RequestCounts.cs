using System.Globalization;
using System.Text.RegularExpressions;

namespace Updraft.Interceptor.Tests.Infrastructure;

/// <summary><c>interceptor_request_count_total</c> read from <c>/metrics</c>, summed per route and status.</summary>
internal static partial class RequestCounts
{
    /// <summary>The requests recorded for <paramref name="route"/> (<c>""</c>: unrouted) whose status satisfies <paramref name="code"/>.</summary>
    public static async Task<double> SumAsync(TestInterceptor interceptor, string route, Func<int, bool> code)
    {
        var total = 0.0;
        foreach (Match sample in Sample().Matches(await interceptor.GetMetricsTextAsync()))
        {
            var labels = sample.Groups["labels"].Value;
            if (labels.Contains($"route_name=\"{route}\"", StringComparison.Ordinal)
                && code(int.Parse(StatusLabel().Match(labels).Groups[1].Value, CultureInfo.InvariantCulture)))
            {
                total += double.Parse(sample.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return total;
    }

    /// <summary>Waits until <paramref name="count"/> requests of <paramref name="route"/> are recorded (that happens just after each response).</summary>
    public static Task WaitForAsync(TestInterceptor interceptor, string route, int count) =>
        TestInterceptor.WaitUntilAsync(async () => await SumAsync(interceptor, route, _ => true) >= count, $"{count} requests of route '{route}' are recorded");

    [GeneratedRegex("""^interceptor_request_count_total\{(?<labels>[^}]*)\} (?<value>\S+)""", RegexOptions.Multiline)]
    private static partial Regex Sample();

    [GeneratedRegex("code=\"(\\d+)\"")]
    private static partial Regex StatusLabel();
}
