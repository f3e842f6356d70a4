using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.RegularExpressions;
using CsCheck;

namespace Updraft.Tests.Common.Fuzzing;

/// <summary>
/// Runs a property over generated inputs with the budget of this run: a small fixed number of iterations by default
/// (the fuzz tests together stay within about 30 s of a normal test run), more through
/// <c>UPDRAFT_FUZZ_ITERATIONS</c> (a multiplier of each test's default) or <c>UPDRAFT_FUZZ_SECONDS</c> (seconds per
/// property), as <c>./updraft.sh fuzz</c> sets. <c>UPDRAFT_FUZZ_SEED</c> replays the seed a failure printed.
/// </summary>
internal static partial class Fuzz
{
    public const string IterationsVariable = "UPDRAFT_FUZZ_ITERATIONS";
    public const string SecondsVariable = "UPDRAFT_FUZZ_SECONDS";
    public const string SeedVariable = "UPDRAFT_FUZZ_SEED";

    /// <summary>How long one input may take before the property counts as unbounded (generous: CI machines are loaded).</summary>
    public static readonly TimeSpan MaxTimePerInput = TimeSpan.FromSeconds(5);

    private static int Multiplier => int.TryParse(Environment.GetEnvironmentVariable(IterationsVariable), out var value) && value > 0 ? value : 1;

    private static int Seconds => int.TryParse(Environment.GetEnvironmentVariable(SecondsVariable), out var value) && value > 0 ? value : -1;

    private static string? Seed => Environment.GetEnvironmentVariable(SeedVariable) is { Length: > 0 } seed ? seed : null;

    /// <summary>
    /// Checks <paramref name="property"/> on <paramref name="iterations"/> inputs from <paramref name="gen"/> (times
    /// the multiplier, or for the time budget). A failure names the shrunk input and how to replay it.
    /// </summary>
    public static void Check<T>(
        Gen<T> gen,
        Action<T> property,
        int iterations,
        Func<T, string>? print = null,
        [CallerMemberName] string test = "",
        [CallerFilePath] string file = "")
    {
        var seconds = Seconds;
        try
        {
            gen.Sample(
                property,
                seed: Seed,
                iter: seconds > 0 ? -1 : (long)iterations * Multiplier,
                time: seconds,
                print: print ?? (value => Show(value)));
        }
        catch (CsCheckException e)
        {
            var seed = SeedPattern().Match(e.Message) is { Success: true } match ? match.Groups[1].Value : "<the seed above>";
            throw new FuzzFailure(
                $"{test} found a failing input (shrunk below). Replay it with {SeedVariable}={seed} dotnet test tests/{Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(file)))} -c Release --filter \"FullyQualifiedName~{test}\"; "
                + "once fixed, save the input under tests/corpus/ as a regression case.\n" + e.Message,
                e);
        }
    }

    /// <summary>Runs <paramref name="action"/> and fails when it takes longer than <see cref="MaxTimePerInput"/> or allocates more than <paramref name="maxBytes"/>.</summary>
    public static TResult Bounded<TResult>(Func<TResult> action, long maxBytes, string what)
    {
        var allocated = GC.GetAllocatedBytesForCurrentThread();
        var clock = Stopwatch.StartNew();
        var result = action();
        clock.Stop();
        allocated = GC.GetAllocatedBytesForCurrentThread() - allocated;
        if (clock.Elapsed > MaxTimePerInput)
        {
            throw new FuzzFailure($"{what} took {clock.Elapsed.TotalMilliseconds:N0} ms (limit {MaxTimePerInput.TotalMilliseconds:N0} ms)");
        }

        if (allocated > maxBytes)
        {
            throw new FuzzFailure($"{what} allocated {allocated:N0} bytes (limit {maxBytes:N0})");
        }

        return result;
    }

    /// <summary>A problem users see: non-empty, one line, no control characters (a log line or a gRPC status stays one record).</summary>
    public static void AssertOneLine(string? message, string what)
    {
        if (string.IsNullOrWhiteSpace(message))
        {
            throw new FuzzFailure($"{what}: the message is empty");
        }

        foreach (var c in message)
        {
            if (char.IsControl(c) || c is '\u2028' or '\u2029' or '\u0085')
            {
                throw new FuzzFailure($"{what}: the message is not one line (U+{(int)c:X4}): {Show(message)}");
            }
        }
    }

    /// <summary>Text with control and other invisible characters escaped, long text cut, for failure messages.</summary>
    public static string Show(object? value)
    {
        var text = value switch
        {
            null => "null",
            string s => s,
            byte[] bytes => Convert.ToHexString(bytes.AsSpan(0, Math.Min(bytes.Length, 2048))),
            _ => value.ToString() ?? "",
        };
        var builder = new System.Text.StringBuilder("\"");
        foreach (var c in text.Length > 4096 ? text[..4096] : text)
        {
            if (c is '"' or '\\')
            {
                builder.Append('\\').Append(c);
            }
            else if (c < ' ' || c > '~')
            {
                builder.Append($"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        builder.Append('"');
        return text.Length > 4096 ? builder.Append($" (cut; {text.Length:N0} chars)").ToString() : builder.ToString();
    }

    [GeneratedRegex("seed: \"([^\"]+)\"")]
    private static partial Regex SeedPattern();
}

/// <summary>A property did not hold.</summary>
internal sealed class FuzzFailure : Exception
{
    public FuzzFailure(string message)
        : base(message)
    {
    }

    public FuzzFailure(string message, Exception inner)
        : base(message, inner)
    {
    }
}
