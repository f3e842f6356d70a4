using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Updraft.Kubernetes.Model;
using Updraft.Kubernetes.Tests.Infrastructure;
using Updraft.Kubernetes.Watching;
using Updraft.Tests.Common.Kubernetes;

namespace Updraft.Kubernetes.Tests.Watching;

/// <summary>The shared scenarios against the in-process fake, plus the faults only the fake can cause on demand.</summary>
public sealed class ResourceWatchFakeServerTests : ResourceWatchScenarios
{
    private static readonly string Services = ApiResource.Services.Path(null);

    private FakeApiServer Server => ((FakeCluster)Cluster).Server;

    private protected override async Task<ITestCluster> StartClusterAsync() => await FakeCluster.StartAsync();

    [Fact]
    public void New_TypeWithoutJsonMetadata_FailsAtCreationNamingTheType()
    {
        var error = Assert.Throws<NotSupportedException>(() => Watch<Unregistered>(ApiResource.Services, null));

        Assert.Contains(nameof(Unregistered), error.Message, StringComparison.Ordinal);
        Assert.Empty(Watches());
    }

    [Fact]
    public async Task RunAsync_Bookmark_AdvancesResourceVersionWithoutChangingItems()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        await using var started = await StartAsync("mine");
        var watch = started.Watch;
        var changes = started.Changes;
        var items = watch.Items;

        // A write the watch does not see (another namespace), then a bookmark at the server's version.
        var latest = Server.Upsert(Services, KubeObjects.Service("other", "b"));
        Server.Bookmark();
        await Eventually.TrueAsync(() => watch.ResourceVersion == Version(latest), () => $"version {watch.ResourceVersion}, expected {latest}");

        Assert.Same(items, watch.Items);
        Assert.Equal([WatchChangeKind.Reset], changes.Select(c => c.Kind));

        // The next watch resumes from the bookmark, not from the list's version.
        Server.CloseWatches();
        await Eventually.TrueAsync(() => Watches().Any(r => r.Contains("resourceVersion=" + latest, StringComparison.Ordinal)), () => string.Join(", ", Watches()));
        Assert.Equal(1, watch.Lists);
    }

    [Fact]
    public async Task Refresh_NothingChanged_RelistsAndConfirms_TellsNoSubscriber_ThenAChangeArrivesAsUsual()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        await using var started = await StartAsync("mine");
        var watch = started.Watch;
        var changes = started.Changes;
        var seen = Server.Upsert(Services, KubeObjects.Service("mine", "b"));
        await Eventually.TrueAsync(() => watch.ResourceVersion == Version(seen), () => "b seen");
        var confirmed = watch.ConfirmedAt;
        var items = watch.Items;

        await Eventually.TrueAsync(
            () =>
            {
                watch.Refresh();
                return watch.Lists >= 2 && watch.ConfirmedAt > confirmed;
            },
            () => $"{watch.Lists} lists");

        Assert.Same(items, watch.Items);
        Assert.Equal([WatchChangeKind.Reset, WatchChangeKind.Upsert], changes.Select(c => c.Kind));
        Assert.Null(watch.LastProblem);
        Assert.Equal(0, watch.Failures);
        Server.Upsert(Services, KubeObjects.Service("mine", "c"));
        await Eventually.TrueAsync(() => watch.Items.ContainsKey("mine/c"), () => "c seen on the watch after the re-list");
    }

    [Fact]
    public async Task RunAsync_WatchClosedMidStream_ResumesFromLastVersionWithoutRelist()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        await using var started = await StartAsync("mine");
        var watch = started.Watch;
        var seen = Server.Upsert(Services, KubeObjects.Service("mine", "b"));
        await Eventually.TrueAsync(() => watch.ResourceVersion == Version(seen), () => "b seen");

        Server.CloseWatches();
        Server.Upsert(Services, KubeObjects.Service("mine", "c"));
        await Eventually.TrueAsync(() => Watches().Count == 2 && watch.Items.ContainsKey("mine/c"), () => $"{Watches().Count} watches, items {string.Join(", ", watch.Items.Keys)}");
        Server.Upsert(Services, KubeObjects.Service("mine", "d"));
        await Eventually.TrueAsync(() => watch.Items.ContainsKey("mine/d"), () => "d seen after the reconnect");

        Assert.Contains("resourceVersion=" + seen, Watches()[1], StringComparison.Ordinal);
        Assert.Equal(1, watch.Lists);
        Assert.Equal(0, watch.Failures);
        Assert.Equal(["mine/a", "mine/b", "mine/c", "mine/d"], watch.Items.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task RunAsync_WatchSilentPastItsTimeout_IsDroppedAndResumedWithoutRelist()
    {
        // The fake never ends a watch on its own, so a 1 s watch with 200 ms grace goes silent for too long.
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        var watch = Watch<Service>(ApiResource.Services, "mine", tuning: Fast with { WatchTimeout = TimeSpan.FromSeconds(1), SilenceGrace = TimeSpan.FromMilliseconds(200) });
        await using var running = Runner.Start(watch.RunAsync);
        await watch.Synced.WithinTimeout();

        await Eventually.TrueAsync(() => Watches().Count >= 2, () => $"{Watches().Count} watch requests");
        Server.Upsert(Services, KubeObjects.Service("mine", "b"));
        await Eventually.TrueAsync(() => watch.Items.ContainsKey("mine/b"), () => "b seen on the new watch");

        Assert.Contains("timeoutSeconds=1", Watches()[0], StringComparison.Ordinal);
        Assert.Equal(1, watch.Lists);
    }

    [Fact]
    public async Task RunAsync_GoneAsHttpStatus_RelistsToExactlyTheServersObjects()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "kept"));
        Server.Upsert(Services, KubeObjects.Service("mine", "deleted"));
        await using var started = await StartAsync("mine");
        var watch = started.Watch;
        var changes = started.Changes;

        // History the watch has not seen (another namespace) is compacted away, so its version is too old; then the
        // watch drops and cannot reconnect for a while, during which objects change.
        Server.Upsert(Services, KubeObjects.Service("other", "unseen"));
        Server.Compact();
        Server.FailNext(3);
        Server.CloseWatches();
        await Eventually.TrueAsync(() => watch.Failures >= 1, () => "the reconnect failed");
        Server.Delete(Services, "mine", "deleted");
        Server.Upsert(Services, KubeObjects.Service("mine", "kept", ("tier", "web")));
        Server.Upsert(Services, KubeObjects.Service("mine", "added"));

        await Eventually.TrueAsync(() => watch.Lists == 2 && watch.Items.Count == 2, () => $"{watch.Lists} lists, items {string.Join(", ", watch.Items.Keys)}");
        Assert.Equal(["mine/added", "mine/kept"], watch.Items.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("web", Label(watch.Items["mine/kept"], "tier"));
        Assert.Equal(2, changes.Count(c => c.Kind == WatchChangeKind.Reset));
    }

    [Fact]
    public async Task RunAsync_GoneAsErrorEvent_RelistsWithoutWatchingAgainFirst()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "kept"));
        Server.Upsert(Services, KubeObjects.Service("mine", "deleted"));
        await using var started = await StartAsync("mine");
        var watch = started.Watch;

        Server.FailNext(3);
        Server.ExpireWatches();
        await Eventually.TrueAsync(() => watch.Failures >= 1, () => "the re-list failed");
        Server.Delete(Services, "mine", "deleted");
        Server.Upsert(Services, KubeObjects.Service("mine", "added"));

        await Eventually.TrueAsync(() => watch.Lists == 2 && watch.Items.Count == 2, () => $"{watch.Lists} lists, items {string.Join(", ", watch.Items.Keys)}");
        Assert.Equal(["mine/added", "mine/kept"], watch.Items.Keys.Order(StringComparer.Ordinal));
        // The ERROR event itself triggered the re-list: the request after the expired watch is a list.
        var afterWatch = Server.Requests.SkipWhile(r => !IsWatch(r)).Skip(1).First();
        Assert.False(IsWatch(afterWatch), afterWatch);
    }

    [Fact]
    public async Task RunAsync_ServerErrors_CountsFailuresAndRecoversWithoutRelist()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        Server.FailNext(2);
        await using var started = await StartAsync("mine");
        var watch = started.Watch;
        Assert.Equal(2, watch.Failures);
        Assert.Equal(["mine/a"], watch.Items.Keys);

        Server.FailNext(2, 503);
        Server.CloseWatches();
        Server.Upsert(Services, KubeObjects.Service("mine", "b"));

        await Eventually.TrueAsync(() => watch.Items.ContainsKey("mine/b"), () => "b seen after the failures");
        Assert.Equal(4, watch.Failures);
        Assert.Equal(1, watch.Lists);
    }

    [Fact]
    public async Task RunAsync_NotServed_IsEmptyAndSyncedThenFillsOnceServed()
    {
        Server.Unserved[Services] = true;
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        var watch = Watch<Service>(ApiResource.Services, "mine");
        await using var running = Runner.Start(watch.RunAsync);

        await watch.Synced.WithinTimeout();
        Assert.Empty(watch.Items);
        Assert.Equal(0, watch.Lists);

        Server.Unserved.TryRemove(Services, out _);
        await Eventually.TrueAsync(() => watch.Items.ContainsKey("mine/a"), () => "a seen once served");
        Assert.Equal(1, watch.Lists);
        Assert.Equal(0, watch.Failures);
    }

    [Fact]
    public async Task RunAsync_NotServedThenServedWithoutObjects_SubscribersAreToldOfTheList()
    {
        // A CRD installed while none of its objects exist yet: the items stay empty, but the list is news (the operator
        // retries the Functions that waited for that CRD when told), unlike a refresh's re-list that finds nothing new.
        Server.Unserved[Services] = true;
        var watch = Watch<Service>(ApiResource.Services, "mine");
        var changes = new ConcurrentQueue<WatchChange<Service>>();
        _ = watch.Subscribe(changes.Enqueue);
        await using var running = Runner.Start(watch.RunAsync);
        await watch.Synced.WithinTimeout();
        Assert.Equal([WatchChangeKind.Reset], changes.Select(c => c.Kind));

        Server.Unserved.TryRemove(Services, out _);
        await Eventually.TrueAsync(() => changes.Count == 2, () => $"{watch.Lists} lists, {changes.Count} changes told");

        Assert.Equal([WatchChangeKind.Reset, WatchChangeKind.Reset], changes.Select(c => c.Kind));
        Assert.Equal(1, watch.Lists);
        Assert.Empty(watch.Items);
    }

    [Fact]
    public async Task RunAsync_ResourceStopsBeingServed_EmptiesItemsAfterTheGraceUntilServedAgain()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        await using var started = await StartAsync("mine", tuning: Fast with { NotServedGrace = TimeSpan.FromMilliseconds(300) });
        var watch = started.Watch;

        Server.Unserved[Services] = true;
        Server.CloseWatches();
        await Eventually.TrueAsync(() => watch.Items.IsEmpty, () => "emptied when no longer served");

        Server.Unserved.TryRemove(Services, out _);
        await Eventually.TrueAsync(() => watch.Items.ContainsKey("mine/a"), () => "a back once served");
    }

    // A restarting kube-apiserver answers 404 for a CRD's objects until it has installed the CRD again: the routes an
    // interceptor serves must not vanish for that moment.
    [Fact]
    public async Task RunAsync_ResourceNotServedWithinTheGrace_KeepsItsItemsAndTheyAreListedAgain()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        await using var started = await StartAsync("mine", tuning: Fast with { NotServedGrace = TimeSpan.FromHours(1) });
        var watch = started.Watch;
        var listsBefore = watch.Lists;

        Server.Unserved[Services] = true;
        Server.CloseWatches();
        await Eventually.TrueAsync(() => watch.Failures >= 3, () => "the 404 seen several times");
        Assert.True(watch.Items.ContainsKey("mine/a"));

        Server.Unserved.TryRemove(Services, out _);
        await Eventually.TrueAsync(() => watch.Lists > listsBefore, () => "listed again once served");
        Assert.True(watch.Items.ContainsKey("mine/a"));
    }

    [Fact]
    public async Task Subscribe_HandlerThrowsOnEveryEvent_OtherHandlerSeesEveryEventWithoutRelist()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        Server.Upsert(Services, KubeObjects.Service("mine", "b"));
        var logger = new RecordingLogger();
        var thrown = new ConcurrentQueue<Exception>();

        // Registered before the recording handler, so an exception that escaped would keep it from running.
        await using var started = await StartAsync("mine", logger, watch => watch.Subscribe(change =>
        {
            var defect = new InvalidOperationException($"a defect in the handler ({change.Kind} {change.Key})");
            thrown.Enqueue(defect);
            throw defect;
        }));
        var watch = started.Watch;
        var changes = started.Changes;

        Server.Upsert(Services, KubeObjects.Service("mine", "c"));
        Server.Upsert(Services, KubeObjects.Service("mine", "a", ("tier", "web")));
        Server.Delete(Services, "mine", "b");
        await Eventually.TrueAsync(() => changes.Count == 4, () => $"{changes.Count} changes seen");

        Assert.Equal(
            [(WatchChangeKind.Reset, ""), (WatchChangeKind.Upsert, "mine/c"), (WatchChangeKind.Upsert, "mine/a"), (WatchChangeKind.Delete, "mine/b")],
            changes.Select(c => (c.Kind, c.Key)));
        Assert.Equal(["mine/a", "mine/c"], watch.Items.Keys.Order(StringComparer.Ordinal));
        Assert.Equal("web", Label(watch.Items["mine/a"], "tier"));
        Assert.Equal(1, watch.Lists);
        Assert.Equal(0, watch.Failures);
        Assert.Single(Watches());

        // Each exception was logged once, as itself, under the handler-failure event.
        var failures = logger.Entries.Where(e => e.EventId.Id == 4006).ToList();
        Assert.Equal(thrown, failures.Select(e => e.Exception));
        Assert.All(failures, e => Assert.Equal(LogLevel.Error, e.Level));
        Assert.Equal(4, failures.Count);
    }

    [Fact]
    public async Task Subscribe_Disposed_StopsItsCallsWhileAnotherContinues()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        var disposed = new ConcurrentQueue<WatchChange<Service>>();
        IDisposable? subscription = null;
        await using var started = await StartAsync("mine", subscribe: watch => subscription = watch.Subscribe(disposed.Enqueue));
        var changes = started.Changes;

        Server.Upsert(Services, KubeObjects.Service("mine", "b"));
        await Eventually.TrueAsync(() => changes.Count == 2, () => $"{changes.Count} changes seen");
        subscription!.Dispose();
        // A second Dispose is harmless: it must not take another handler with it.
        subscription.Dispose();
        Server.Upsert(Services, KubeObjects.Service("mine", "c"));
        Server.Upsert(Services, KubeObjects.Service("mine", "d"));
        await Eventually.TrueAsync(() => changes.Count == 4, () => $"{changes.Count} changes seen");

        Assert.Equal(["", "mine/b"], disposed.Select(c => c.Key));
        Assert.Equal(["", "mine/b", "mine/c", "mine/d"], changes.Select(c => c.Key));
    }

    [Fact]
    public async Task Subscribe_DisposedFromInsideItsHandler_StopsWithoutDisturbingTheWatch()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        var logger = new RecordingLogger();
        var own = new ConcurrentQueue<WatchChange<Service>>();
        IDisposable? subscription = null;
        await using var started = await StartAsync("mine", logger, watch => subscription = watch.Subscribe(change =>
        {
            own.Enqueue(change);
            if (change.Kind == WatchChangeKind.Upsert)
            {
                subscription!.Dispose();
                subscription.Dispose();
            }
        }));
        var watch = started.Watch;
        var changes = started.Changes;

        Server.Upsert(Services, KubeObjects.Service("mine", "b"));
        Server.Upsert(Services, KubeObjects.Service("mine", "c"));
        await Eventually.TrueAsync(() => changes.Count == 3, () => $"{changes.Count} changes seen");

        Assert.Equal(["", "mine/b"], own.Select(c => c.Key));
        Assert.Equal(["", "mine/b", "mine/c"], changes.Select(c => c.Key));
        Assert.DoesNotContain(logger.Entries, e => e.Level >= LogLevel.Warning);
        Assert.Equal(1, watch.Lists);
        Assert.Equal(0, watch.Failures);
    }

    [Fact]
    public async Task Subscribe_DisposedByAnEarlierHandlerOfTheSameChange_IsNotCalledForIt()
    {
        Server.Upsert(Services, KubeObjects.Service("mine", "a"));
        var later = new ConcurrentQueue<WatchChange<Service>>();
        IDisposable? laterSubscription = null;
        await using var started = await StartAsync("mine", subscribe: watch =>
        {
            _ = watch.Subscribe(change =>
            {
                if (change.Kind == WatchChangeKind.Upsert)
                {
                    laterSubscription!.Dispose();
                }
            });
            laterSubscription = watch.Subscribe(later.Enqueue);
        });
        var changes = started.Changes;

        Server.Upsert(Services, KubeObjects.Service("mine", "b"));
        await Eventually.TrueAsync(() => changes.Count == 2, () => $"{changes.Count} changes seen");

        Assert.Equal([WatchChangeKind.Reset], later.Select(c => c.Kind));
    }

    /// <summary>Starts a watch of Services in <paramref name="ns"/> and waits until it listed and its watch is open.</summary>
    /// <param name="ns">Namespace to watch.</param>
    /// <param name="logger">The watch's logger (none when null).</param>
    /// <param name="subscribe">Registers handlers before the one that records <see cref="Started.Changes"/>.</param>
    /// <param name="tuning">The watch's timings (<see cref="ClusterTests.Fast"/> when null).</param>
    private async Task<Started> StartAsync(string ns, ILogger? logger = null, Action<ResourceWatch<Service>>? subscribe = null, WatchTuning? tuning = null)
    {
        var watch = Watch<Service>(ApiResource.Services, ns, logger: logger, tuning: tuning);
        subscribe?.Invoke(watch);
        var changes = new ConcurrentQueue<WatchChange<Service>>();
        _ = watch.Subscribe(changes.Enqueue);
        var started = new Started(watch, changes, Runner.Start(watch.RunAsync));
        await watch.Synced.WithinTimeout();
        await Eventually.TrueAsync(() => Server.OpenWatches == 1, () => $"{Server.OpenWatches} open watches");
        return started;
    }

    private List<string> Watches() => Server.Requests.Where(IsWatch).ToList();

    private static bool IsWatch(string request) => request.Contains("watch=true", StringComparison.Ordinal);

    private static string Version(long version) => version.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Keeps every entry logged.</summary>
    private sealed class RecordingLogger : ILogger
    {
        public ConcurrentQueue<Entry> Entries { get; } = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Enqueue(new Entry(logLevel, eventId, exception));

        public sealed record Entry(LogLevel Level, EventId EventId, Exception? Exception);
    }

    private sealed record Started(ResourceWatch<Service> Watch, ConcurrentQueue<WatchChange<Service>> Changes, Runner Runner) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Runner.DisposeAsync();
    }

    /// <summary>A type the watch's compile-time JSON metadata does not know.</summary>
    private sealed class Unregistered;
}
