using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Updraft.Operator.Reconciling;
using Updraft.Operator.Telemetry;
using Updraft.Operator.Tests.Infrastructure;

namespace Updraft.Operator.Tests.Reconciling;

/// <summary>
/// <see cref="Controller"/> with a scripted reconciler on a fake clock. Timing is asserted on fake time only: "not
/// retried before the delay" uses one worker and a probe key enqueued after advancing to just before the delay; the
/// queue is FIFO, so a retry that had fired would run before the probe.
/// </summary>
public sealed class ControllerTests : IAsyncLifetime
{
    private const string Name = "fake";
    private static readonly TimeSpan Bounded = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan Resync = TimeSpan.FromHours(10);

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
    private readonly OperatorMetrics _metrics = new();
    private readonly FakeReconciler _reconciler;
    private readonly CancellationTokenSource _stop = new();
    private Controller? _controller;
    private Task? _run;

    public ControllerTests()
    {
        _reconciler = new FakeReconciler(_time);
    }

    [Fact]
    public async Task ReconcileAsync_KeyKeepsFailing_RetriesAfter50ms100ms200msDoublingUpToMaxBackoff()
    {
        _reconciler.Script("ns/a", _ => throw new InvalidOperationException("boom"));
        Start(workers: 1);

        _controller!.Enqueue("ns/a");
        await WaitForCallsAsync("ns/a", 1);

        var expected = new List<TimeSpan>();
        for (var delay = Controller.MinBackoff; expected.Count < 15; delay *= 2)
        {
            expected.Add(delay < Controller.MaxBackoff ? delay : Controller.MaxBackoff);
        }

        Assert.Equal(TimeSpan.FromMilliseconds(50), expected[0]);
        Assert.Equal(TimeSpan.FromMilliseconds(100), expected[1]);
        Assert.Equal(TimeSpan.FromMilliseconds(200), expected[2]);
        Assert.Equal(TimeSpan.FromMilliseconds(400), expected[3]);
        Assert.Equal(Controller.MaxBackoff, expected[^1]);
        Assert.Equal(Controller.MaxBackoff, expected[^2]);
        foreach (var delay in expected)
        {
            await AssertRetriedAfterAsync("ns/a", delay);
        }
    }

    [Fact]
    public async Task ReconcileAsync_SuccessAfterFailures_ResetsTheBackoff()
    {
        _reconciler.Script("ns/a", call => call is <= 3 or 5 ? throw new InvalidOperationException("boom " + call) : ReconcileResult.Done);
        Start(workers: 1);

        _controller!.Enqueue("ns/a");
        await WaitForCallsAsync("ns/a", 1);
        await AssertRetriedAfterAsync("ns/a", TimeSpan.FromMilliseconds(50));
        await AssertRetriedAfterAsync("ns/a", TimeSpan.FromMilliseconds(100));
        await AssertRetriedAfterAsync("ns/a", TimeSpan.FromMilliseconds(200));

        // Call 4 succeeded: nothing is scheduled any more.
        await WaitForIdleAsync();
        Assert.Equal(0, _controller.Queue.Depth);

        _controller.Enqueue("ns/a");
        await WaitForCallsAsync("ns/a", 5);
        await AssertRetriedAfterAsync("ns/a", TimeSpan.FromMilliseconds(50));
        Assert.Equal(6, _reconciler.Calls("ns/a").Count);
    }

    [Fact]
    public async Task ReconcileAsync_FailuresOfOneKey_DoNotGrowTheBackoffOfAnother()
    {
        _reconciler.Script("ns/a", _ => throw new InvalidOperationException("a"));
        _reconciler.Script("ns/b", call => call == 1 ? throw new InvalidOperationException("b") : ReconcileResult.Done);
        Start(workers: 1);

        _controller!.Enqueue("ns/a");
        await WaitForCallsAsync("ns/a", 1);
        await AssertRetriedAfterAsync("ns/a", TimeSpan.FromMilliseconds(50));
        await AssertRetriedAfterAsync("ns/a", TimeSpan.FromMilliseconds(100));

        // a now waits 200 ms; b fails for the first time and must wait 50 ms only.
        _controller.Enqueue("ns/b");
        await WaitForCallsAsync("ns/b", 1);
        await WaitForSettledAsync(depth: 2);
        var failedAt = _reconciler.Calls("ns/b")[0];
        _time.Advance(TimeSpan.FromMilliseconds(50));
        await WaitForCallsAsync("ns/b", 2);
        Assert.Equal(failedAt + TimeSpan.FromMilliseconds(50), _reconciler.Calls("ns/b")[1]);
        Assert.Equal(3, _reconciler.Calls("ns/a").Count);
    }

    [Fact]
    public async Task Enqueue_RepeatedlyDuringASlowReconcile_NeverRunsTheKeyTwiceAtOnceAndRunsItOnceMore()
    {
        var firstA = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var firstB = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _reconciler.Script("ns/a", async (call, token) =>
        {
            if (call == 1)
            {
                await firstA.Task.WaitAsync(token);
            }

            return ReconcileResult.Done;
        });
        _reconciler.Script("ns/b", async (call, token) =>
        {
            if (call == 1)
            {
                await firstB.Task.WaitAsync(token);
            }

            return ReconcileResult.Done;
        });
        Start(workers: 4);

        _controller!.Enqueue("ns/a");
        await WaitForCallsAsync("ns/a", 1);
        for (var i = 0; i < 10; i++)
        {
            _controller.Enqueue("ns/a");
        }

        // Other keys still run while a is stuck: b starts with a in flight.
        _controller.Enqueue("ns/b");
        await WaitForCallsAsync("ns/b", 1);
        Assert.Equal(2, _controller.Queue.InFlight);
        Assert.Equal(2, _reconciler.MaxConcurrent);
        Assert.Single(_reconciler.Calls("ns/a"));

        firstA.SetResult();
        await WaitForCallsAsync("ns/a", 2);
        firstB.SetResult();
        await WaitForIdleAsync();

        Assert.Equal(2, _reconciler.Calls("ns/a").Count);
        Assert.Single(_reconciler.Calls("ns/b"));
        Assert.Equal(1, _reconciler.MaxConcurrentFor("ns/a"));
        Assert.Equal(0, _controller.Queue.Depth);
    }

    [Fact]
    public async Task RunAsync_SeveralSlowKeys_RunInParallelUpToTheWorkerCount()
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        string[] keys = ["ns/a", "ns/b", "ns/c", "ns/d"];
        foreach (var key in keys)
        {
            _reconciler.Script(key, async (_, token) =>
            {
                await release.Task.WaitAsync(token);
                return ReconcileResult.Done;
            });
        }

        Start(workers: 3);
        foreach (var key in keys)
        {
            _controller!.Enqueue(key);
        }

        // Three workers, four slow keys: three run at once and the fourth waits for a free worker.
        await Eventually.TrueAsync(() => _reconciler.TotalCalls == 3, () => $"{_reconciler.TotalCalls} reconciles started", Bounded);
        Assert.Equal(3, _controller!.Queue.InFlight);
        Assert.Equal(1, _controller.Queue.Depth);
        Assert.Equal(3.0, Metric(await ScrapeAsync(), $"controller_runtime_active_workers{{controller=\"{Name}\"}}"));
        Assert.Equal(3, _reconciler.TotalCalls);

        release.SetResult();
        await WaitForIdleAsync();

        Assert.Equal(4, _reconciler.TotalCalls);
        Assert.Equal(3, _reconciler.MaxConcurrent);
        Assert.Equal(0.0, Metric(await ScrapeAsync(), $"controller_runtime_active_workers{{controller=\"{Name}\"}}"));
    }

    [Fact]
    public async Task ReconcileAsync_RequeueAfter_RunsTheKeyAgainAfterThatDelay()
    {
        var after = TimeSpan.FromSeconds(30);
        _reconciler.Script("ns/a", call => call == 1 ? new ReconcileResult(after) : ReconcileResult.Done);
        Start(workers: 1);

        _controller!.Enqueue("ns/a");
        await WaitForCallsAsync("ns/a", 1);
        await AssertRetriedAfterAsync("ns/a", after);
        await WaitForIdleAsync();

        Assert.Equal(2, _reconciler.Calls("ns/a").Count);
        Assert.Equal(0, _controller.Queue.Depth);
        var metrics = await ScrapeAsync();
        Assert.Equal(1.0, Metric(metrics, $"controller_runtime_reconcile_total{{controller=\"{Name}\",result=\"requeue_after\"}}"));
        // The second run of a, and the probe.
        Assert.Equal(2.0, Metric(metrics, $"controller_runtime_reconcile_total{{controller=\"{Name}\",result=\"success\"}}"));
    }

    [Fact]
    public async Task RunAsync_Started_ReconcilesEveryKeyAndAgainEachResyncPeriod()
    {
        _reconciler.KeysToList = ["ns/a", "ns/b"];
        Start(workers: 2);

        var started = _time.GetUtcNow();
        await WaitForCallsAsync("ns/a", 1);
        await WaitForCallsAsync("ns/b", 1);
        await WaitForIdleAsync();

        _time.Advance(Resync);

        await WaitForCallsAsync("ns/a", 2);
        await WaitForCallsAsync("ns/b", 2);
        Assert.Equal(started + Resync, _reconciler.Calls("ns/a")[1]);
        Assert.Equal(started + Resync, _reconciler.Calls("ns/b")[1]);
    }

    [Fact]
    public async Task RunAsync_TokenCancelled_StopsWorkersAndDropsPendingRetries()
    {
        _reconciler.Script("ns/a", _ => throw new InvalidOperationException("boom"));
        Start(workers: 2);
        _controller!.Enqueue("ns/a");
        await WaitForCallsAsync("ns/a", 1);
        await WaitForSettledAsync(depth: 1);

        await _stop.CancelAsync();
        await _run!.WaitAsync(Bounded);

        Assert.True(_run.IsCompletedSuccessfully);
        Assert.Equal(0, _controller.Queue.Depth);
        _time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(0, _controller.Queue.Depth);
        Assert.Single(_reconciler.Calls("ns/a"));
    }

    [Fact]
    public async Task RunAsync_TokenCancelledDuringAReconcile_EndsItWithoutCountingAnError()
    {
        _reconciler.Script("ns/a", async (_, token) =>
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, token);
            return ReconcileResult.Done;
        });
        Start(workers: 2);
        _controller!.Enqueue("ns/a");
        await WaitForCallsAsync("ns/a", 1);

        await _stop.CancelAsync();
        await _run!.WaitAsync(Bounded);

        Assert.True(_run.IsCompletedSuccessfully);
        Assert.Equal(0, _controller.Queue.InFlight);
        Assert.Equal(0, _controller.Queue.Depth);
        var metrics = await ScrapeAsync();
        Assert.Equal(0.0, Metric(metrics, $"controller_runtime_reconcile_errors_total{{controller=\"{Name}\"}}"));
        Assert.Equal(0.0, Metric(metrics, $"controller_runtime_active_workers{{controller=\"{Name}\"}}"));
    }

    [Fact]
    public async Task Enqueue_WhileNotRunning_IsDropped()
    {
        _controller = new Controller(_reconciler, 1, Resync, _metrics, _time, NullLogger.Instance);

        _controller.Enqueue("ns/a");
        _controller.EnqueueAll();

        Assert.Equal(0, _controller.Queue.Depth);

        // And after a run has ended.
        Start(workers: 1);
        _controller.Enqueue("ns/b");
        await WaitForCallsAsync("ns/b", 1);
        await _stop.CancelAsync();
        await _run!.WaitAsync(Bounded);
        _controller.Enqueue("ns/a");
        Assert.Equal(0, _controller.Queue.Depth);
        Assert.Empty(_reconciler.Calls("ns/a"));
    }

    [Fact]
    public async Task Reconciled_MixedResults_CountedInControllerRuntimeMetrics()
    {
        _reconciler.Script("ns/ok", _ => ReconcileResult.Done);
        _reconciler.Script("ns/later", _ => new ReconcileResult(TimeSpan.FromMinutes(5)));
        _reconciler.Script("ns/bad", _ => throw new InvalidOperationException("boom"));
        Start(workers: 2);

        var before = await ScrapeAsync();
        Assert.Equal(0.0, Metric(before, $"controller_runtime_reconcile_total{{controller=\"{Name}\",result=\"success\"}}"));
        Assert.Equal(0.0, Metric(before, $"controller_runtime_reconcile_errors_total{{controller=\"{Name}\"}}"));

        _controller!.Enqueue("ns/ok");
        _controller.Enqueue("ns/later");
        _controller.Enqueue("ns/bad");
        await WaitForCallsAsync("ns/bad", 1);
        await WaitForCallsAsync("ns/later", 1);
        await WaitForCallsAsync("ns/ok", 1);
        await WaitForSettledAsync(depth: 2);
        await AssertRetriedAfterAsync("ns/bad", TimeSpan.FromMilliseconds(50), probe: false, settledDepth: 2);
        await WaitForSettledAsync(depth: 2);

        var metrics = await ScrapeAsync();
        Assert.Equal(1.0, Metric(metrics, $"controller_runtime_reconcile_total{{controller=\"{Name}\",result=\"success\"}}"));
        Assert.Equal(1.0, Metric(metrics, $"controller_runtime_reconcile_total{{controller=\"{Name}\",result=\"requeue_after\"}}"));
        Assert.Equal(2.0, Metric(metrics, $"controller_runtime_reconcile_total{{controller=\"{Name}\",result=\"error\"}}"));
        Assert.Equal(2.0, Metric(metrics, $"controller_runtime_reconcile_errors_total{{controller=\"{Name}\"}}"));
        Assert.Equal(4.0, Metric(metrics, $"controller_runtime_reconcile_time_seconds_count{{controller=\"{Name}\"}}"));
        Assert.Equal(0.0, Metric(metrics, $"controller_runtime_active_workers{{controller=\"{Name}\"}}"));
        Assert.Equal(2.0, Metric(metrics, $"workqueue_depth{{name=\"{Name}\"}}"));
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_run is not null)
        {
            await _run.WaitAsync(Bounded);
        }

        _controller?.Dispose();
        _stop.Dispose();
    }

    private void Start(int workers)
    {
        _controller ??= new Controller(_reconciler, workers, Resync, _metrics, _time, NullLogger.Instance);
        _run = _controller.RunAsync(_stop.Token);
    }

    /// <summary>
    /// After the key's last call (already observed), asserts that it is not run again before <paramref name="delay"/>
    /// has passed on the fake clock and is run again exactly when it has.
    /// </summary>
    /// <param name="settledDepth">Keys waiting once the last call has ended (the key itself, scheduled, included).</param>
    private async Task AssertRetriedAfterAsync(string key, TimeSpan delay, bool probe = true, int settledDepth = 1)
    {
        var calls = _reconciler.Calls(key);
        var last = calls[^1];
        await WaitForSettledAsync(settledDepth);
        Assert.Equal(last, _time.GetUtcNow());

        _time.Advance(delay - TimeSpan.FromMilliseconds(1));
        if (probe)
        {
            // One worker, FIFO: had the retry fired, it would run before the probe.
            var probes = _reconciler.Calls("ns/probe").Count;
            _controller!.Enqueue("ns/probe");
            await WaitForCallsAsync("ns/probe", probes + 1);
            await WaitForSettledAsync(settledDepth);
            Assert.True(calls.Count == _reconciler.Calls(key).Count, $"{key} was run again before {delay}");
        }

        _time.Advance(TimeSpan.FromMilliseconds(1));
        await WaitForCallsAsync(key, calls.Count + 1);
        Assert.Equal(last + delay, _reconciler.Calls(key)[calls.Count]);
    }

    private Task WaitForCallsAsync(string key, int count) => Eventually.TrueAsync(
        () => _reconciler.Calls(key).Count >= count,
        () => $"{key} reconciled {count} times (so far {_reconciler.Calls(key).Count})",
        Bounded);

    /// <summary>Nothing runs and <paramref name="depth"/> keys wait (a failed or requeued key is scheduled before it is done).</summary>
    private Task WaitForSettledAsync(int depth) => Eventually.TrueAsync(
        () => _controller!.Queue.InFlight == 0 && _controller.Queue.Depth == depth,
        () => $"{depth} queued and none running (now {_controller!.Queue.Depth} queued, {_controller.Queue.InFlight} running)",
        Bounded);

    private Task WaitForIdleAsync() => WaitForSettledAsync(depth: 0);

    private async Task<Dictionary<string, double>> ScrapeAsync()
    {
        using var stream = new MemoryStream();
        await _metrics.Registry.CollectAndExportAsTextAsync(stream);
        var series = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var line in Encoding.UTF8.GetString(stream.ToArray()).Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            var space = line.LastIndexOf(' ');
            series[line[..space]] = double.Parse(line[(space + 1)..], CultureInfo.InvariantCulture);
        }

        return series;
    }

    private static double Metric(Dictionary<string, double> series, string name)
    {
        Assert.True(series.TryGetValue(name, out var value), $"{name} is not exported; exported: {string.Join(", ", series.Keys)}");
        return value;
    }

    /// <summary>Records each call's fake time and concurrency; what each key does per call (1-based) is scripted.</summary>
    private sealed class FakeReconciler(TimeProvider time) : IReconciler
    {
        private readonly Lock _lock = new();
        private readonly Dictionary<string, List<DateTimeOffset>> _calls = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _active = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _maxActive = new(StringComparer.Ordinal);
        private readonly Dictionary<string, Func<int, CancellationToken, Task<ReconcileResult>>> _scripts = new(StringComparer.Ordinal);
        private int _running;
        private int _maxRunning;
        private int _total;

        public string Name => ControllerTests.Name;

        public IReadOnlyList<string> KeysToList { get; set; } = [];

        public int MaxConcurrent => Volatile.Read(ref _maxRunning);

        public int TotalCalls => Volatile.Read(ref _total);

        public void Script(string key, Func<int, ReconcileResult> behaviour) =>
            Script(key, (call, _) => Task.FromResult(behaviour(call)));

        public void Script(string key, Func<int, CancellationToken, Task<ReconcileResult>> behaviour)
        {
            lock (_lock)
            {
                _scripts[key] = behaviour;
            }
        }

        public List<DateTimeOffset> Calls(string key)
        {
            lock (_lock)
            {
                return _calls.TryGetValue(key, out var calls) ? [.. calls] : [];
            }
        }

        public int MaxConcurrentFor(string key)
        {
            lock (_lock)
            {
                return _maxActive.GetValueOrDefault(key);
            }
        }

        public IEnumerable<string> Keys() => KeysToList;

        public async Task<ReconcileResult> ReconcileAsync(string key, CancellationToken cancellationToken)
        {
            int call;
            Func<int, CancellationToken, Task<ReconcileResult>>? script;
            lock (_lock)
            {
                if (!_calls.TryGetValue(key, out var calls))
                {
                    _calls[key] = calls = [];
                }

                calls.Add(time.GetUtcNow());
                call = calls.Count;
                _active[key] = _active.GetValueOrDefault(key) + 1;
                _maxActive[key] = Math.Max(_maxActive.GetValueOrDefault(key), _active[key]);
                _maxRunning = Math.Max(_maxRunning, ++_running);
                _total++;
                _scripts.TryGetValue(key, out script);
            }

            try
            {
                await Task.Yield();
                return script is null ? ReconcileResult.Done : await script(call, cancellationToken);
            }
            finally
            {
                lock (_lock)
                {
                    _active[key]--;
                    _running--;
                }
            }
        }
    }
}
