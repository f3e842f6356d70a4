namespace Updraft.Local.Replicas;

/// <summary>
/// Every replica event of every workload: one line each on <paramref name="writer"/> (the autoscaler's stdout), the
/// most recent ones kept as records for the status page, and a count per kind. Thread-safe.
/// </summary>
internal sealed class ReplicaEventLog(TextWriter writer, TimeProvider timeProvider)
{
    /// <summary>How many events <see cref="Recent"/> keeps.</summary>
    public const int RecentCapacity = 500;

    private readonly Lock _lock = new();
    private readonly Queue<ReplicaEvent> _recent = new();
    private readonly long[] _counts = new long[Enum.GetValues<ReplicaEventKind>().Length];

    /// <summary>Raised after an event is written, on the thread that recorded it; handlers must not block.</summary>
    public event Action<ReplicaEvent>? Recorded;

    public TimeProvider TimeProvider => timeProvider;

    /// <summary>The last <see cref="RecentCapacity"/> events, oldest first.</summary>
    public IReadOnlyList<ReplicaEvent> Recent
    {
        get
        {
            lock (_lock)
            {
                return [.. _recent];
            }
        }
    }

    public long Count(ReplicaEventKind kind) => Interlocked.Read(ref _counts[(int)kind]);

    public ReplicaEvent Record(ReplicaEventKind kind, string key, int index, int? pid, int? port, int? exitCode, string detail)
    {
        var recorded = new ReplicaEvent(timeProvider.GetUtcNow(), kind, key, index, pid, port, exitCode, detail);
        lock (_lock)
        {
            _recent.Enqueue(recorded);
            if (_recent.Count > RecentCapacity)
            {
                _recent.Dequeue();
            }

            Interlocked.Increment(ref _counts[(int)kind]);
            WriteLine(recorded.Line);
        }

        try
        {
            Recorded?.Invoke(recorded);
        }
#pragma warning disable CA1031 // A subscriber's failure must not end the replica's supervision that recorded the event.
        catch (Exception e)
#pragma warning restore CA1031
        {
            Note($"a handler of replica events failed: {e.GetType().Name}: {e.Message}");
        }

        return recorded;
    }

    /// <summary>A line that is not an event (a failing <see cref="WorkloadReplicas.Changed"/> handler), in the same stream.</summary>
    public void Note(string line)
    {
        lock (_lock)
        {
            WriteLine(ReplicaEvent.FormatTime(timeProvider.GetUtcNow()) + " " + line);
        }
    }

    private void WriteLine(string line)
    {
        try
        {
            writer.WriteLine(line);
            writer.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            // Our stdout is gone (a closed pipe): the records and counts still serve the status page.
        }
    }
}
