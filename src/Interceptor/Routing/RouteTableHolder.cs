namespace Updraft.Interceptor.Routing;

/// <summary>Holds the current <see cref="RouteTable"/>. Readers take no lock: a rebuild publishes a whole new table.</summary>
internal sealed class RouteTableHolder
{
    private RouteTable _current = RouteTable.Empty;
    private volatile bool _hasTable;

    public RouteTable Current => Volatile.Read(ref _current);

    /// <summary>True once the first full route set has been published (what <c>/readyz</c> waits for).</summary>
    public bool HasTable => _hasTable;

    public void Publish(RouteTable table)
    {
        Volatile.Write(ref _current, table);
        _hasTable = true;
    }
}
