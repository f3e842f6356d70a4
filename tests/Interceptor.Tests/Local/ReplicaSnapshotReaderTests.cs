using Updraft.Interceptor.Local;
using Updraft.Protos.V1;

namespace Updraft.Interceptor.Tests.Local;

/// <summary>A snapshot from the feed is checked before use: bounds refuse it whole, malformed entries are skipped.</summary>
public sealed class ReplicaSnapshotReaderTests
{
    [Fact]
    public void Check_MoreWorkloadsThanTheBound_RefusedWhole()
    {
        var snapshot = new ReplicaSnapshot { Version = 7 };
        for (var i = 0; i <= ReplicaSnapshotReader.MaxWorkloads; i++)
        {
            snapshot.Workloads.Add(new WorkloadReplicas { Namespace = "default", Name = "w" + i });
        }

        var result = ReplicaSnapshotReader.Check(snapshot);

        Assert.Null(result.Workloads);
        Assert.Equal("1001 workloads, more than 1000", result.Refusal);
    }

    [Fact]
    public void Check_MoreReplicasThanTheBound_RefusedWhole()
    {
        var workload = new WorkloadReplicas { Namespace = "default", Name = "echo" };
        for (var i = 0; i <= ReplicaSnapshotReader.MaxReplicas; i++)
        {
            workload.Ready.Add("127.0.0.1:" + (1000 + i));
        }

        var result = ReplicaSnapshotReader.Check(new ReplicaSnapshot { Workloads = { workload } });

        Assert.Null(result.Workloads);
        Assert.Equal("workload \"default/echo\" has 1001 replicas, more than 1000", result.Refusal);
    }

    [Fact]
    public void Check_AtTheBounds_Applied()
    {
        var snapshot = new ReplicaSnapshot();
        for (var w = 0; w < ReplicaSnapshotReader.MaxWorkloads; w++)
        {
            snapshot.Workloads.Add(new WorkloadReplicas { Namespace = "default", Name = "w" + w, Ready = { "127.0.0.1:1" } });
        }

        var big = snapshot.Workloads[0];
        for (var i = 1; i < ReplicaSnapshotReader.MaxReplicas; i++)
        {
            big.Ready.Add("127.0.0.1:" + (1 + i));
        }

        var result = ReplicaSnapshotReader.Check(snapshot);

        Assert.Null(result.Refusal);
        Assert.Equal(ReplicaSnapshotReader.MaxWorkloads, result.Workloads!.Count);
        Assert.Equal(ReplicaSnapshotReader.MaxReplicas, result.Workloads["default/w0"].Length);
    }

    [Fact]
    public void Check_DuplicateWorkloadsAndReplicas_MergedOnce()
    {
        var snapshot = new ReplicaSnapshot
        {
            Workloads =
            {
                new WorkloadReplicas { Namespace = "default", Name = "echo", Ready = { "127.0.0.1:1", "127.0.0.1:1", "LOCALHOST:2" } },
                new WorkloadReplicas { Namespace = "default", Name = "echo", Ready = { "localhost:2", "127.0.0.1:3" } },
            },
        };

        var result = ReplicaSnapshotReader.Check(snapshot);

        Assert.Equal(["127.0.0.1:1", "localhost:2", "127.0.0.1:3"], result.Workloads!["default/echo"].Select(r => r.Authority));
        Assert.Equal(0, result.Skipped);
    }

    [Fact]
    public void Check_MalformedEntries_SkippedCountedAndQuotedSafely()
    {
        var snapshot = new ReplicaSnapshot
        {
            Workloads =
            {
                new WorkloadReplicas { Namespace = "default", Name = "echo", Ready = { "evil\r\nline:80", "127.0.0.1:1", new string('x', 500) } },
                new WorkloadReplicas { Namespace = "", Name = "echo", Ready = { "127.0.0.1:2" } },
                new WorkloadReplicas { Namespace = "default", Name = "Upper", Ready = { "127.0.0.1:3" } },
                new WorkloadReplicas { Namespace = "default", Name = "a/b", Ready = { "127.0.0.1:4" } },
            },
        };

        var result = ReplicaSnapshotReader.Check(snapshot);

        Assert.Equal(["default/echo"], result.Workloads!.Keys);
        Assert.Equal(["127.0.0.1:1"], result.Workloads["default/echo"].Select(r => r.Authority));
        Assert.Equal(5, result.Skipped);
        Assert.StartsWith("\"evil??line:80\" of default/echo, \"" + new string('x', 60) + "...\" of default/echo, workload \"/echo\"", result.Examples, StringComparison.Ordinal);
        Assert.DoesNotContain("Upper", result.Examples, StringComparison.Ordinal); // three examples at most
    }

    [Fact]
    public void Check_RecentEvents_LastOnesKeptCutAndOneLineEach()
    {
        var snapshot = new ReplicaSnapshot { Version = 1 };
        for (var i = 0; i < ReplicaSnapshotReader.MaxEvents + 5; i++)
        {
            snapshot.RecentEvents.Add("event " + i.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        snapshot.RecentEvents.Add("forged\nsecond line\u2028and\u0007bell");
        snapshot.RecentEvents.Add(new string('x', ReplicaSnapshotReader.MaxEventLength + 100));

        var events = ReplicaSnapshotReader.Check(snapshot).Events;

        Assert.Equal(ReplicaSnapshotReader.MaxEvents, events.Count);
        Assert.Equal("event 7", events[0]);
        Assert.Equal("forged?second line?and?bell", events[^2]);
        Assert.Equal(new string('x', ReplicaSnapshotReader.MaxEventLength) + "...", events[^1]);
    }
}
