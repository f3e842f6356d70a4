namespace Updraft.Interceptor.ColdStart;

/// <summary>One cold start of a route: requests were held until the target became ready.</summary>
/// <param name="ReadyAt">When the target became ready (wall clock, as the first released request saw it).</param>
/// <param name="Duration">From the first held request to the target being ready.</param>
/// <param name="Released">Held requests released by this readiness (so far).</param>
internal sealed record ColdStartRecord(DateTimeOffset ReadyAt, TimeSpan Duration, int Released);

/// <summary>
/// The last cold start of a route, for the status page. Written only by held requests as readiness releases them (the
/// cold path; a request to a ready target never gets here), read without a lock: one immutable record swapped with a
/// compare-and-swap. Requests released by the same readiness change count as one cold start, timed from the
/// earliest of them.
/// </summary>
internal sealed class ColdStartHistory
{
    private Entry? _last;

    public ColdStartRecord? Last => Volatile.Read(ref _last)?.Record;

    /// <param name="release">The readiness state that released the request (one object per readiness change).</param>
    /// <param name="heldSince">When the request started waiting (<see cref="TimeProvider.GetTimestamp"/>).</param>
    /// <param name="time">The clock.</param>
    public void Released(object release, long heldSince, TimeProvider time)
    {
        var now = time.GetTimestamp();
        var wallNow = time.GetUtcNow();
        while (true)
        {
            var last = Volatile.Read(ref _last);
            Entry next;
            if (last is not null && ReferenceEquals(last.Release, release))
            {
                var earliest = Math.Min(last.HeldSince, heldSince);
                next = new Entry(release, earliest, last.ReadyStamp, last.Record with
                {
                    Duration = time.GetElapsedTime(earliest, last.ReadyStamp),
                    Released = last.Record.Released + 1,
                });
            }
            else
            {
                next = new Entry(release, heldSince, now, new ColdStartRecord(wallNow, time.GetElapsedTime(heldSince, now), 1));
            }

            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return;
            }
        }
    }

    private sealed record Entry(object Release, long HeldSince, long ReadyStamp, ColdStartRecord Record);
}
