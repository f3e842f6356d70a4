using System.Globalization;
using Updraft.Shared.Durations;

namespace Updraft.Shared.Routes;

/// <summary>
/// What a <c>requestRate</c> window and granularity must satisfy, checked where routes are read (so a bad route is
/// reported with its field) and where the scaler builds the window. Any positive granularity works, sub-second and
/// fractional ones included (the add-on panics below 1s and misaligns on 1.5s).
/// </summary>
public static class RequestRateRules
{
    /// <summary>The largest number of buckets a window may have (a day of 1s buckets).</summary>
    public const int MaxBuckets = 86_400;

    /// <returns>The problem and the parameter it concerns (<c>window</c> or <c>granularity</c>), or the bucket count.</returns>
    public static (string? Message, string? Parameter, int Count) Check(TimeSpan window, TimeSpan granularity)
    {
        if (granularity <= TimeSpan.Zero)
        {
            return (Invariant($"granularity must be above 0, got {GoDuration.Format(granularity)}"), nameof(granularity), 0);
        }

        if (window < granularity)
        {
            return (Invariant($"window must be at least one granularity, got window {GoDuration.Format(window)} and granularity {GoDuration.Format(granularity)}"), nameof(window), 0);
        }

        var count = (window.Ticks / granularity.Ticks) + (window.Ticks % granularity.Ticks == 0 ? 0 : 1);
        if (count > MaxBuckets)
        {
            return (Invariant($"window / granularity must be at most {MaxBuckets} buckets, got {count} (window {GoDuration.Format(window)}, granularity {GoDuration.Format(granularity)}); use a coarser granularity or a shorter window"), nameof(window), 0);
        }

        return (null, null, (int)count);
    }

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
