using System.Globalization;
using System.Text;

namespace Updraft.Shared.Durations;

/// <summary>
/// Go's duration syntax (<c>time.ParseDuration</c>), which every add-on setting and CRD duration uses:
/// a sequence of decimal numbers with units <c>ns</c>, <c>us</c>/<c>µs</c>, <c>ms</c>, <c>s</c>, <c>m</c>, <c>h</c>
/// (<c>500ms</c>, <c>1.5h</c>, <c>2h45m</c>), optionally signed; a bare <c>0</c> is zero.
/// </summary>
public static class GoDuration
{
    /// <summary>What users see in error messages.</summary>
    public const string AllowedForm = "a Go duration such as 500ms, 30s, 5m or 1h30m (0s turns it off)";

    private const decimal NanosecondsPerTick = 100;

    public static bool TryParse(string? text, out TimeSpan value)
    {
        value = TimeSpan.Zero;
        if (string.IsNullOrEmpty(text))
        {
            return false;
        }

        var s = text.AsSpan();
        var negative = false;
        if (s[0] is '-' or '+')
        {
            negative = s[0] == '-';
            s = s[1..];
        }

        if (s is "0")
        {
            return true;
        }

        if (s.IsEmpty)
        {
            return false;
        }

        // Go's Duration is an int64 of nanoseconds: about ±2562047h. Larger values are errors there, and here.
        var maxTicks = (negative ? 9223372036854775808m : long.MaxValue) / NanosecondsPerTick;
        decimal totalTicks = 0;
        while (!s.IsEmpty)
        {
            var numberLength = 0;
            var sawDigit = false;
            var sawDot = false;
            while (numberLength < s.Length && (char.IsAsciiDigit(s[numberLength]) || (s[numberLength] == '.' && !sawDot)))
            {
                sawDot |= s[numberLength] == '.';
                sawDigit |= char.IsAsciiDigit(s[numberLength]);
                numberLength++;
            }

            if (!sawDigit)
            {
                return false;
            }

            if (!decimal.TryParse(s[..numberLength], NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                return false;
            }

            s = s[numberLength..];
            var unitLength = 0;
            while (unitLength < s.Length && !char.IsAsciiDigit(s[unitLength]) && s[unitLength] != '.')
            {
                unitLength++;
            }

            var ticksPerUnit = s[..unitLength] switch
            {
                "ns" => 1 / NanosecondsPerTick,
                "us" or "µs" or "μs" => (decimal)TimeSpan.TicksPerMicrosecond,
                "ms" => TimeSpan.TicksPerMillisecond,
                "s" => TimeSpan.TicksPerSecond,
                "m" => TimeSpan.TicksPerMinute,
                "h" => TimeSpan.TicksPerHour,
                _ => -1m,
            };
            if (ticksPerUnit < 0)
            {
                return false;
            }

            s = s[unitLength..];
            if (number > maxTicks / ticksPerUnit)
            {
                return false;
            }

            totalTicks += number * ticksPerUnit;
            if (totalTicks > maxTicks)
            {
                return false;
            }
        }

        var ticks = (long)decimal.Round(totalTicks, MidpointRounding.AwayFromZero);
        value = TimeSpan.FromTicks(negative ? -ticks : ticks);
        return true;
    }

    /// <summary>Formats like Go's <c>Duration.String()</c> for whole units (<c>1h30m0s</c>, <c>500ms</c>).</summary>
    /// <remarks>Integer arithmetic: a double wrote <c>1E-07s</c> for a tick past a whole second, which does not parse.</remarks>
    public static string Format(TimeSpan value)
    {
        if (value == TimeSpan.Zero)
        {
            return "0s";
        }

        var builder = new StringBuilder();
        var ticks = value.Ticks;
        if (ticks < 0)
        {
            builder.Append('-');
        }

        // The magnitude as unsigned: TimeSpan.MinValue has no positive counterpart.
        var magnitude = ticks < 0 ? (ulong)(-(ticks + 1)) + 1 : (ulong)ticks;
        if (magnitude < TimeSpan.TicksPerSecond)
        {
            return AppendDecimal(builder, magnitude, TimeSpan.TicksPerMillisecond).Append("ms").ToString();
        }

        if (magnitude >= TimeSpan.TicksPerHour)
        {
            builder.Append(magnitude / TimeSpan.TicksPerHour).Append('h');
        }

        if (magnitude >= TimeSpan.TicksPerMinute)
        {
            builder.Append(magnitude / TimeSpan.TicksPerMinute % 60).Append('m');
        }

        return AppendDecimal(builder, magnitude % TimeSpan.TicksPerMinute, TimeSpan.TicksPerSecond).Append('s').ToString();
    }

    /// <summary><paramref name="ticks"/> in units of <paramref name="unit"/> (a power of ten) as a decimal number without trailing zeros.</summary>
    private static StringBuilder AppendDecimal(StringBuilder builder, ulong ticks, long unit)
    {
        builder.Append(ticks / (ulong)unit);
        var fraction = ticks % (ulong)unit;
        if (fraction != 0)
        {
            var digits = unit.ToString(CultureInfo.InvariantCulture).Length - 1;
            builder.Append('.').Append(fraction.ToString(CultureInfo.InvariantCulture).PadLeft(digits, '0').TrimEnd('0'));
        }

        return builder;
    }
}
