using Updraft.Local.Scaling;

namespace Updraft.Local.Tests.Scaling;

public sealed class ScaleRulesTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    private static readonly TimeSpan Cooldown = TimeSpan.FromSeconds(30);

    private static TriggerReading Active(double value, double target = 10) => new(value, target, Active: true);

    private static TriggerReading Idle(double target = 10) => new(0, target, Active: false);

    [Fact]
    public void Pushed_AtZero_ScalesToOneAtOnce()
    {
        var rules = new ScaleRules(min: 0, max: 5, Cooldown);

        var change = rules.Pushed(Start);

        Assert.Equal((1, "a trigger became active"), change);
        Assert.Equal(1, rules.Replicas);
        Assert.Null(rules.Pushed(Start.AddSeconds(1)));
    }

    [Fact]
    public void Pushed_AtZeroWithMinimumTwo_ScalesToTheMinimum()
    {
        var rules = new ScaleRules(min: 2, max: 5, Cooldown);
        Assert.Equal(2, rules.Replicas);

        Assert.Null(rules.Pushed(Start));
    }

    [Fact]
    public void Polled_ActiveAtZero_ScalesToOne()
    {
        var rules = new ScaleRules(min: 0, max: 5, Cooldown);

        Assert.Equal(1, rules.Polled(Start, [Active(1)])?.Replicas);
    }

    [Theory]
    [InlineData(55, 10, 6)] // the reference's example: ceil(55 / 10)
    [InlineData(20, 10, 2)]
    [InlineData(1000, 10, 8)] // clamped to max
    public void Polled_MetricAboveTarget_ScalesToCeilOfMetricOverTarget(double value, double target, int expected)
    {
        var rules = new ScaleRules(min: 0, max: 8, Cooldown);
        rules.Pushed(Start);

        var change = rules.Polled(Start.AddSeconds(1), [Active(value, target)]);

        Assert.Equal(expected, change?.Replicas);
        Assert.Contains($"metric {value} for a target of {target} per replica", change?.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Polled_UsageWithinTolerance_KeepsTheCount()
    {
        var rules = new ScaleRules(min: 0, max: 10, Cooldown);
        rules.Pushed(Start);
        rules.Polled(Start, [Active(40)]);
        Assert.Equal(4, rules.Replicas);

        // 43 / (10 × 4) = 1.075: within ±10 %, so the HPA keeps 4 where ceil(4.3) would say 5.
        Assert.Null(rules.Polled(Start.AddSeconds(1), [Active(43)]));
        Assert.Equal(5, rules.Polled(Start.AddSeconds(2), [Active(45)])?.Replicas);
    }

    [Fact]
    public void Polled_SeveralTriggers_TheHighestWins()
    {
        var rules = new ScaleRules(min: 0, max: 10, Cooldown);
        rules.Pushed(Start);

        Assert.Equal(3, rules.Polled(Start, [Active(15), Active(25), Idle()])?.Replicas);
    }

    [Fact]
    public void Polled_LowerMetric_WaitsForTheStabilizationWindowBeforeScalingDown()
    {
        var rules = new ScaleRules(min: 0, max: 10, Cooldown);
        rules.Pushed(Start);
        rules.Polled(Start, [Active(40)]);

        Assert.Null(rules.Polled(Start.AddSeconds(10), [Active(10)]));
        Assert.Null(rules.Polled(Start.AddSeconds(29), [Active(10)]));
        Assert.Equal((1, "metric 10 for a target of 10 per replica"), rules.Polled(Start.AddSeconds(31), [Active(10)]));
    }

    [Fact]
    public void Polled_InactiveForTheCooldown_ScalesToZero()
    {
        var rules = new ScaleRules(min: 0, max: 10, Cooldown);
        rules.Pushed(Start);

        Assert.Null(rules.Polled(Start.AddSeconds(29), [Idle()]));
        var change = rules.Polled(Start.AddSeconds(30), [Idle()]);

        Assert.Equal((0, "no trigger active for the cooldown period (30s)"), change);
    }

    [Fact]
    public void Polled_ActiveAgainDuringTheCooldown_RestartsIt()
    {
        var rules = new ScaleRules(min: 0, max: 10, Cooldown);
        rules.Pushed(Start);
        rules.Pushed(Start.AddSeconds(20));

        Assert.Null(rules.Polled(Start.AddSeconds(40), [Idle()]));
        Assert.Equal(0, rules.Polled(Start.AddSeconds(50), [Idle()])?.Replicas);
    }

    [Fact]
    public void Polled_WithMinimumOne_NeverScalesToZero()
    {
        var rules = new ScaleRules(min: 1, max: 10, Cooldown);

        Assert.Null(rules.Polled(Start.AddHours(1), [Idle()]));
        Assert.Equal(1, rules.Replicas);
    }

    [Fact]
    public void Polled_AnErrorAmongTheTriggers_ChangesNothing()
    {
        var rules = new ScaleRules(min: 0, max: 10, Cooldown);
        rules.Pushed(Start);
        rules.Polled(Start, [Active(30)]);

        var failed = new TriggerReading(0, 0, false, "Unavailable");
        Assert.Null(rules.Polled(Start.AddMinutes(10), [Idle(), failed]));
        Assert.Equal(3, rules.Replicas);
    }

    [Theory]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(-5)]
    public void Polled_MetricThatIsNotANumber_KeepsTheCount(double value)
    {
        var rules = new ScaleRules(min: 0, max: 10, Cooldown);
        rules.Pushed(Start);

        Assert.Null(rules.Polled(Start, [Active(value)]));
        Assert.Equal(1, rules.Replicas);
    }

    [Fact]
    public void Polled_TargetOfZero_KeepsTheCount()
    {
        var rules = new ScaleRules(min: 0, max: 10, Cooldown);
        rules.Pushed(Start);

        Assert.Null(rules.Polled(Start, [Active(50, target: 0)]));
    }
}
