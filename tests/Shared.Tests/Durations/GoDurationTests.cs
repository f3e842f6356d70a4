using Updraft.Shared.Durations;

namespace Updraft.Shared.Tests.Durations;

public sealed class GoDurationTests
{
    // Expected values are Go's time.ParseDuration results, converted to .NET ticks (100 ns).
    [Theory]
    [InlineData("500ms", 500 * TimeSpan.TicksPerMillisecond)]
    [InlineData("30s", 30 * TimeSpan.TicksPerSecond)]
    [InlineData("5m", 5 * TimeSpan.TicksPerMinute)]
    [InlineData("1h30m", 90 * TimeSpan.TicksPerMinute)]
    [InlineData("2h45m10s", (2 * TimeSpan.TicksPerHour) + (45 * TimeSpan.TicksPerMinute) + (10 * TimeSpan.TicksPerSecond))]
    [InlineData("1h1h", 2 * TimeSpan.TicksPerHour)]
    [InlineData("1.5s", 15 * TimeSpan.TicksPerSecond / 10)]
    [InlineData("1.5h", 90 * TimeSpan.TicksPerMinute)]
    [InlineData(".5s", TimeSpan.TicksPerSecond / 2)]
    [InlineData("5.s", 5 * TimeSpan.TicksPerSecond)]
    [InlineData("0s", 0)]
    [InlineData("0", 0)]
    [InlineData("-0", 0)]
    [InlineData("+0", 0)]
    [InlineData("0ms", 0)]
    [InlineData("2us", 2 * TimeSpan.TicksPerMicrosecond)]
    [InlineData("2µs", 2 * TimeSpan.TicksPerMicrosecond)] // U+00B5 MICRO SIGN
    [InlineData("2μs", 2 * TimeSpan.TicksPerMicrosecond)] // U+03BC GREEK SMALL LETTER MU
    [InlineData("300ns", 3)] // a tick is 100 ns
    [InlineData("-1s", -TimeSpan.TicksPerSecond)]
    [InlineData("+1s", TimeSpan.TicksPerSecond)]
    [InlineData("-1m30s", -90 * TimeSpan.TicksPerSecond)]
    [InlineData("2562047h", 2562047 * TimeSpan.TicksPerHour)]
    [InlineData("9223372036854775807ns", 92233720368547758)] // Go's largest Duration
    [InlineData("-9223372036854775808ns", -92233720368547758)] // Go's smallest Duration
    public void TryParse_GoDuration_ReturnsItsValue(string text, long expectedTicks)
    {
        Assert.True(GoDuration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.FromTicks(expectedTicks), value);
    }

    // Each of these is an error in Go's time.ParseDuration too.
    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("5")] // a number without a unit (only a bare 0 is allowed)
    [InlineData("1.")]
    [InlineData("1x")]
    [InlineData("1S")] // units are case-sensitive
    [InlineData("1sec")]
    [InlineData("1e3s")]
    [InlineData("-")]
    [InlineData("+")]
    [InlineData("--1s")]
    [InlineData(".s")]
    [InlineData("1s.")]
    [InlineData("1.2.3s")]
    [InlineData(" 1s")]
    [InlineData("1s ")]
    [InlineData("1 s")]
    [InlineData("s")]
    [InlineData("2562048h")] // beyond Go's int64 nanoseconds
    [InlineData("9223372036854775808ns")]
    [InlineData("1000000000h")]
    [InlineData("79228162514264337593543950335h")] // the largest decimal: the multiplication must not throw
    [InlineData("99999999999999999999999999999999999s")]
    public void TryParse_NotAGoDuration_ReturnsFalse(string? text)
    {
        Assert.False(GoDuration.TryParse(text, out var value));
        Assert.Equal(TimeSpan.Zero, value);
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(500 * TimeSpan.TicksPerMillisecond, "500ms")]
    [InlineData(30 * TimeSpan.TicksPerSecond, "30s")]
    [InlineData(15 * TimeSpan.TicksPerSecond / 10, "1.5s")]
    [InlineData(5 * TimeSpan.TicksPerMinute, "5m0s")]
    [InlineData(90 * TimeSpan.TicksPerMinute, "1h30m0s")]
    [InlineData(-TimeSpan.TicksPerSecond, "-1s")]
    public void Format_WholeUnits_LikeGoString(long ticks, string expected) =>
        Assert.Equal(expected, GoDuration.Format(TimeSpan.FromTicks(ticks)));

    [Theory]
    [InlineData("500ms")]
    [InlineData("1h30m")]
    [InlineData("2562047h")]
    [InlineData("-45m")]
    public void Format_ThenTryParse_RoundTrips(string text)
    {
        Assert.True(GoDuration.TryParse(text, out var value));

        Assert.True(GoDuration.TryParse(GoDuration.Format(value), out var again));
        Assert.Equal(value, again);
    }
}
