using Microsoft.Extensions.Time.Testing;
using Updraft.Local.Replicas;

namespace Updraft.Local.Tests.Replicas;

public sealed class ReplicaEventLogTests
{
    [Fact]
    public void Record_Events_OneStableLineEachAndRecords()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 19, 40, 1, 123, TimeSpan.Zero));
        using var writer = new StringWriter { NewLine = "\n" };
        var log = new ReplicaEventLog(writer, time);
        var seen = new List<ReplicaEvent>();
        log.Recorded += seen.Add;

        log.Record(ReplicaEventKind.Started, "demo/echo", 1, 1234, 41237, null, "pid=1234 port=41237 (scale 0->1: first request)");
        time.Advance(TimeSpan.FromMilliseconds(312));
        log.Record(ReplicaEventKind.Ready, "demo/echo", 1, 1234, 41237, null, "after 312ms");
        log.Record(ReplicaEventKind.Crashed, "demo/echo", 2, 99, 41238, 137, "exit=137; restarting in 2s");
        log.Record(ReplicaEventKind.FailedToStart, "demo/echo", 3, null, null, null, "no free port in 8081-8082 (2 taken by replicas of this workload, 0 in use by other programs); restarting in 1s");
        log.Record(ReplicaEventKind.Failed, "demo/echo", 4, 5, 6, null, "not ready after 60s");

        Assert.Equal(
            "2026-12-03T19:40:01.123Z demo/echo#1 started pid=1234 port=41237 (scale 0->1: first request)\n"
            + "2026-12-03T19:40:01.435Z demo/echo#1 ready after 312ms\n"
            + "2026-12-03T19:40:01.435Z demo/echo#2 crashed exit=137; restarting in 2s\n"
            + "2026-12-03T19:40:01.435Z demo/echo#3 failed to start: no free port in 8081-8082 (2 taken by replicas of this workload, 0 in use by other programs); restarting in 1s\n"
            + "2026-12-03T19:40:01.435Z demo/echo#4 failed: not ready after 60s\n",
            writer.ToString());
        Assert.Equal(log.Recent, seen);
        var crashed = log.Recent[2];
        Assert.Equal((ReplicaEventKind.Crashed, "demo/echo", 2, 99, 41238, 137), (crashed.Kind, crashed.Key, crashed.Index, crashed.Pid, crashed.Port, crashed.ExitCode));
        Assert.Equal(1, log.Count(ReplicaEventKind.Crashed));
        Assert.Equal(0, log.Count(ReplicaEventKind.Stopped));
    }

    [Fact]
    public void Recent_ManyEvents_KeepsTheLastOnesAndCountsAll()
    {
        var log = new ReplicaEventLog(TextWriter.Null, TimeProvider.System);

        for (var i = 0; i < ReplicaEventLog.RecentCapacity + 10; i++)
        {
            log.Record(ReplicaEventKind.Started, "demo/echo", i, null, null, null, "");
        }

        Assert.Equal(ReplicaEventLog.RecentCapacity, log.Recent.Count);
        Assert.Equal(10, log.Recent[0].Index);
        Assert.Equal(ReplicaEventLog.RecentCapacity + 10, log.Count(ReplicaEventKind.Started));
    }

    [Fact]
    public void Record_HandlerThrows_EventStillRecordedAndTheFailureNoted()
    {
        using var writer = new StringWriter();
        var log = new ReplicaEventLog(writer, TimeProvider.System);
        log.Recorded += _ => throw new InvalidOperationException("boom");

        var recorded = log.Record(ReplicaEventKind.Stopped, "demo/echo", 1, 1, 2, 0, "exit=0 after 45ms");

        Assert.Equal("stopped exit=0 after 45ms", recorded.Message);
        Assert.Contains("a handler of replica events failed: InvalidOperationException: boom", writer.ToString(), StringComparison.Ordinal);
        Assert.Single(log.Recent);
    }

    [Theory]
    [InlineData(0, "0ms")]
    [InlineData(312, "312ms")]
    [InlineData(999.9, "999ms")]
    [InlineData(1000, "1s")]
    [InlineData(1500, "1.5s")]
    [InlineData(30_000, "30s")]
    [InlineData(60_000, "60s")]
    public void Format_Durations(double milliseconds, string expected) =>
        Assert.Equal(expected, ReplicaDuration.Format(TimeSpan.FromMilliseconds(milliseconds)));
}
