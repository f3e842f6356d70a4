using Microsoft.Extensions.Time.Testing;
using Updraft.Interceptor.Hosting;

namespace Updraft.Interceptor.Tests.Hosting;

/// <summary>The deadline that answers held requests before the drain ends.</summary>
public sealed class DrainDeadlineTests
{
    [Fact]
    public void Start_DeadlinePasses_FiresShortlyBeforeTheDrainEnds()
    {
        var time = new FakeTimeProvider();
        using var deadline = new DrainDeadline();

        deadline.Start(TimeSpan.FromSeconds(5), TimeSpan.FromSeconds(30), time);
        // Delay 5 s + drain 30 s, less a margin of a tenth of the drain capped at 1 s: 34 s.
        time.Advance(TimeSpan.FromSeconds(33.9));
        var beforeMargin = deadline.Token.IsCancellationRequested;
        time.Advance(TimeSpan.FromSeconds(0.2));

        Assert.False(beforeMargin);
        Assert.True(deadline.Token.IsCancellationRequested);
    }

    [Fact]
    public void Start_UnboundedDrain_NeverFires()
    {
        var time = new FakeTimeProvider();
        using var deadline = new DrainDeadline();

        deadline.Start(TimeSpan.FromSeconds(5), TimeSpan.Zero, time);
        time.Advance(TimeSpan.FromDays(1));

        Assert.False(deadline.Token.IsCancellationRequested);
    }

    [Fact]
    public void Dispose_BeforeTheDeadline_TimerNeverFiresIntoTheDisposedSource()
    {
        // A host disposed before its drain deadline (the drain finished early) used to crash the process from the timer.
        var time = new FakeTimeProvider();
        var deadline = new DrainDeadline();
        deadline.Start(TimeSpan.Zero, TimeSpan.FromSeconds(30), time);

        deadline.Dispose();
        var advance = Record.Exception(() => time.Advance(TimeSpan.FromMinutes(1)));

        Assert.Null(advance);
    }
}
