using Updraft.ExternalScaler.Http;

namespace Updraft.ExternalScaler.Tests.Http;

/// <summary>
/// The request-rate window (reference §5.2) with time passed in explicitly. Expected values come from the traffic
/// fed in (requests per granularity), not from the implementation.
/// </summary>
public sealed class RequestRateWindowTests
{
    /// <summary>Midnight: a whole number of every granularity used here (500ms, 1s, 1.5s, 2s, 1m, 1h).</summary>
    private static readonly DateTimeOffset Start = new(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>The scaler's collection tick (KEDA_HTTP_QUEUE_TICK_DURATION).</summary>
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(500);

    [Theory]
    // window, granularity (ms), requests per second, expected requests per granularity
    [InlineData(60_000, 1_000, 10, 10.0)]
    [InlineData(60_000, 2_000, 10, 20.0)]
    [InlineData(10_000, 500, 10, 5.0)]
    [InlineData(3_000, 1_500, 10, 15.0)]
    [InlineData(60_000, 1_000, 1_000, 1_000.0)]
    public void Average_SteadyRateOverSeveralWindows_IsRequestsPerGranularity(int windowMs, int granularityMs, int perSecond, double expected)
    {
        var window = TimeSpan.FromMilliseconds(windowMs);
        var granularity = TimeSpan.FromMilliseconds(granularityMs);
        var rate = new RequestRateWindow(window, granularity);
        var perTick = perSecond * Tick.Ticks / TimeSpan.TicksPerSecond;
        var bucketCount = windowMs / granularityMs;
        var ticks = (int)(3 * window / Tick);
        var checkedBucketEnds = 0;

        for (var i = 0; i < ticks; i++)
        {
            var now = Start + (i * Tick);
            rate.Record(now, perTick);
            var average = rate.Average(now);

            // The newest bucket fills during its granularity, so once the window is full, mid-bucket readings sit up
            // to one bucket low (before that, the partial window can read lower still).
            var lowest = now - Start >= window ? expected * (bucketCount - 1) / bucketCount : 0;
            Assert.InRange(average, lowest - 1e-9, expected + 1e-9);
            var endOfBucket = (now + Tick - Start).Ticks % granularity.Ticks == 0;
            if (endOfBucket && now + Tick - Start > window)
            {
                Assert.Equal(expected, average, 9);
                checkedBucketEnds++;
            }
        }

        Assert.True(checkedBucketEnds >= bucketCount, $"only {checkedBucketEnds} full-window bucket ends checked");
    }

    [Fact]
    public void Average_NothingRecorded_IsZero()
    {
        var rate = new RequestRateWindow(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));

        Assert.Equal(0, rate.Average(Start));
    }

    [Fact]
    public void Average_PartialWindowAfterFirstWrite_DividesByBucketsObservedSoFar()
    {
        var rate = new RequestRateWindow(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));

        rate.Record(Start, 7);
        Assert.Equal(7, rate.Average(Start));
        Assert.Equal(7, rate.Average(Start + TimeSpan.FromMilliseconds(999)));

        for (var second = 1; second < 5; second++)
        {
            rate.Record(Start + TimeSpan.FromSeconds(second), 7);
        }

        // Five seconds of 7 per second is 7 per second, not 35/60.
        Assert.Equal(7, rate.Average(Start + TimeSpan.FromSeconds(4)));
        // Two idle seconds later the same 35 requests are spread over the 7 seconds observed.
        Assert.Equal(5, rate.Average(Start + TimeSpan.FromSeconds(6)));
    }

    [Theory]
    // seconds after the lone request: the request is averaged over the buckets seen since (issue #1692: the add-on
    // rounds 1/3600 to 0 and never wakes the route)
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(59)]
    [InlineData(1_799)]
    [InlineData(3_599)]
    public void Average_LoneRequestInHourWindowOfSeconds_IsOneOverBucketsSeen(int secondsLater)
    {
        var rate = new RequestRateWindow(TimeSpan.FromHours(1), TimeSpan.FromSeconds(1));
        rate.Record(Start, 1);

        // The scaler records a (zero) delta every tick whether or not traffic came.
        var now = Start;
        for (var i = 0; i < secondsLater * 2; i++)
        {
            now += Tick;
            rate.Record(now, 0);
        }

        var average = rate.Average(Start + TimeSpan.FromSeconds(secondsLater));

        Assert.True(average > 0);
        Assert.Equal(1.0 / (secondsLater + 1), average, 15);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Average_LoneRequestAWindowLater_IsZero(bool keepRecordingZeros)
    {
        var rate = new RequestRateWindow(TimeSpan.FromHours(1), TimeSpan.FromSeconds(1));
        rate.Record(Start, 1);
        if (keepRecordingZeros)
        {
            for (var now = Start; now <= Start + TimeSpan.FromHours(1); now += Tick)
            {
                rate.Record(now, 0);
            }
        }

        Assert.Equal(0, rate.Average(Start + TimeSpan.FromHours(1)));
    }

    [Fact]
    public void Average_IdleLessThanAWindow_ExcludesAgedOutBuckets()
    {
        var rate = new RequestRateWindow(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));
        var last = RecordEverySecond(rate, seconds: 120, perSecond: 10);

        // 30 idle seconds: the window holds the last 30 busy seconds (300 requests) over 60 buckets.
        Assert.Equal(5, rate.Average(last + TimeSpan.FromSeconds(30)));
        Assert.Equal(10.0 / 60, rate.Average(last + TimeSpan.FromSeconds(59)), 12);
    }

    [Fact]
    public void Record_GapLongerThanAWindow_StartsOver()
    {
        var rate = new RequestRateWindow(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));
        var last = RecordEverySecond(rate, seconds: 120, perSecond: 10);

        Assert.Equal(0, rate.Average(last + TimeSpan.FromSeconds(60)));
        Assert.Equal(0, rate.Average(last + TimeSpan.FromMinutes(10)));

        // Nothing from before the gap survives, and the window is partial again (3 requests over 1 bucket).
        rate.Record(last + TimeSpan.FromSeconds(90), 3);
        Assert.Equal(3, rate.Average(last + TimeSpan.FromSeconds(90)));
        rate.Record(last + TimeSpan.FromSeconds(91), 1);
        Assert.Equal(2, rate.Average(last + TimeSpan.FromSeconds(91)));
    }

    [Fact]
    public void Record_SkippedBuckets_AreZeroFilled()
    {
        var rate = new RequestRateWindow(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1));
        RecordEverySecond(rate, seconds: 10, perSecond: 10);
        Assert.Equal(10, rate.Average(Start + TimeSpan.FromSeconds(9)));

        // Jump to second 14: seconds 10..13 had no traffic, and their ring slots (which held seconds 0..3) must not
        // count. The window is seconds 5..14: 5 busy seconds of 10 plus 5 empty ones.
        rate.Record(Start + TimeSpan.FromSeconds(14), 0);
        Assert.Equal(5, rate.Average(Start + TimeSpan.FromSeconds(14)));

        // A late write for skipped second 12 is still inside the window and counts.
        rate.Record(Start + TimeSpan.FromSeconds(12), 4);
        Assert.Equal(5.4, rate.Average(Start + TimeSpan.FromSeconds(14)), 12);

        // Ten more seconds later only second 14 onwards is in the window: the zero-filled seconds stay zero.
        rate.Record(Start + TimeSpan.FromSeconds(23), 0);
        Assert.Equal(0, rate.Average(Start + TimeSpan.FromSeconds(23)));
    }

    [Fact]
    public void Record_OlderThanAWindow_IsIgnored()
    {
        var rate = new RequestRateWindow(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1));
        rate.Record(Start + TimeSpan.FromSeconds(20), 1);

        rate.Record(Start + TimeSpan.FromSeconds(10), 100);
        rate.Record(Start, 100);
        Assert.Equal(1, rate.Average(Start + TimeSpan.FromSeconds(20)));

        // Second 11 is the oldest second of the window ending at second 20: it counts, and the window now spans
        // all 10 buckets from it.
        rate.Record(Start + TimeSpan.FromSeconds(11), 100);
        Assert.Equal(10.1, rate.Average(Start + TimeSpan.FromSeconds(20)), 12);
    }

    [Fact]
    public void Record_NegativeDelta_Throws()
    {
        var rate = new RequestRateWindow(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));

        Assert.Throws<ArgumentOutOfRangeException>(() => rate.Record(Start, -1));
    }

    [Theory]
    // granularity, offset (ms) of the second write from a bucket start, whether it shares the first write's bucket
    [InlineData(1_500, 1_499, true)]
    [InlineData(1_500, 1_500, false)]
    [InlineData(1_500, 2_999, false)]
    [InlineData(500, 499, true)]
    [InlineData(500, 500, false)]
    [InlineData(2_000, 1_999, true)]
    [InlineData(2_000, 2_000, false)]
    public void Record_FractionalGranularity_AlignsBucketsOnMultiplesOfTheGranularity(int granularityMs, int offsetMs, bool sameBucket)
    {
        var granularity = TimeSpan.FromMilliseconds(granularityMs);
        var rate = new RequestRateWindow(granularity * 4, granularity);
        // A bucket starts at any multiple of the granularity since 0001-01-01, e.g. 10 granularities after midnight.
        var bucketStart = Start + (10 * granularity);

        rate.Record(bucketStart, 3);
        rate.Record(bucketStart + TimeSpan.FromMilliseconds(offsetMs), 3);

        // Same bucket: 6 requests in 1 bucket; next bucket: 6 requests over the 2 buckets seen.
        Assert.Equal(sameBucket ? 6 : 3, rate.Average(bucketStart + TimeSpan.FromMilliseconds(offsetMs)));
    }

    [Fact]
    public void Average_FractionalGranularity_AgesOutOnBucketBoundaries()
    {
        var rate = new RequestRateWindow(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(1500));
        rate.Record(Start, 5);

        // Buckets are [0, 1.5s) and [1.5s, 3s): the request stays in the window until 3s, then ages out.
        Assert.Equal(5, rate.Average(Start + TimeSpan.FromMilliseconds(1499)));
        Assert.Equal(2.5, rate.Average(Start + TimeSpan.FromMilliseconds(1500)));
        Assert.Equal(2.5, rate.Average(Start + TimeSpan.FromMilliseconds(2999)));
        Assert.Equal(0, rate.Average(Start + TimeSpan.FromMilliseconds(3000)));
    }

    [Theory]
    [InlineData(60_000, 0, "granularity", "granularity must be above 0")]
    [InlineData(60_000, -1_000, "granularity", "granularity must be above 0")]
    [InlineData(0, 0, "granularity", "granularity must be above 0")]
    [InlineData(500, 1_000, "window", "window must be at least one granularity")]
    [InlineData(0, 1_000, "window", "window must be at least one granularity")]
    [InlineData(86_401_000, 1_000, "window", "at most 86400 buckets")]
    [InlineData(3_600_000, 10, "window", "at most 86400 buckets")]
    public void Validate_InvalidSettings_ExplainsAndConstructorThrows(int windowMs, int granularityMs, string parameter, string expected)
    {
        var window = TimeSpan.FromMilliseconds(windowMs);
        var granularity = TimeSpan.FromMilliseconds(granularityMs);

        var message = RequestRateWindow.Validate(window, granularity);

        Assert.NotNull(message);
        Assert.Contains(expected, message, StringComparison.Ordinal);
        var error = Assert.Throws<ArgumentException>(() => new RequestRateWindow(window, granularity));
        Assert.Equal(parameter, error.ParamName);
        Assert.StartsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_Messages_ShowSettingsAsGoDurations()
    {
        Assert.Equal(
            "window must be at least one granularity, got window 500ms and granularity 1.5s",
            RequestRateWindow.Validate(TimeSpan.FromMilliseconds(500), TimeSpan.FromMilliseconds(1500)));
        Assert.Equal(
            "window / granularity must be at most 86400 buckets, got 86401 (window 24h0m1s, granularity 1s); use a coarser granularity or a shorter window",
            RequestRateWindow.Validate(TimeSpan.FromSeconds(86_401), TimeSpan.FromSeconds(1)));
    }

    [Theory]
    // window, granularity (ms), bucket count
    [InlineData(60_000, 1_000, 60)]
    [InlineData(3_600_000, 1_000, 3_600)]
    [InlineData(86_400_000, 1_000, 86_400)]
    [InlineData(1_000, 1_000, 1)]
    [InlineData(10_000, 500, 20)]
    [InlineData(3_000, 1_500, 2)]
    [InlineData(10_000, 3_000, 4)]
    public void Validate_ValidSettings_IsNullAndBucketsCoverTheWindow(int windowMs, int granularityMs, int buckets)
    {
        var window = TimeSpan.FromMilliseconds(windowMs);
        var granularity = TimeSpan.FromMilliseconds(granularityMs);

        Assert.Null(RequestRateWindow.Validate(window, granularity));
        var rate = new RequestRateWindow(window, granularity);
        Assert.Equal(buckets, rate.BucketCount);
        Assert.Equal(window, rate.Window);
        Assert.Equal(granularity, rate.Granularity);
    }

    [Theory]
    // after two minutes of a steady 10 requests/s on 1m/1s: new window, new granularity (ms), expected reading
    [InlineData(60_000, 2_000, 20.0)]
    [InlineData(30_000, 1_000, 10.0)]
    [InlineData(120_000, 1_000, 10.0)]
    [InlineData(60_000, 500, 5.0)]
    [InlineData(600_000, 60_000, 600.0)]
    [InlineData(60_000, 1_000, 10.0)]
    public void Resize_AfterSteadyTraffic_KeepsTheRate(int windowMs, int granularityMs, double expected)
    {
        var rate = new RequestRateWindow(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));
        var window = TimeSpan.FromMilliseconds(windowMs);
        var granularity = TimeSpan.FromMilliseconds(granularityMs);
        var last = RecordEverySecond(rate, seconds: 120, perSecond: 10);
        var endOfLastSecond = last + TimeSpan.FromMilliseconds(999);

        rate.Resize(window, granularity);

        Assert.Equal(window, rate.Window);
        Assert.Equal(granularity, rate.Granularity);
        // Read both at the moment of the last write (when the scaler resizes) and at the end of that second.
        Assert.Equal(expected, rate.Average(last), 9);
        Assert.Equal(expected, rate.Average(endOfLastSecond), 9);

        // Keep the traffic going for more than a new window, up to the end of a new bucket: the reading is the same
        // rate, with nothing left over from the move.
        var now = last;
        do
        {
            now += TimeSpan.FromSeconds(1);
            rate.Record(now, 10);
        }
        while (now <= last + window || (now + TimeSpan.FromSeconds(1) - Start).Ticks % granularity.Ticks != 0);

        Assert.Equal(expected, rate.Average(now + TimeSpan.FromMilliseconds(999)), 9);
    }

    [Fact]
    public void Resize_ShorterWindow_DropsHistoryOutsideIt()
    {
        var rate = new RequestRateWindow(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));
        RecordEverySecond(rate, seconds: 30, perSecond: 10);
        for (var second = 30; second < 60; second++)
        {
            rate.Record(Start + TimeSpan.FromSeconds(second), 0);
        }

        var now = Start + TimeSpan.FromSeconds(59);
        Assert.Equal(5, rate.Average(now));

        rate.Resize(TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(1));

        // The last 30 seconds were idle.
        Assert.Equal(0, rate.Average(now));
        rate.Record(now + TimeSpan.FromSeconds(1), 30);
        Assert.Equal(1, rate.Average(now + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Resize_LongerWindowOverPartialHistory_AveragesOverTheHistoryKept()
    {
        var rate = new RequestRateWindow(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1));
        var last = RecordEverySecond(rate, seconds: 5, perSecond: 4);

        rate.Resize(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));

        Assert.Equal(4, rate.Average(last));
        rate.Record(last + TimeSpan.FromSeconds(1), 10);
        Assert.Equal(5, rate.Average(last + TimeSpan.FromSeconds(1)));
    }

    [Fact]
    public void Resize_BeforeAnyRecord_UsesNewSettings()
    {
        var rate = new RequestRateWindow(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));

        rate.Resize(TimeSpan.FromSeconds(3), TimeSpan.FromMilliseconds(1500));
        rate.Record(Start, 3);

        Assert.Equal(2, rate.BucketCount);
        Assert.Equal(1.5, rate.Average(Start + TimeSpan.FromMilliseconds(1500)));
        Assert.Equal(0, rate.Average(Start + TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public void Resize_InvalidSettings_ThrowsAndKeepsTheWindow()
    {
        var rate = new RequestRateWindow(TimeSpan.FromMinutes(1), TimeSpan.FromSeconds(1));
        rate.Record(Start, 6);

        var error = Assert.Throws<ArgumentException>(() => rate.Resize(TimeSpan.FromMinutes(1), TimeSpan.Zero));

        Assert.Equal("granularity", error.ParamName);
        Assert.Equal(TimeSpan.FromSeconds(1), rate.Granularity);
        Assert.Equal(6, rate.Average(Start));
    }

    [Theory]
    [InlineData(60_000, 1_000)]
    [InlineData(10_000, 500)]
    [InlineData(3_600_000, 1_500)]
    public void RecordAndAverage_AfterWarmUp_AllocateNothing(int windowMs, int granularityMs)
    {
        var rate = new RequestRateWindow(TimeSpan.FromMilliseconds(windowMs), TimeSpan.FromMilliseconds(granularityMs));
        var step = TimeSpan.FromMilliseconds(100);
        var now = Start;
        var sum = 0.0;
        for (var i = 0; i < 1_000; i++)
        {
            now += step;
            rate.Record(now, i % 3);
            sum += rate.Average(now);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 10_000; i++)
        {
            now += step;
            rate.Record(now, i % 3);
            sum += rate.Average(now);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.True(sum > 0);
    }

    /// <summary>Records <paramref name="perSecond"/> at seconds 0.. of <see cref="Start"/>; returns the last time.</summary>
    private static DateTimeOffset RecordEverySecond(RequestRateWindow rate, int seconds, long perSecond)
    {
        var now = Start;
        for (var second = 0; second < seconds; second++)
        {
            now = Start + TimeSpan.FromSeconds(second);
            rate.Record(now, perSecond);
        }

        return now;
    }
}
