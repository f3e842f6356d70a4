using Updraft.Interceptor.Forwarding;

namespace Updraft.Interceptor.Tests.Forwarding;

public sealed class CancellationSourcePoolTests
{
    [Fact]
    public void Rent_AfterUnusedReturn_ReusesTheSource()
    {
        var pool = new CancellationSourcePool();
        var source = pool.Rent();
        source.CancelAfter(TimeSpan.FromMinutes(5));

        pool.Return(source);

        Assert.Same(source, pool.Rent());
    }

    [Fact]
    public void Return_CancelledSource_IsDisposedNotReused()
    {
        var pool = new CancellationSourcePool();
        var source = pool.Rent();
        source.Cancel();

        pool.Return(source);
        var next = pool.Rent();

        Assert.NotSame(source, next);
        Assert.False(next.IsCancellationRequested);
        Assert.Throws<ObjectDisposedException>(() => source.CancelAfter(1));
    }

    [Fact]
    public void Rent_ReusedSource_DoesNotNotifyRegistrationsLeftFromItsLastUse()
    {
        var pool = new CancellationSourcePool();
        var source = pool.Rent();
        var stale = false;
        source.Token.Register(() => stale = true);
        pool.Return(source);

        var reused = pool.Rent();
        reused.Cancel();

        Assert.Same(source, reused);
        Assert.False(stale);
    }
}
