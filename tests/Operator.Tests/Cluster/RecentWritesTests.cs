using Updraft.Operator.Cluster;

namespace Updraft.Operator.Tests.Cluster;

/// <summary>
/// <see cref="RecentWrites{T}"/>: the operator's own write is the truth while the cache still shows the version it
/// replaced; any other cached version wins and drops the entry.
/// </summary>
public sealed class RecentWritesTests
{
    private const string Key = "ns/web";

    private readonly RecentWrites<Item> _writes = new();

    [Fact]
    public void Resolve_NothingRemembered_ReturnsTheCachedObject()
    {
        var cached = new Item("cached");

        Assert.Same(cached, _writes.Resolve(Key, cached, "1"));
        Assert.Null(_writes.Resolve(Key, null, null));
    }

    [Fact]
    public void Resolve_CacheStillShowsTheReplacedVersion_ReturnsTheWrittenObjectEveryTime()
    {
        var cached = new Item("v1");
        var written = new Item("v2");
        _writes.Remember(Key, "1", written);

        Assert.Same(written, _writes.Resolve(Key, cached, "1"));
        Assert.Same(written, _writes.Resolve(Key, cached, "1"));
    }

    [Fact]
    public void Resolve_CacheShowsAnotherVersion_ReturnsTheCachedObjectAndForgetsTheWrite()
    {
        var written = new Item("v2");
        var newer = new Item("v2-from-watch");
        _writes.Remember(Key, "1", written);

        Assert.Same(newer, _writes.Resolve(Key, newer, "2"));

        // The entry is gone: even the old version now resolves to the cache.
        var old = new Item("v1");
        Assert.Same(old, _writes.Resolve(Key, old, "1"));
    }

    [Fact]
    public void Resolve_CreatedObjectNotYetInTheCache_ReturnsTheCreatedObject()
    {
        var created = new Item("created");
        _writes.Remember(Key, null, created);

        Assert.Same(created, _writes.Resolve(Key, null, null));

        var fromWatch = new Item("from-watch");
        Assert.Same(fromWatch, _writes.Resolve(Key, fromWatch, "5"));
        Assert.Null(_writes.Resolve(Key, null, null));
    }

    [Fact]
    public void Resolve_DeletedObjectStillInTheCache_ReturnsNull()
    {
        var cached = new Item("v3");
        _writes.Remember(Key, "3", null);

        Assert.Null(_writes.Resolve(Key, cached, "3"));

        // The watch delivered the deletion.
        Assert.Null(_writes.Resolve(Key, null, null));
        var recreated = new Item("recreated");
        Assert.Same(recreated, _writes.Resolve(Key, recreated, "9"));
    }

    [Fact]
    public void Remember_SecondWriteOfTheSameKey_ReplacesTheFirst()
    {
        var first = new Item("v2");
        var second = new Item("v3");
        _writes.Remember(Key, "1", first);

        _writes.Remember(Key, "2", second);

        Assert.Same(second, _writes.Resolve(Key, new Item("v2-from-watch"), "2"));
    }

    [Fact]
    public void Forget_RememberedWrite_ReturnsTheCachedObjectAgain()
    {
        var cached = new Item("v1");
        _writes.Remember(Key, "1", new Item("v2"));

        _writes.Forget(Key);

        Assert.Same(cached, _writes.Resolve(Key, cached, "1"));
        _writes.Forget("ns/unknown");
    }

    [Fact]
    public void Resolve_OtherKeys_AreIndependent()
    {
        var written = new Item("a-v2");
        _writes.Remember("ns/a", "1", written);
        var cachedB = new Item("b-v1");

        Assert.Same(cachedB, _writes.Resolve("ns/b", cachedB, "1"));
        Assert.Same(written, _writes.Resolve("ns/a", new Item("a-v1"), "1"));
        Assert.Same(cachedB, _writes.Resolve("ns/B", cachedB, "1"));
    }

    /// <summary>
    /// Two writes before the watch has delivered the first: write 1 replaced v1 (giving v2), write 2 replaced v2
    /// (giving v3), and the cache still shows v1. The freshest known object is write 2's, but the entry says it
    /// replaced "2", the cache shows "1", and "any other version is newer" drops it and answers the stale v1.
    /// </summary>
    [Fact]
    public void Resolve_CacheTwoWritesBehind_ReturnsTheLatestWriteNotTheStaleCache()
    {
        var cachedV1 = new Item("v1");
        var v2 = new Item("v2");
        var v3 = new Item("v3");
        _writes.Remember(Key, "1", v2);
        Assert.Same(v2, _writes.Resolve(Key, cachedV1, "1"));
        _writes.Remember(Key, "2", v3);

        Assert.Same(v3, _writes.Resolve(Key, cachedV1, "1"));
    }

    private sealed record Item(string Name);
}
