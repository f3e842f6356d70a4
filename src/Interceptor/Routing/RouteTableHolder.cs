namespace Updraft.Interceptor.Routing;

/// <summary>Holds the current <see cref="RouteTable"/>. Readers take no lock: a rebuild publishes a whole new table.</summary>
internal sealed class RouteTableHolder(TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;
    private RouteTable _current = RouteTable.Empty;
    private volatile bool _hasTable;
    private long _version;
    private long _publishedAt;

    public RouteTable Current => Volatile.Read(ref _current);

    /// <summary>True once the first full route set has been published (what <c>/readyz</c> waits for).</summary>
    public bool HasTable => _hasTable;

    /// <summary>Tables published so far: 1 after the first load, one more per reload.</summary>
    public long Version => Interlocked.Read(ref _version);

    /// <summary>How long the current table has been in use; null before the first.</summary>
    public TimeSpan? Age => _hasTable ? _time.GetElapsedTime(Interlocked.Read(ref _publishedAt)) : null;

    public void Publish(RouteTable table)
    {
        Interlocked.Exchange(ref _publishedAt, _time.GetTimestamp());
        Volatile.Write(ref _current, table);
        Interlocked.Increment(ref _version);
        _hasTable = true;
    }
}
