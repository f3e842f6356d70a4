using System.Globalization;
using System.Numerics;
using System.Text;
using CsCheck;
using Updraft.Shared.Durations;
using Updraft.Tests.Common.Fuzzing;

namespace Updraft.Shared.Tests.Fuzzing;

/// <summary>
/// Go durations (<see cref="GoDuration"/>): any text is parsed or refused without an exception; a duration written
/// from a model parses to the model's value, computed here exactly (nanoseconds as big integers) with Go's rules; a
/// formatted duration parses back to itself.
/// </summary>
public sealed class GoDurationFuzzTests
{
    private const string Parser = "go-duration";

    /// <summary>Go's Duration is an int64 of nanoseconds; .NET keeps 100 ns ticks.</summary>
    private static readonly BigInteger MaxNanoseconds = long.MaxValue;

    private static readonly (string Unit, long Nanoseconds)[] Units =
    [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("μs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000), ("m", 60_000_000_000), ("h", 3_600_000_000_000),
    ];

    [Fact]
    public void TryParse_AnyText_ParsesOrRefusesWithoutThrowing()
    {
        Corpus.Run(Parser, file => ParsesOrRefuses(file.Text));
        Fuzz.Check(Gen.Frequency((1, Hostile.Text), (2, Hostile.Mutated(Corpus.Texts(Parser)))), ParsesOrRefuses, iterations: 3_000);
    }

    [Fact]
    public void TryParse_DurationFromModel_IsTheModelsValue()
    {
        var digits = Gen.String[Gen.Char['0', '9'], 0, 12];
        var component = Gen.Select(digits, Gen.Bool, Gen.String[Gen.Char['0', '9'], 0, 9], Gen.Int[0, Units.Length - 1], (whole, dot, fraction, unit) => new Component(whole, dot, fraction, unit))
            .Where(c => c.Whole.Length > 0 || (c.Dot && c.Fraction.Length > 0));
        var model = Gen.Select(Gen.OneOf("", "-", "+"), component.Array[1, 4], (sign, parts) => new Model(sign, parts));
        Fuzz.Check(model, m =>
        {
            var text = m.ToString();
            var parsed = GoDuration.TryParse(text, out var value);
            var expected = m.Ticks();
            if (expected is null)
            {
                Check(!parsed, $"{Fuzz.Show(text)} is out of Go's range but parsed as {value.Ticks} ticks");
            }
            else
            {
                Check(parsed, $"{Fuzz.Show(text)} was refused; expected {expected} ticks");
                Check(value.Ticks == expected, $"{Fuzz.Show(text)} parsed as {value.Ticks} ticks; expected {expected}");
            }
        }, iterations: 3_000, print: m => Fuzz.Show(m.ToString()));
    }

    [Fact]
    public void Format_AnyDurationInGoRange_ParsesBackToItself()
    {
        var maxTicks = long.MaxValue / 100;
        var ticks = Gen.Frequency(
            (3, Gen.Long[-maxTicks, maxTicks]),
            (3, Gen.Long[-100_000_000_000, 100_000_000_000]),
            (2, Gen.Long[-10_000, 10_000]),
            (1, Gen.Select(Gen.Long[0, 2_562_047], Gen.Long[-1, 1], (hours, delta) => Math.Clamp((hours * TimeSpan.TicksPerHour) + delta, -maxTicks, maxTicks))));
        Corpus.Run(Parser, file =>
        {
            if (GoDuration.TryParse(file.Text.Trim(), out var value))
            {
                RoundTrips(value.Ticks);
            }
        });
        Fuzz.Check(ticks, RoundTrips, iterations: 3_000);
    }

    private static void RoundTrips(long ticks)
    {
        var text = GoDuration.Format(TimeSpan.FromTicks(ticks));
        Check(GoDuration.TryParse(text, out var again), $"Format({ticks} ticks) wrote {Fuzz.Show(text)}, which does not parse");
        Check(again.Ticks == ticks, $"Format({ticks} ticks) wrote {Fuzz.Show(text)}, which parses as {again.Ticks} ticks");
    }

    private static void ParsesOrRefuses(string text)
    {
        var parsed = Fuzz.Bounded(() => GoDuration.TryParse(text, out var value) ? value : (TimeSpan?)null, maxBytes: 1_000_000 + (16L * text.Length), "TryParse");
        if (parsed is null)
        {
            return;
        }

        // Whatever parses is inside Go's range and says so again when formatted.
        Check(Math.Abs((decimal)parsed.Value.Ticks) <= (decimal)long.MaxValue / 100 + 1, $"{Fuzz.Show(text)} parsed to {parsed.Value.Ticks} ticks, beyond Go's range");
        RoundTrips(parsed.Value.Ticks);
    }

    private static void Check(bool condition, string message)
    {
        if (!condition)
        {
            throw new FuzzFailure(message);
        }
    }

    private sealed record Component(string Whole, bool Dot, string Fraction, int Unit)
    {
        public override string ToString() => Whole + (Dot ? "." + Fraction : "") + Units[Unit].Unit;

        /// <summary>The value in nanoseconds times 10^9 (fractions have at most 9 digits, so this is exact).</summary>
        public BigInteger ScaledNanoseconds()
        {
            var whole = Whole.Length == 0 ? BigInteger.Zero : BigInteger.Parse(Whole, CultureInfo.InvariantCulture);
            var fraction = Dot && Fraction.Length > 0 ? BigInteger.Parse(Fraction.PadRight(9, '0'), CultureInfo.InvariantCulture) : BigInteger.Zero;
            return ((whole * 1_000_000_000) + fraction) * Units[Unit].Nanoseconds;
        }
    }

    private sealed record Model(string Sign, Component[] Components)
    {
        public override string ToString()
        {
            var text = new StringBuilder(Sign);
            foreach (var component in Components)
            {
                text.Append(component);
            }

            return text.ToString();
        }

        /// <summary>Go's value in .NET ticks (rounded half away from zero), or null when Go refuses it as out of range.</summary>
        public long? Ticks()
        {
            var scaled = BigInteger.Zero;
            foreach (var component in Components)
            {
                scaled += component.ScaledNanoseconds();
            }

            var limit = (Sign == "-" ? MaxNanoseconds + 1 : MaxNanoseconds) * 1_000_000_000;
            if (scaled > limit)
            {
                return null;
            }

            var unit = new BigInteger(100) * 1_000_000_000;
            var ticks = BigInteger.DivRem(scaled, unit, out var remainder);
            if (remainder * 2 >= unit)
            {
                ticks++;
            }

            return (long)(Sign == "-" ? -ticks : ticks);
        }
    }
}
