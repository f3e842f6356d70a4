using System.Threading.Channels;
using Updraft.Local.Telemetry;
using Updraft.Protos.V1;

namespace Updraft.Local.Feed;

/// <summary>A workload as the feed shows it: its key parts and its ready replicas' addresses, read at each publication.</summary>
internal sealed record FeedWorkload(string Namespace, string Name, Func<IReadOnlyList<string>> ReadyAddresses);

/// <summary>
/// The replicas feed's state: the latest full snapshot and the interceptors that follow it. <see cref="Publish"/> after
/// any change of ready replicas; <see cref="WaitAppliedAsync"/> before stopping a replica, so every interceptor has
/// stopped sending to it first.
/// </summary>
/// <param name="recentEvents">The latest replica event lines, oldest first.</param>
internal sealed class ReplicaFeed(Func<IReadOnlyList<FeedWorkload>> workloads, Func<IEnumerable<string>> recentEvents, TimeProvider time, ILogger<ReplicaFeed> logger)
{
    /// <summary>Replica events a snapshot carries at most.</summary>
    public const int MaxEvents = 50;

    /// <summary>An interceptor that does not confirm by then is not waited for (it may be stuck; the replica still stops).</summary>
    public static readonly TimeSpan ApplyTimeout = TimeSpan.FromSeconds(2);

    private readonly Lock _gate = new();
    private readonly List<Subscriber> _subscribers = [];
    private ReplicaSnapshot _current = Build(0, workloads, recentEvents);

    public ReplicaSnapshot Current
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    public int Subscribers
    {
        get
        {
            lock (_gate)
            {
                return _subscribers.Count;
            }
        }
    }

    /// <summary>Reads every workload's ready replicas and sends the snapshot to every subscriber.</summary>
    public void Publish()
    {
        lock (_gate)
        {
            _current = Build(_current.Version + 1, workloads, recentEvents);
            foreach (var subscriber in _subscribers)
            {
                subscriber.Offer(_current);
            }
        }
    }

    /// <summary>Completes when every interceptor following now has applied the latest snapshot (or left, or <see cref="ApplyTimeout"/> passed).</summary>
    public async Task WaitAppliedAsync(CancellationToken cancellationToken)
    {
        ulong version;
        Task[] waits;
        lock (_gate)
        {
            version = _current.Version;
            waits = [.. _subscribers.Select(s => s.AppliedAsync(version))];
        }

        if (waits.Length == 0)
        {
            return;
        }

        try
        {
            await Task.WhenAll(waits).WaitAsync(ApplyTimeout, time, cancellationToken);
        }
        catch (TimeoutException)
        {
            Log.ApplyTimedOut(logger, version, Shared.Durations.GoDuration.Format(ApplyTimeout));
        }
    }

    public Subscriber Subscribe(string peer)
    {
        var subscriber = new Subscriber(peer);
        lock (_gate)
        {
            _subscribers.Add(subscriber);
            subscriber.Offer(_current);
        }

        Log.SubscriberJoined(logger, peer);
        return subscriber;
    }

    public void Unsubscribe(Subscriber subscriber)
    {
        lock (_gate)
        {
            _subscribers.Remove(subscriber);
        }

        subscriber.Left();
        Log.SubscriberLeft(logger, subscriber.Peer);
    }

    private static ReplicaSnapshot Build(ulong version, Func<IReadOnlyList<FeedWorkload>> workloads, Func<IEnumerable<string>> recentEvents)
    {
        var snapshot = new ReplicaSnapshot { Version = version };
        snapshot.RecentEvents.AddRange(recentEvents().TakeLast(MaxEvents));
        foreach (var workload in workloads())
        {
            var entry = new WorkloadReplicas { Namespace = workload.Namespace, Name = workload.Name };
            entry.Ready.AddRange(workload.ReadyAddresses());
            snapshot.Workloads.Add(entry);
        }

        return snapshot;
    }

    /// <summary>One interceptor's stream: the snapshots still to send (only the newest matters) and what it confirmed.</summary>
    internal sealed class Subscriber(string peer)
    {
        private readonly Lock _gate = new();
        private readonly List<(ulong Version, TaskCompletionSource Done)> _waiters = [];
        private ulong _applied;
        private bool _gone;

        public string Peer { get; } = peer;

        /// <summary>Snapshots to write; a newer one replaces one not yet written.</summary>
        public Channel<ReplicaSnapshot> Outbox { get; } = Channel.CreateBounded<ReplicaSnapshot>(new BoundedChannelOptions(1)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });

        public void Offer(ReplicaSnapshot snapshot) => Outbox.Writer.TryWrite(snapshot);

        public void Applied(ulong version)
        {
            List<TaskCompletionSource>? done = null;
            lock (_gate)
            {
                if (version <= _applied)
                {
                    return;
                }

                _applied = version;
                for (var i = _waiters.Count - 1; i >= 0; i--)
                {
                    if (_waiters[i].Version <= version)
                    {
                        (done ??= []).Add(_waiters[i].Done);
                        _waiters.RemoveAt(i);
                    }
                }
            }

            done?.ForEach(static d => d.TrySetResult());
        }

        public Task AppliedAsync(ulong version)
        {
            lock (_gate)
            {
                if (_gone || _applied >= version)
                {
                    return Task.CompletedTask;
                }

                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((version, done));
                return done.Task;
            }
        }

        public void Left()
        {
            List<(ulong, TaskCompletionSource Done)> waiters;
            lock (_gate)
            {
                _gone = true;
                waiters = [.. _waiters];
                _waiters.Clear();
            }

            Outbox.Writer.TryComplete();
            waiters.ForEach(static w => w.Done.TrySetResult());
        }
    }
}
